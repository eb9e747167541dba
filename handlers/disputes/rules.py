"""The rules of a dispute file, with no session or chat: its ids, the words of its commands,
and what a list of entries says: which entry supersedes which, each point with both sides'
positions, its proposals and agreements, and its status."""

from __future__ import annotations

import re
import unicodedata
from datetime import timedelta
from typing import Any, Protocol

from bot.records import RecordIds

IDS = RecordIds("D")  # D-2026-0001

# The outcome question comes this long after the agreed mediation time.
OUTCOME_AFTER = timedelta(hours=3)
MEDIATION_NOTICE = timedelta(days=1)  # the reminder a day before the mediation
STALE_REPEAT = timedelta(days=7)  # then weekly while nothing is added
MAX_POINTS = 20

SIDES = ("ours", "theirs")
SIDE_WORDS = {"ours": ("ours", "our", "us", "we", "我方", "我们", "本方"),
              "theirs": ("theirs", "their", "them", "they", "对方", "伙伴", "他们")}
POINT_ACTIONS = {
    "add": ("add", "new", "新增", "添加", "增加"),
    "agree": ("agree", "agreed", "agreement", "达成一致", "一致", "同意", "协议"),
    "escalate": ("escalate", "升级", "上报"),
    "propose": ("propose", "proposal", "offer", "提议", "方案", "建议"),
    "ours": SIDE_WORDS["ours"],
    "theirs": SIDE_WORDS["theirs"],
}
LIST_WORDS = {"open": ("open", "未结", "进行中", "未关闭"), "closed": ("closed", "已结", "已关闭"),
              "mine": ("mine", "my", "我的"), "all": ("all", "全部")}

_POINT = re.compile(r"^(?:p|点|要点)?\s*(\d{1,2})$")
_URL = re.compile(r"^https?://\S+$", re.I)


def _norm(word: str | None) -> str:
    return unicodedata.normalize("NFKC", word or "").strip().lower()


def point_action(word: str | None) -> str | None:
    low = _norm(word)
    return next((a for a, words in POINT_ACTIONS.items() if low in words), None)


def side_of(word: str | None) -> str | None:
    low = _norm(word)
    return next((s for s, words in SIDE_WORDS.items() if low in words), None)


def point_of(word: str | None) -> int | None:
    """`P2`, `p2`, `2`, `要点2` -> 2."""
    match = _POINT.match(_norm(word))
    return int(match.group(1)) if match else None


def list_filter(word: str | None) -> str | None:
    low = _norm(word) or "open"
    return next((f for f, words in LIST_WORDS.items() if low in words), None)


def is_link(text: str) -> bool:
    return bool(_URL.match(text.strip())) and len(text.strip()) <= 500


class Entry(Protocol):
    n: int
    kind: str
    point: int | None
    side: str
    supersedes: int | None


# Which earlier entry a new one replaces: the same kind about the same point and side.
SUPERSEDING = {"position", "proposal", "agreement", "next_step", "mediator"}


def superseded_entry(entries: list[Any], kind: str, point: int | None, side: str) -> int | None:
    """The number of the entry a new (kind, point, side) entry supersedes, if any."""
    if kind not in SUPERSEDING:
        return None
    replaced = {e.supersedes for e in entries if e.supersedes}
    for e in reversed(entries):
        if (e.kind, e.point, e.side) == (kind, point, side) and e.n not in replaced:
            return e.n
    return None


def superseded_by(entries: list[Any]) -> dict[int, int]:
    return {e.supersedes: e.n for e in entries if e.supersedes}


def point_numbers(entries: list[Any]) -> list[int]:
    return [e.point for e in entries if e.kind == "point"]


def point_status(entries: list[Any], point: int) -> str:
    """open, agreed or escalated: the latest agreement or escalation about it says."""
    status = "open"
    for e in entries:
        if e.point == point and e.kind in ("agreement", "escalation"):
            status = "agreed" if e.kind == "agreement" else "escalated"
    return status
