"""Skill tips as data: `templates/<locale>/training/tips.yaml`, a list of {id, skill, text,
region?}; the same id in each language is the same tip. Period n of LIAISON_TIP_EVERY gets
skill n mod 4 (the handbook's four, in order) and, within that skill, its tips in turn."""

from __future__ import annotations

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
    chosen = of_skill[(period // len(SKILLS)) % len(of_skill)]
    texts = {}
    for locale in LOCALES:
        same = next((t for t in tips(locale) if t["id"] == chosen["id"]), chosen)
        texts[locale] = same["text"]
    return {"skill": skill, "id": chosen["id"], "region": chosen.get("region", ""),
            "text": texts}
