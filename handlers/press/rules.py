"""The rules of a press release, with no session or chat: the id format, the states, what a
headline, a contact and an asset link must look like, when legal review is suggested, who
must approve a version, and what changed between two versions."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from bot.records import RecordIds

IDS = RecordIds("P")  # C complaints, K communications, M meetings, A actions

# The handbook's 标题简洁有力: a headline over these gets a hint.
HEADLINE_HANZI, HEADLINE_WORDS = 30, 12

# What `/press edit ID field value` may change, in the order a release shows them.
FIELDS = ("headline", "background", "facts", "contact", "logo", "images", "planned", "legal")
FIELD_WORDS: dict[str, tuple[str, ...]] = {
    "headline": ("headline", "title", "标题"),
    "background": ("background", "背景"),
    "facts": ("facts", "fact", "事实"),
    "contact": ("contact", "联系方式", "联系人"),
    "logo": ("logo", "标志", "标识"),
    "images": ("images", "image", "图片", "高清图片"),
    "planned": ("planned", "embargo", "time", "发布时间", "时间"),
    "legal": ("legal", "法务", "法务审核"),
}
SIDES = ("pr", "legal")


class State(StrEnum):
    DRAFT = "draft"
    REVIEW = "review"
    APPROVED = "approved"
    PUBLISHED = "published"


_HANZI = re.compile(r"[\u3400-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
_EMAIL = re.compile(r"[^\s@,，;；]+@[^\s@,，;；]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"\+?\d[\d\s()-]{5,18}\d")
_LINK = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
# Figures, prices, people and partners: a release that mentions them goes to legal by default.
_LEGAL_HINTS = re.compile(
    r"\d|[¥$€£%％]|元|价格|售价|报价|price|合作|伙伴|partner|先生|女士|总裁|总经理|董事|CEO|CFO|"
    r"\bMr\b|\bMs\b|\bDr\b|chairman|founder|创始人", re.IGNORECASE)


def field_of(word: str | None) -> str | None:
    folded = unicodedata.normalize("NFKC", word or "").strip().lower()
    for name, words in FIELD_WORDS.items():
        if folded in words:
            return name
    return None


def headline_too_long(headline: str) -> bool:
    return (len(_HANZI.findall(headline)) > HEADLINE_HANZI
            or len(_LATIN_WORD.findall(headline)) > HEADLINE_WORDS)


def contact_of(text: str) -> tuple[str, str] | None:
    """`王敏 13800138000`, `Wang Min, press@example.com`: (name, phone or email), or None when
    either is missing."""
    value = unicodedata.normalize("NFKC", text).strip()
    found = _EMAIL.search(value) or _PHONE.search(value)
    if found is None:
        return None
    name = (value[:found.start()] + " " + value[found.end():]).strip(" ,，;；:：")
    name = " ".join(name.split())
    return (name, found.group(0).strip()) if name else None


def link_of(text: str) -> str | None:
    """An http(s) link, alone on the line."""
    value = text.strip()
    match = _LINK.fullmatch(value)
    return match.group(0) if match else None


def legal_suggested(facts: Iterable[str]) -> bool:
    return any(_LEGAL_HINTS.search(fact) for fact in facts)


def sides_needed(legal: bool) -> tuple[str, ...]:
    return SIDES if legal else ("pr",)


def sides_missing(legal: bool, approved: Iterable[str]) -> list[str]:
    done = set(approved)
    return [side for side in sides_needed(legal) if side not in done]


def sides_of(roles: Iterable[str]) -> list[str]:
    """The review sides a member may speak for: PR with the `pr` role, legal with `legal`."""
    have = set(roles)
    return [side for side in SIDES if side in have]


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """The fields whose values differ, in the order a release shows them."""
    return [{"field": f, "before": before.get(f), "after": after.get(f)}
            for f in FIELDS if before.get(f) != after.get(f)]


def reminder_key(ref: str, name: str) -> str:
    return f"press:{ref}:{name}"
