"""The one small API handlers use to plan, cancel and move reminders.

Calls join the handler's transaction: a reminder exists exactly when the record change that
planned it was committed. After the commit the scheduler is woken for the new due time.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlmodel import Session, col, select

from bot import logs, workcal
from bot.db import Database, Direct
from bot.errors import UserError
from bot.messages import Address, Attachment, Choice, Outbound, Rendered, RenderedChoice
from schedules.models import Reminder, Status

OPEN = (Status.PENDING, Status.CLAIMED)
OUTBOUND = "system.outbound"  # a message already rendered, queued for delivery


@dataclass(frozen=True)
class Target:
    """Who gets the reminder: a member's DM, a purpose's channel, or a given channel."""

    kind: str
    id: str
    platform: str = ""

    @classmethod
    def member(cls, platform: str, user_id: str) -> Target:
        return cls("member", user_id, platform)

    @classmethod
    def purpose(cls, purpose: str) -> Target:
        return cls("purpose", purpose)

    @classmethod
    def channel(cls, platform: str, channel_id: str) -> Target:
        return cls("channel", channel_id, platform)


def plan(
    session: Session,
    *,
    key: str,
    kind: str,
    due: datetime,
    target: Target,
    record_type: str = "",
    record_id: str = "",
    payload: dict[str, Any] | None = None,
    snoozable: bool = True,
) -> Reminder:
    """Plan (or re-plan) the reminder with this idempotency key. Planning a key again moves a
    pending one; a reminder already sent stays sent, so a retry never sends twice."""
    if due.tzinfo is None:
        raise ValueError("reminder due times must be timezone-aware")
    row = session.exec(select(Reminder).where(Reminder.key == key)).first()
    if row is None:
        row = Reminder(
            key=key, kind=kind, due_at=due, planned_at=due, target_kind=target.kind,
            target_platform=target.platform, target_id=target.id,
            record_type=record_type, record_id=str(record_id), payload=payload or {},
            snoozable=snoozable,
        )
    elif row.status == Status.SENT:
        return row
    else:
        row.kind, row.due_at, row.planned_at = kind, due, due
        row.target_kind, row.target_platform, row.target_id = (
            target.kind, target.platform, target.id)
        row.record_type, row.record_id = record_type, str(record_id)
        row.payload, row.snoozable = payload or {}, snoozable
        row.status, row.attempts, row.last_error = Status.PENDING, 0, None
        row.lease_owner = row.lease_until = None
    session.add(row)
    wake_after_commit(session, due)
    return row


# Built once, and run on the driver's own cursor (bot.db.Direct), as the core's few statements
# run on every message are: one row per answer queued. Through the session's execute the
# INSERT cost 100 µs of CPU on SQLite and 240 on PostgreSQL, Direct 60 and 105 (issue 22;
# about 20 of each is building the row's values).
_QUEUE = Direct(insert(Reminder.__table__), [
    "key", "kind", "record_type", "record_id", "due_at", "planned_at", "target_kind",
    "target_platform", "target_id", "status", "attempts", "lease_owner", "lease_until",
    "last_error", "snoozable", "created_at", "sent_at", "conversation", "payload"])


def queue(session: Session, outbound: Outbound, *, now: datetime | None = None) -> None:
    """Queue one rendered message for the delivery worker, in the caller's transaction: it
    exists exactly when the change it reports was committed, and the worker is woken then.
    Messages to one conversation (platform, place, person) go out in the order queued (the
    row is inserted now, by one statement: no ORM object to build and flush, which was a
    quarter of a complaint list's time)."""
    now = now or datetime.now(UTC)
    a = outbound.address
    session.info["wrote"] = True  # (as a flush would note) a failed commit lost a change
    _QUEUE.run(session.connection(), {
        "key": str(outbound.meta.get("key") or f"out:{uuid.uuid4().hex}"), "kind": OUTBOUND,
        "record_type": "", "record_id": "", "due_at": now, "planned_at": now,
        "target_kind": "address", "target_platform": a.platform,
        "target_id": (a.channel or a.user or "")[:128], "status": Status.PENDING,
        "attempts": 0, "lease_owner": None, "lease_until": None, "last_error": None,
        "snoozable": False, "created_at": now, "sent_at": None,
        "conversation": conversation_of(outbound),
        "payload": {"address": asdict(a), "message": _message_json(outbound.message),
                    "meta": _with_request_id(outbound.meta)},
    })
    wake_after_commit(session, now)


def _message_json(message: Rendered) -> dict[str, Any]:
    """The message as the row keeps it; its files' bytes in base64 (the row owes them too)."""
    files = message.files
    value = asdict(replace(message, files=()))
    if files:
        value["files"] = [f.to_json() for f in files]
    return value


def _with_request_id(meta: dict[str, Any]) -> dict[str, Any]:
    """The meta, with the id of the request that queued it: its delivery logs under it."""
    found = logs.current_request_id()
    return {**meta, "request_id": found} if found and "request_id" not in meta else dict(meta)


def conversation_of(outbound: Outbound) -> str:
    a = outbound.address
    return f"{a.platform}:{a.channel or ''}:{a.user or a.ephemeral_to or ''}"[:300]


def outbound_of(row: Reminder) -> Outbound:
    """The message a queued row holds."""
    return outbound_in(row.payload)


def outbound_in(payload: dict[str, Any]) -> Outbound:
    """The message a queued row's payload holds."""
    message = dict(payload["message"])
    message["choices"] = tuple(RenderedChoice(**c) for c in message.get("choices", ()))
    message["files"] = tuple(Attachment.from_json(f) for f in message.get("files") or ())
    return Outbound(Address(**payload["address"]), Rendered(**message),
                    dict(payload.get("meta") or {}))


def cancel(
    session: Session,
    *,
    key: str | None = None,
    record_type: str | None = None,
    record_id: str | None = None,
    kinds: Iterable[str] | None = None,
) -> int:
    """Cancel open reminders by key, or by record (optionally only some kinds)."""
    rows = _open(session, key=key, record_type=record_type, record_id=record_id, kinds=kinds)
    for row in rows:
        row.status = Status.CANCELLED
        row.lease_owner = row.lease_until = None
        session.add(row)
    return len(rows)


def move(session: Session, key: str, due: datetime) -> bool:
    """Move an open reminder to a new time. False when there is none open with that key."""
    rows = _open(session, key=key)
    for row in rows:
        row.due_at = row.planned_at = due
        row.status, row.lease_owner, row.lease_until = Status.PENDING, None, None
        session.add(row)
        wake_after_commit(session, due)
    return bool(rows)


# A reminder that warns about a deadline carries it in its payload under this key (ISO UTC):
# snoozing it past the deadline would turn the warning into news of a breach.
DEADLINE = "deadline"
LATEST_SNOOZE_GAP = timedelta(minutes=15)


# "Remind me again": the choices every personal reminder carries, each a `/remind snooze`
# (a Slack button, a DingTalk tap in the one-to-one chat, a numbered line elsewhere).
AGAIN = ("30m", "1h", "2h", "tomorrow-morning", "next-workday")
SNOOZED = "snoozed"  # payload flag: the person moved it, replanning leaves it where it is


def again_choices(row: Reminder) -> list[Choice]:
    if row.target_kind != "member" or not row.snoozable or row.kind == OUTBOUND:
        return []
    return [Choice(f"/remind snooze {row.id} {word}", f"reminders.again.{word}")
            for word in AGAIN]


def snooze(row: Reminder, due: datetime) -> None:
    """Move a reminder (pending, or already sent: "remind me again") to `due`."""
    payload = {k: v for k, v in (row.payload or {}).items()
               if k not in ("_delivered", "_progress")}
    row.payload = {**payload, SNOOZED: True}
    row.due_at = row.planned_at = due
    row.status, row.lease_owner, row.lease_until = Status.PENDING, None, None
    row.attempts, row.last_error = 0, None


def deadline_of(row: Reminder) -> datetime | None:
    raw = (row.payload or {}).get(DEADLINE)
    return datetime.fromisoformat(raw) if raw else None


def snooze_time(row: Reminder, text: str, *, now: datetime, zone: ZoneInfo,
                cal: workcal.Calendar | None = None) -> datetime:
    """When `/remind snooze ID <text>` moves the reminder to. Snoozing only ever postpones: a
    duration counts from the reminder's due time (or from now, when it is already due),
    `tomorrow` (morning) is the day after that at 09:00, `next-workday` the start of the next
    working day of the person's calendar `cal` (under 24x7: the next Monday-to-Friday day at
    09:00); a time typed out must be later than both. A warning is not moved past the
    deadline it warns about: the answer says when that is and offers the latest time that
    still warns."""
    base = max(now, row.due_at)
    local = base.astimezone(zone)
    word = " ".join(text.split()).lower()
    if workcal.says_next_workday(word):
        if cal is not None and not cal.always:
            due = workcal.next_workday(cal, base).astimezone(now.tzinfo)
        else:
            due = workcal.weekday_morning_after(local).astimezone(now.tzinfo)
    elif word in ("tomorrow", "明天", "tomorrow-morning", "明早", "明天早上", "明天上午"):
        day = (local + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
        due = day.astimezone(now.tzinfo)
    else:
        due = _snooze_to(text, word, base, now, zone)
        if due <= base:
            raise UserError("reminders/snooze_earlier", id=row.id, due=row.due_at, asked=due,
                            already_due=row.due_at <= now)
    deadline = deadline_of(row)
    if deadline is not None and due > deadline:
        latest = deadline - LATEST_SNOOZE_GAP
        raise UserError("reminders/snooze_past_deadline", id=row.id, deadline=deadline,
                        latest=latest if latest > base else None,
                        latest_text=latest.astimezone(zone).strftime("%Y-%m-%d %H:%M"))
    return due


def _snooze_to(text: str, word: str, base: datetime, now: datetime, zone: ZoneInfo) -> datetime:
    from bot.timeparse import TimeParseError, parse_duration, parse_when  # not at start-up

    try:
        return base + parse_duration(word)
    except TimeParseError:
        pass
    try:
        return parse_when(text, now=now, tz=zone)
    except TimeParseError:
        raise UserError("reminders/snooze_usage") from None


def pending(session: Session, record_type: str, record_id: str) -> list[Reminder]:
    query = (
        select(Reminder)
        .where(Reminder.record_type == record_type, Reminder.record_id == str(record_id))
        .where(col(Reminder.status).in_(OPEN))
        .order_by(col(Reminder.due_at))
    )
    return list(session.exec(query).all())


def _open(session: Session, *, key=None, record_type=None, record_id=None, kinds=None):  # noqa: ANN001, ANN202
    query = select(Reminder).where(col(Reminder.status).in_(OPEN))
    if key is not None:
        query = query.where(Reminder.key == key)
    if record_type is not None:
        query = query.where(Reminder.record_type == record_type)
    if record_id is not None:
        query = query.where(Reminder.record_id == str(record_id))
    if kinds is not None:
        query = query.where(col(Reminder.kind).in_(list(kinds)))
    if key is None and record_type is None:
        raise ValueError("cancel needs a key or a record")
    return list(session.exec(query).all())


def wake_after_commit(session: Session, due: datetime) -> None:
    """A running scheduler (registered in Database.wakers) hears of the new due time once the
    change is committed, so the reminder is not late by a sweep interval."""
    db: Database | None = session.info.get("database")
    if db is None or not db.wakers:
        return
    Database.after_commit(session, lambda: [wake(due) for wake in list(db.wakers)])


def run_job_after_commit(session: Session, job: str) -> None:
    """A running scheduler runs the domain job `job` (bot.domain.Job) once the change is
    committed: work queued in this transaction starts at once, not a sweep interval later."""
    db: Database | None = session.info.get("database")
    if db is None or not db.job_wakers:
        return
    Database.after_commit(session, lambda: [wake(job) for wake in list(db.job_wakers)])
