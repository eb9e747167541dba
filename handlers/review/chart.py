"""The review's chart: the 8-week trend of complaints received (bars) with the share answered
in time (a line), and the distribution of first response times, as one PNG of CHART_SIZE
pixels, drawn by matplotlib's Agg backend (no display needed).

Chinese labels need a CJK font: the project's set-up installs Debian's fonts-noto-cjk
(`make run` and `make test`, and the Dockerfile); without one the chart is still drawn, with
a warning in the log, and Chinese shows as boxes.
"""

from __future__ import annotations

import io
import logging
import threading
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

log = logging.getLogger(__name__)

WIDTH_IN, HEIGHT_IN, DPI = 10, 4, 100
CHART_SIZE = (WIDTH_IN * DPI, HEIGHT_IN * DPI)  # (1000, 400) pixels
# Where Debian's fonts-noto-cjk (and the WenQuanYi fonts, on older systems) put their files.
CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
_lock = threading.Lock()  # pyplot keeps global state; one chart at a time
_font: list[str] = []


def cjk_font() -> str | None:
    """The family name of an installed CJK font, registered with matplotlib, or None."""
    from matplotlib import font_manager

    if _font:
        return _font[0] or None
    for path in CJK_FONTS:
        if Path(path).exists():
            font_manager.fontManager.addfont(path)
            name = font_manager.FontProperties(fname=path).get_name()
            _font.append(name)
            return name
    log.warning("no CJK font found (install fonts-noto-cjk): Chinese in charts shows as boxes")
    _font.append("")
    return None


def render(trend: Any, buckets: list[int], words: dict[str, str]) -> bytes:  # noqa: ANN401
    """The PNG. `words`: the chart's labels in the reader's language. A chart is drawn once
    per distinct content in a process (half a second of CPU each): the weekly review posted
    to several channels of one team, or asked for again, reuses it."""
    return _render(tuple(trend.weeks), tuple(trend.received), tuple(trend.in_time_pct),
                   tuple(buckets), tuple(sorted(words.items())))


@lru_cache(maxsize=32)  # PNGs of about 30 kB
def _render(weeks: tuple, received: tuple, in_time_pct: tuple, buckets: tuple,
            words_items: tuple) -> bytes:
    trend = SimpleNamespace(weeks=weeks, received=received, in_time_pct=in_time_pct)
    words = dict(words_items)
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    with _lock:
        family = cjk_font()
        rc = {"font.family": [family, "DejaVu Sans"] if family else ["DejaVu Sans"],
              "axes.unicode_minus": False}
        with matplotlib.rc_context(rc):
            fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
            left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
            labels = [d.strftime("%m-%d") for d in trend.weeks]
            left.bar(labels, trend.received, color="#1f3a5f", label=words["received"])
            left.set_title(words["trend"])
            left.set_ylabel(words["count"])
            left.tick_params(axis="x", labelsize=8)
            share = left.twinx()
            share.set_ylim(0, 105)
            points = [(x, y) for x, y in zip(labels, trend.in_time_pct, strict=True)
                      if y is not None]
            if points:
                xs, ys = zip(*points, strict=True)
                share.plot(xs, ys, color="#d97706", marker="o", label=words["in_time"])
            share.set_ylabel(words["in_time"])
            names = ["<1", "1–4", "4–8", "8–24", "≥24"]
            right.bar(names, buckets, color="#4b8bbe")
            right.set_title(words["distribution"])
            right.set_xlabel(words["hours"])
            right.set_ylabel(words["count"])
            fig.tight_layout()
            out = io.BytesIO()
            fig.savefig(out, format="png", dpi=DPI)
    return out.getvalue()
