"""The rules of the communication checklist, as small functions with no session or chat:
the choices, the id format, which checklist steps are done, the state that follows from
them, what may happen in which state, and when each reminder is due."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from bot.records import RecordIds

PREFIX = "K"  # C is complaints, M meetings, A actions

AUDIENCES = ("media", "customer", "government", "partner", "industry", "other")
GOALS = ("publish", "solve", "relationship", "other")
CHANNELS = ("meeting", "email", "press_release", "phone", "im", "video", "social")
CONTACT_HOW = ("phone", "email", "meeting", "im", "video", "visit", "other")
FOLLOWUP_HOW = ("email", "call")
PROBLEMS = ("none", "info_missing", "wording", "timing", "channel", "other")

# The handbook's 沟通执行, in order.
STEPS = ("contact", "message", "feedback", "followup")

STEP_WORDS: dict[str, tuple[str, ...]] = {
    "contact": ("contact", "first-contact", "1", "初步接触", "接触", "联系"),
    "message": ("message", "deliver", "delivered", "2", "信息传递", "传递", "信息", "核心信息"),
    "feedback": ("feedback", "questions", "3", "互动反馈", "反馈", "疑问", "建议"),
    "followup": ("followup", "follow-up", "follow", "4", "跟进确认", "跟进", "确认"),
}

LIST_FILTERS: dict[str, tuple[str, ...]] = {
    "mine": ("mine", "my", "我的", "我"),
    "open": ("open", "active", "未完成", "进行中", "未复盘"),
}

AUDIENCE_WORDS: dict[str, tuple[str, ...]] = {
    "media": ("媒体", "press"),
    "customer": ("客户", "customers"),
    "government": ("政府", "政府机构", "gov"),
    "partner": ("伙伴", "合作伙伴", "partners"),
    "industry": ("行业", "行业机构", "行业协会"),
    "other": ("其他",),
}


class State(StrEnum):
    PREPARED = "prepared"
    EXECUTING = "executing"
    EXECUTED = "executed"
    REVIEWED = "reviewed"


class Checklist(Protocol):
    """What the rules read from a record."""

    contact_at: datetime | None
    message_at: datetime | None
    feedback_done_at: datetime | None
    followup_at: datetime | None
    reviewed_at: datetime | None


# -- ids ---------------------------------------------------------------------------------------

IDS = RecordIds(PREFIX)  # K-2026-0001


# -- words -------------------------------------------------------------------------------------


def _norm(word: str | None) -> str:
    return unicodedata.normalize("NFKC", word or "").strip().lower()


def step_of(word: str | None) -> str | None:
    low = _norm(word)
    for step, words in STEP_WORDS.items():
        if low in words:
            return step
    return None


def list_filter_of(word: str | None) -> tuple[str, str | None] | None:
    """`/comm list` argument: ("mine", None), ("open", None), ("audience", "media"), or None
    when the word means nothing. No word means mine."""
    low = _norm(word)
    if not low:
        return ("mine", None)
    for name, words in LIST_FILTERS.items():
        if low in words:
            return (name, None)
    audience = audience_of(low)
    return ("audience", audience) if audience else None


def audience_of(word: str | None) -> str | None:
    low = _norm(word)
    if low in AUDIENCES:
        return low
    for audience, words in AUDIENCE_WORDS.items():
        if low in words:
            return audience
    return None


def command_safe(text: str, limit: int = 80) -> str:
    """User text placed inside a command a button sends back: no quotes or line breaks that
    would change how the command is read."""
    cleaned = re.sub(r"[\"'“”‘’「」\n\r\t=]", " ", text)
    return " ".join(cleaned.split())[:limit]


_CONTACT = re.compile(r"^(?P<how>[^\s=]+)?\s*(?:(?:at|when|时间)=(?P<when>.*))?$", re.S | re.I)
_QUOTED = re.compile(r"^[\"'“‘「](.*)[\"'”’」]$", re.S)


def unquote(text: str) -> str:
    """Free text after a command, without the one pair of quotes someone put around it."""
    text = text.strip()
    match = _QUOTED.match(text)
    return match.group(1).strip() if match else text


def split_contact(text: str) -> tuple[str | None, str | None] | None:
    """`phone at=yesterday 3pm` -> ("phone", "yesterday 3pm"); either part may be missing;
    None when the text is neither."""
    match = _CONTACT.match(text.strip())
    if not match:
        return None
    when = match.group("when")
    return match.group("how"), (unquote(when) or None) if when is not None else None


_QUESTION = re.compile(r"^[qQ问](\d{1,3})$")
ANSWERED_WORDS = ("answered", "answer", "done", "已答复", "答复", "已回复", "回复", "已解答")


def question_of(word: str | None) -> int | None:
    """`q2` (or `问2`) -> 2: a question of the feedback step, by its number."""
    match = _QUESTION.match(_norm(word))
    return int(match.group(1)) if match else None


def answered_word(word: str | None) -> bool:
    return _norm(word) in ANSWERED_WORDS


def question_open(item: dict[str, Any]) -> bool:
    return not item.get("answered_at")


def answer_key(ref: str, number: int) -> str:
    return f"comm.answer:{ref}:q{number}"


# -- checklist and state -----------------------------------------------------------------------


def step_done(record: Checklist, step: str) -> bool:
    return getattr(record, _DONE_FIELD[step]) is not None


_DONE_FIELD = {
    "contact": "contact_at",
    "message": "message_at",
    "feedback": "feedback_done_at",
    "followup": "followup_at",
}


def done_steps(record: Checklist) -> list[str]:
    return [s for s in STEPS if step_done(record, s)]


def open_steps(record: Checklist) -> list[str]:
    return [s for s in STEPS if not step_done(record, s)]


def state_of(record: Checklist) -> State:
    """The state follows from the checklist: nothing ticked is prepared, something ticked is
    executing, everything ticked is executed; a review closes it."""
    if record.reviewed_at is not None:
        return State.REVIEWED
    done = done_steps(record)
    if len(done) == len(STEPS):
        return State.EXECUTED
    if done:
        return State.EXECUTING
    return State.PREPARED


def may_tick(state: State | str) -> bool:
    return state != State.REVIEWED


def may_run(state: State | str) -> bool:
    return state in (State.PREPARED, State.EXECUTING)


def may_review(state: State | str) -> bool:
    return state == State.EXECUTED


# -- reminders ---------------------------------------------------------------------------------


def followup_due(started_at: datetime, after: timedelta) -> datetime:
    return started_at + after


def review_due(executed_at: datetime, after: timedelta) -> datetime:
    return executed_at + after


def followup_still_open(record: Checklist) -> bool:
    """Whether the follow-up reminder still has something to say."""
    return record.reviewed_at is None and record.followup_at is None


def review_still_open(record: Checklist) -> bool:
    return state_of(record) == State.EXECUTED


def reminder_keys(ref: str) -> dict[str, str]:
    return {"followup": f"comm.followup:{ref}", "review": f"comm.review:{ref}"}


# -- display -----------------------------------------------------------------------------------


def title_of(audience_name: str, topic: str) -> str:
    return f"{audience_name} · {topic}"


def progress(record: Checklist) -> dict[str, Any]:
    done = done_steps(record)
    return {"done": len(done), "total": len(STEPS)}
