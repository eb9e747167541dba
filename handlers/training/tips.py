"""Skill tips as data: `templates/<locale>/training/tips.yaml`, a list of {id, skill, text,
region?}; the same id in each language is the same tip. Period n of LIAISON_TIP_EVERY gets
skill n mod 4 (the handbook's four, in order) and, within that skill, its tips in turn.
A plan naming a foreign audience or partner country gets that region's cross-cultural tips."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.render import LOCALES, templates_root
from handlers.training.models import SKILLS


def tips_path(locale: str) -> Path:
    return templates_root() / locale / "training" / "tips.yaml"


@lru_cache(maxsize=8)
def _read(path: Path, stamp: float) -> tuple[dict[str, Any], ...]:
    return tuple(yaml.safe_load(path.read_text(encoding="utf-8")) or ())


def tips(locale: str) -> tuple[dict[str, Any], ...]:
    """Read once, and again when the file changes (after `liaison training tips import`)."""
    path = tips_path(locale)
    return _read(path, path.stat().st_mtime)


def tip_for(period: int) -> dict[str, Any]:
    """The tip of a period: {skill, id, region, text: {locale: text}}."""
    skill = SKILLS[period % len(SKILLS)]
    of_skill = [t for t in tips(LOCALES[0]) if t["skill"] == skill]
    return _both(of_skill[(period // len(SKILLS)) % len(of_skill)])


# How people name the countries and regions the cross-cultural tips are tagged with. ASCII
# names match as whole words (so `US` is not found in `USB`); Chinese ones anywhere.
REGION_NAMES = {
    "JP": ("日本", "日方", "Japan", "Japanese"),
    "US": ("美国", "美方", "USA", "US", "U.S.", "American", "America"),
    "DE": ("德国", "德方", "Germany", "German"),
    "MENA": ("中东", "沙特", "阿联酋", "迪拜", "卡塔尔", "埃及", "Saudi", "UAE", "Dubai", "Qatar",
             "Egypt", "Middle East"),
    "EU": ("欧盟", "欧洲", "EU", "Europe", "European"),
    "KR": ("韩国", "韩方", "Korea", "Korean"),
    "GB": ("英国", "英方", "UK", "Britain", "British", "England"),
    "FR": ("法国", "法方", "France", "French"),
    "IN": ("印度", "India", "Indian"),
    "BR": ("巴西", "Brazil", "Brazilian"),
    "SEA": ("东南亚", "泰国", "印尼", "越南", "马来西亚", "新加坡", "菲律宾", "Thailand",
            "Indonesia", "Vietnam", "Malaysia", "Singapore", "Philippines", "Southeast Asia"),
}


def _pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    parts = [re.escape(n) if not n.isascii() else rf"(?<![A-Za-z]){re.escape(n)}(?![A-Za-z])"
             for n in names]
    return re.compile("|".join(parts))


REGION_PATTERNS = {code: _pattern(names) for code, names in REGION_NAMES.items()}


def regions_in(*texts: str) -> list[str]:
    """The regions a plan's words name, in the order of REGION_NAMES."""
    text = unicodedata.normalize("NFKC", " ".join(texts))
    return [code for code, pattern in REGION_PATTERNS.items() if pattern.search(text)]


def cultural_notes(*texts: str, limit: int = 2) -> list[dict[str, Any]]:
    """One or two cross-cultural tips for the countries the words name, as tip_for gives."""
    notes = []
    for code in regions_in(*texts):
        for tip in tips(LOCALES[0]):
            if tip.get("region") == code and len(notes) < limit:
                notes.append(_both(tip))
    return notes


def _both(chosen: dict[str, Any]) -> dict[str, Any]:
    texts = {}
    for locale in LOCALES:
        same = next((t for t in tips(locale) if t["id"] == chosen["id"]), chosen)
        texts[locale] = same["text"]
    return {"skill": chosen["skill"], "id": chosen["id"], "region": chosen.get("region", ""),
            "text": texts}
