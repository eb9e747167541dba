"""CPU cost of rendering one reply (bot.render.Renderer.render), which every answer pays.

The replies are the ones the bot really returns, caught on their way to the renderer in an
app on a SQLite file: `/help` (cached by Reply.cache) and the same uncached, a complaint list of
20 rows, a reminder (complaints/due_soon, as the reminder kind builds it), a conversation
question (the test flow's `/visit new`) and a confirmation that echoes the answers. Each is
rendered for the console, Slack and DingTalk; the figure is CPU µs per render (best of
--repeats runs of --renders renders each). Beside them, the anchor: `str.format` of a short
sentence, the floor of any rendering.

    .venv/bin/python bench/render.py [--renders 2000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import _common  # noqa: F401  (puts the project on sys.path)
from _common import seed_complaints

from bot.db import upgrade
from tests.support import Chat, build_app

DIALECTS = (("console", True), ("slack", False), ("dingtalk", False))


def capture(tmp: Path) -> tuple[dict[str, tuple[Any, dict[str, Any]]], Any]:
    """name -> (Reply, the render call's keywords), from a short scripted session; and the
    renderer."""
    url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    app, _ = build_app(url, tmp)
    seed_complaints(app.db, 20, platform="console", reporter="admin", owner_of=lambda n: "admin")
    seen: list[tuple[Any, dict[str, Any]]] = []
    real = app.renderer.render

    def spy(reply, **kw):  # noqa: ANN001, ANN202
        seen.append((reply, kw))
        return real(reply, **kw)

    app.renderer.render = spy  # type: ignore[method-assign]
    chat = Chat(app, "admin")
    found: dict[str, tuple[Any, dict[str, Any]]] = {}

    def last(name: str, template: str, text: str) -> None:
        seen.clear()
        chat(text)
        found[name] = next(s for s in seen if s[0].template == template)

    last("help", "help/index", "/help")
    reply, kw = found["help"]
    found["help uncached"] = (replace(reply, cache=None), kw)
    last("complaint list", "complaints/list", "/complaint list")
    last("question", "test/who", "/visit new")
    for answer in ("ACME 公司", "2", "4", "我", "明天下午3点"):
        chat(answer)
    last("confirmation", "test/summary", "完成")
    app.renderer.render = real  # type: ignore[method-assign]

    from sqlalchemy import select

    from handlers.complaints.commands import due_soon
    from handlers.complaints.models import Complaint

    now = datetime.now(UTC)
    with app.db.session() as session:
        first = session.execute(
            select(Complaint).where(Complaint.status == "new").order_by(Complaint.seq).limit(1)
        ).scalar_one()
        reminder = SimpleNamespace(record_id=first.ref, payload={})
        reply = due_soon(session, reminder, now)
        reply.values.setdefault("late", False)  # as the sweeper adds it
        found["reminder"] = (reply, found["question"][1])
    return found, app.renderer


def per_render(fn, renders: int, repeats: int) -> float:  # noqa: ANN001
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time_ns()
        for _ in range(renders):
            fn()
        best = min(best, (time.process_time_ns() - start) / renders / 1000)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        found, renderer = capture(Path(tmp))
        anchor = per_render(
            lambda: "{n} replies to {who}".format(n=3, who="alice"), args.renders, args.repeats
        )
        print(f"anchor (str.format)            {anchor:8.2f} µs")
        print(f"{'reply':30} " + " ".join(f"{p:>10}" for p, _ in DIALECTS) + "   (CPU µs/render)")
        for name, (reply, kw) in found.items():
            row = []
            for platform, direct in DIALECTS:
                call = dict(kw, platform=platform, direct=direct)
                renderer.render(reply, **call)  # warm: templates compiled, labels read
                row.append(
                    per_render(
                        lambda r=reply, c=call: renderer.render(r, **c), args.renders, args.repeats
                    )
                )
            print(f"{name:30} " + " ".join(f"{v:10.2f}" for v in row))


if __name__ == "__main__":
    main()
