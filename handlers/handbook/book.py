"""The handbook as data: `templates/zh/handbook.md` (or the company's own edition, named by
LIAISON_HANDBOOK), read into numbered parts, and found by number or by words.

The file is Markdown: `# title`, `## 一、section`, `### (一)subsection`, then the text. Parts are
numbered as the reader counts them: section 三 is `3`, its (二) is `3.2`. English readers get
a summary per part from `templates/en/handbook/summaries.yaml` (keyed by the same numbers),
which a company replacing the handbook replaces with it.

Words are matched as talking points match them (`terms_of`: NFKC, case folded, every word
must occur), over the part's heading, text and English title and summary."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bot.render import templates_root
from handlers.talking_points.models import fold
from handlers.talking_points.search import terms_of

DIGITS = "一二三四五六七八九"
# Ranking per query word: in the heading 8, else once per occurrence in the text (at most 5).
W_HEADING, MAX_COUNT = 8, 5
NUMBER = re.compile(r"^(\d{1,2})(?:[.．](\d{1,2}))?$")
_NUMERAL = "([一二三四五六七八九十]{1,3})"
CHINESE = re.compile(rf"^{_NUMERAL}、?(?:[((]{_NUMERAL}[))])?$")


@dataclass(frozen=True)
class Part:
    number: str  # "3" for a section, "3.2" for its second subsection
    heading: str  # as the handbook writes it: "三、常见外部关系沟通场景"
    lines: tuple[str, ...]  # its own text (a section's: the lines before its first subsection)
    title_en: str = ""
    summary_en: str = ""

    @property
    def is_section(self) -> bool:
        return "." not in self.number

    def as_values(self) -> dict[str, object]:
        return {"number": self.number, "heading": self.heading, "lines": list(self.lines),
                "title_en": self.title_en, "summary_en": self.summary_en}


@dataclass(frozen=True)
class Handbook:
    title: str
    parts: tuple[Part, ...]

    def get(self, number: str) -> Part | None:
        return next((p for p in self.parts if p.number == number), None)

    def sections(self) -> list[Part]:
        return [p for p in self.parts if p.is_section]

    def children(self, section: Part) -> list[Part]:
        return [p for p in self.parts if p.number.startswith(section.number + ".")]

    def search(self, query: str) -> list[Part]:
        """The parts holding every word of the query, best first."""
        terms = terms_of(query)
        if not terms:
            return []
        scored = []
        for order, part in enumerate(self.parts):
            heading = fold(f"{part.heading} {part.title_en}")
            text = fold(" ".join((*part.lines, part.summary_en)))
            score = 0
            for term in terms:
                if term in heading:
                    score += W_HEADING
                elif term in text:
                    score += min(text.count(term), MAX_COUNT)
                else:
                    break
            else:
                scored.append((-score, order, part))
        return [part for _, _, part in sorted(scored, key=lambda s: (s[0], s[1]))]


def chinese_number(word: str) -> int:
    """一 .. 九十九, as section numbers are written."""
    if "十" not in word:
        return DIGITS.index(word) + 1 if len(word) == 1 else 0
    tens, _, ones = word.partition("十")
    if len(tens) > 1 or len(ones) > 1:
        return 0
    return ((DIGITS.index(tens) + 1) if tens else 1) * 10 + (
        (DIGITS.index(ones) + 1) if ones else 0)


def number_of(query: str) -> str | None:
    """`3`, `3.2`, `三`, `三、`, `三(二)` -> the part number; None for words."""
    query = query.strip()
    if match := NUMBER.match(query):
        major, minor = match.groups()
        return f"{int(major)}.{int(minor)}" if minor else str(int(major))
    if match := CHINESE.match(query):
        major, minor = (chinese_number(g) if g else None for g in match.groups())
        if not major or minor == 0:
            return None
        return f"{major}.{minor}" if minor else str(major)
    return None


def parse(text: str, summaries: dict[str, dict[str, str]] | None = None) -> Handbook:
    summaries = summaries or {}
    title = ""
    heads: list[tuple[str, str]] = []
    bodies: list[list[str]] = []
    section = subsection = 0
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("### ") and section:
            subsection += 1
            heads.append((f"{section}.{subsection}", line[4:].strip()))
            bodies.append([])
        elif line.startswith("## "):
            section, subsection = section + 1, 0
            heads.append((str(section), line[3:].strip()))
            bodies.append([])
        elif line.startswith("# ") and not title:
            title = line[2:].strip()
        elif line and bodies:
            bodies[-1].append(line)
    parts = []
    for (number, heading), body in zip(heads, bodies, strict=True):
        english = summaries.get(number) or {}
        parts.append(Part(number, heading, tuple(body), str(english.get("title", "")),
                          str(english.get("summary", ""))))
    return Handbook(title, tuple(parts))


def default_path() -> Path:
    return templates_root() / "zh" / "handbook.md"


def summaries_path() -> Path:
    return templates_root() / "en" / "handbook" / "summaries.yaml"


@lru_cache(maxsize=4)
def _load(path: Path, summaries: Path, stamp: tuple[float, float]) -> Handbook:
    import yaml  # on first use, not at start-up

    english = yaml.safe_load(summaries.read_text(encoding="utf-8")) if summaries.exists() else {}
    return parse(path.read_text(encoding="utf-8"), {str(k): v for k, v in (english or {}).items()})


def load(path: Path | None = None, summaries: Path | None = None) -> Handbook:
    """Read once, and again when either file changes (a company edits its edition)."""
    path, summaries = path or default_path(), summaries or summaries_path()
    stamp = (path.stat().st_mtime, summaries.stat().st_mtime if summaries.exists() else 0.0)
    return _load(path, summaries, stamp)
