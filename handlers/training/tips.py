"""Skill tips as data: `templates/<locale>/training/tips.yaml`, a list of {id, skill, text,
region?}; the same id in each language is the same tip. Period n of LIAISON_TIP_EVERY gets
skill n mod 4 (the handbook's four, in order) and, within that skill, its tips in turn.
A plan naming a foreign audience or partner country gets that region's cross-cultural tips."""

from __future__ import annotations

import re
import sys
import unicodedata
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

from bot.render import LOCALES, templates_root
from handlers.training.models import SKILLS


def tips_path(locale: str) -> Path:
    return templates_root() / locale / "training" / "tips.yaml"


@lru_cache(maxsize=8)
def _read(path: Path, stamp: float) -> tuple[dict[str, Any], ...]:
    import yaml  # on first use, not at start-up

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


@lru_cache(maxsize=1)
def _region_patterns() -> dict[str, re.Pattern[str]]:
    # compiled on first use: a dozen long patterns, not worth compiling at start-up
    return {code: _pattern(names) for code, names in REGION_NAMES.items()}


def regions_in(*texts: str) -> list[str]:
    """The regions a plan's words name, in the order of REGION_NAMES."""
    text = unicodedata.normalize("NFKC", " ".join(texts))
    return [code for code, pattern in _region_patterns().items() if pattern.search(text)]


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


# -- `liaison training tips import FILE --locale zh|en` ---------------------------------------

TEXT_MAX = 500


def problems(data: Any) -> list[str]:  # noqa: ANN401 (whatever the YAML held)
    """What is wrong with a tips file, entry by entry (1-based); empty when it is good."""
    if not isinstance(data, list) or not data:
        return ["the file must be a YAML list of tips (id, skill, text, optional region)"]
    found, seen = [], set()
    for n, tip in enumerate(data, 1):
        if not isinstance(tip, dict):
            found.append(f"tip {n}: not a mapping")
            continue
        ident, skill, text = tip.get("id"), tip.get("skill"), tip.get("text")
        region = tip.get("region")
        if not isinstance(ident, str) or not ident.strip():
            found.append(f"tip {n}: id missing")
        elif ident in seen:
            found.append(f"tip {n}: id {ident!r} used twice")
        seen.add(ident)
        if skill not in SKILLS:
            found.append(f"tip {n}: skill must be one of {', '.join(SKILLS)}")
        if not isinstance(text, str) or not text.strip() or len(text) > TEXT_MAX:
            found.append(f"tip {n}: text missing or longer than {TEXT_MAX} characters")
        if region is not None and (region not in REGION_NAMES or skill != "cross_cultural"):
            found.append(f"tip {n}: region must be one of {', '.join(REGION_NAMES)}, "
                         "on a cross_cultural tip")
    missing = [s for s in SKILLS if not any(isinstance(t, dict) and t.get("skill") == s
                                            for t in data)]
    if missing:
        found.append(f"no tip for: {', '.join(missing)}")
    return found


def import_tips(source: Path, locale: str, root: Path | None = None) -> Counter[str]:
    """Replace the tips of `locale` with a checked file, whole or not at all."""
    import yaml  # on first use, not at start-up

    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read {source}: {exc}") from None
    wrong = problems(data)
    if wrong:
        raise ValueError("\n".join(wrong))
    target = (root or templates_root()) / locale / "training" / "tips.yaml"
    partial = target.with_suffix(".yaml.new")
    partial.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                       encoding="utf-8")
    partial.replace(target)
    return Counter(t["skill"] for t in data)


def _run_cli(settings: Any, args: Any) -> int:  # noqa: ANN401
    if args.training_command != "tips" or args.tips_command != "import":
        return 2
    try:
        counts = import_tips(Path(args.file), args.locale)
    except ValueError as exc:
        print(f"not imported:\n{exc}", file=sys.stderr)
        return 1
    print(f"imported {sum(counts.values())} {args.locale} tips: "
          + ", ".join(f"{skill} {counts[skill]}" for skill in SKILLS))
    other = {t["id"] for t in tips(next(x for x in LOCALES if x != args.locale))}
    mine = {t["id"] for t in tips(args.locale)}
    if mine != other:
        print("note: the other language's file holds different ids; a tip without its "
              "translation is shown in the language it has", file=sys.stderr)
    return 0


def cli(sub: Any) -> None:  # noqa: ANN401 (argparse's sub-parsers)
    training = sub.add_parser("training", help="training: replace the skill tips",
                              description="The quarterly training and the weekly skill tips.")
    training_sub = training.add_subparsers(dest="training_command", metavar="TRAINING_COMMAND")
    tips_parser = training_sub.add_parser("tips", help="the weekly skill tips")
    tips_sub = tips_parser.add_subparsers(dest="tips_command", metavar="TIPS_COMMAND")
    imported = tips_sub.add_parser(
        "import", help="replace one language's tips with FILE (checked whole, all or nothing)",
        description="Replace templates/<locale>/training/tips.yaml with FILE: a YAML list of "
        "{id, skill, text, region?}; skill is one of " + ", ".join(SKILLS) + "; region (on "
        "cross_cultural tips) one of " + ", ".join(REGION_NAMES) + ". Use the same ids in "
        "both languages.")
    imported.add_argument("file", metavar="FILE")
    imported.add_argument("--locale", choices=LOCALES, required=True)
    imported.set_defaults(run=_run_cli)
