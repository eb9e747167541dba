"""The handbook's five principles (透明、一致、及时、专业、尊重) as a check on drafts.

`check(text)` returns hints, never a verdict: absolute or superlative claims and vague wording
that hides facts (透明性), emotional wording (专业性: 保持冷静,避免情绪化表达), and
discriminatory terms (尊重性), each naming the words it found; and, given a glossary's
(avoided form, preferred term) pairs, the avoided forms used (专业性: 使用准确术语). The
words are data: one YAML file per language in `data/`, read once; a phrase listed under
`allow` (第一季度) is never read as the listed word inside it (第一). This module knows
nothing of chat or storage, so any domain may run it on a draft before it is saved.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
LANGUAGES = ("zh", "en")
# Each list, in the order hints are shown, and the principle it serves.
PRINCIPLE_OF = {
    "absolute": "transparency",
    "vague": "transparency",
    "emotional": "professionalism",
    "discriminatory": "respect",
}
CATEGORIES = tuple(PRINCIPLE_OF)


@dataclass(frozen=True)
class Hint:
    category: str
    principle: str
    words: tuple[str, ...]
    preferred: str = ""  # with a glossary hint: the approved term

    def as_values(self) -> dict[str, Any]:
        return {"category": self.category, "principle": self.principle,
                "words": list(self.words), "preferred": self.preferred}


@dataclass(frozen=True)
class WordLists:
    words: dict[str, tuple[str, ...]]  # category -> words and phrases
    allow: tuple[str, ...] = ()

    @classmethod
    def of(cls, rows: Iterable[tuple[str, str]]) -> WordLists:
        """From (list name, word) pairs: `absolute`, ..., or `allow`."""
        words: dict[str, list[str]] = {c: [] for c in CATEGORIES}
        allow: list[str] = []
        for category, word in rows:
            (allow if category == "allow" else words.setdefault(category, [])).append(_fold(word))
        return cls({c: tuple(dict.fromkeys(ws)) for c, ws in words.items()},
                   tuple(dict.fromkeys(allow)))

    def rows(self) -> list[tuple[str, str]]:
        return [*((c, w) for c, ws in self.words.items() for w in ws),
                *(("allow", w) for w in self.allow)]

    def plus(self, other: WordLists) -> WordLists:
        return WordLists.of([*self.rows(), *other.rows()])

    @classmethod
    def read(cls, paths: Iterable[Path]) -> WordLists:
        """YAML files of lists: `absolute: [最佳, best]`, ..., `allow: [第一季度]`."""
        import yaml  # on first use, not at start-up

        rows: list[tuple[str, str]] = []
        for path in paths:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if not isinstance(data, dict):
                raise ValueError(f"{path.name}: expected lists by name, e.g. absolute: [最佳]")
            unknown = set(data) - {*CATEGORIES, "allow"}
            if unknown:
                raise ValueError(f"{path.name}: unknown lists {sorted(unknown)}; "
                                 f"use {', '.join((*CATEGORIES, 'allow'))}")
            for name, words in data.items():
                if not isinstance(words, list):
                    raise ValueError(f"{path.name}: {name} must be a list of words")
                rows += [(name, str(w)) for w in words if str(w).strip()]
        return cls.of(rows)


@lru_cache(maxsize=1)
def default_lists() -> WordLists:
    return WordLists.read(DATA / f"{lang}.yaml" for lang in LANGUAGES)


def check(text: str, lists: WordLists | None = None,
          glossary: Iterable[tuple[str, str]] = ()) -> list[Hint]:
    """The hints for `text` (any mix of Chinese and English): one per list that matched, with
    the words found, each once, in the order they appear; then one per preferred term of the
    glossary whose avoided forms the text uses."""
    lists = lists or default_lists()
    folded = _fold(text)
    for phrase in lists.allow:
        folded = folded.replace(phrase, " " * len(phrase))
    hints = []
    for category in CATEGORIES:
        found = sorted(((pos, word) for word in lists.words.get(category, ())
                        if (pos := _find(folded, word)) >= 0), key=lambda item: item[0])
        if found:
            hints.append(Hint(category, PRINCIPLE_OF[category],
                              tuple(dict.fromkeys(word for _, word in found))))
    avoided: dict[str, list[str]] = {}
    for avoid, preferred in glossary:
        if _find(folded, _fold(avoid)) >= 0:
            avoided.setdefault(preferred, []).append(avoid)
    hints += [Hint("glossary", "professionalism", tuple(words), preferred)
              for preferred, words in avoided.items()]
    return hints


def _fold(text: Any) -> str:  # noqa: ANN401
    # Full-width ％ and letters read as their ASCII forms; case does not matter.
    return unicodedata.normalize("NFKC", str(text)).casefold().strip()


def _find(text: str, word: str) -> int:
    """Where `word` first stands in `text`, or -1. Words with Latin letters match whole
    words only ("never" is not in "whenever"); Chinese has no spaces, so it matches inside."""
    if re.search(r"[a-z]", word):
        match = re.search(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])", text)
        return match.start() if match else -1
    return text.find(word)
