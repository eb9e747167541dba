"""Complaint storage: finding a complaint, keeping its reminders in step with
its state, its timeline, and the values templates show (full or limited)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot import members, records, workcal
from bot.config import Settings
from bot.messages import Mention
from bot.models import AuditEntry, Member
from bot.routes import channel_of
from handlers.calendar.store import calendar_for
from handlers.complaints import rules
from handlers.complaints.models import Complaint
from schedules import api
from schedules.api import Target

RECORD = "complaint"
SYSTEM_ACTOR = "liaison"


def find(session: Session, ref: str, *, for_update: bool = False) -> Complaint | None:
    return records.find(session, Complaint, ref, lock=for_update)


def complaints_channel(session: Session, platform: str) -> str | None:
    return channel_of(session, "complaints", platform)


def place_of(session: Session, platform: str, channel: str, direct: bool) -> str:
    """Where a message was asked: the complaints channel, a DM, or some other channel."""
    if direct:
        return rules.DIRECT
    if complaints_channel(session, platform) == channel:
        return rules.COMPLAINTS_CHANNEL
    return rules.OTHER


def calendar(session: Session, settings: Settings) -> workcal.Calendar:
    """The complaints calendar (`/calendar set complaints ...`, else LIAISON_CALENDAR)."""
    return calendar_for(session, settings, "complaints")


def levels(session: Session, settings: Settings) -> list[rules.Level]:
    """LIAISON_COMPLAINT_ESCALATE with its people found: `@name` (one member of that name),
    `platform:user_id`, or a role (everyone holding it). A name that finds nobody, or a role
    nobody holds, goes to the escalations channel instead."""
    out = []
    for number, level in enumerate(settings.complaints.levels, start=2):
        targets: list[tuple[str, str, str]] = []
        for word in level.targets:
            targets += _people(session, word) or [("purpose", "escalations", "")]
        out.append(rules.Level(number, level.after, tuple(dict.fromkeys(targets))))
    return out


def _people(session: Session, word: str) -> list[tuple[str, str, str]]:
    if word.startswith("@"):
        name = word[1:].casefold()
        found = [m for m in session.exec(select(Member)).all()
                 if (m.display_name or "").casefold() == name or m.user_id.casefold() == name]
        return [("member", found[0].user_id, found[0].platform)] if len(found) == 1 else []
    platform, sep, user_id = word.partition(":")
    if sep:
        return [("member", user_id, platform)]
    return [("member", m.user_id, m.platform) for m in members.with_role(session, word)]


def replan(session: Session, c: Complaint, settings: Settings, now: datetime) -> None:
    """Make the pending reminders of `c` exactly the ones its state calls for: plan (or move,
    or re-target) those wanted, cancel the rest."""
    wanted = rules.reminder_plan(
        c, now, settings.complaints.warnings, settings.complaints.followup,
        cal=calendar(session, settings), budget=settings.complaints.sla_for(c.severity),
        levels=levels(session, settings) if c.status == "new" else [],
    )
    keys = {p.key for p in wanted}
    pending = api.pending(session, RECORD, c.ref)
    # A reminder its person moved ("remind me again") stays where they put it, as long as
    # the complaint still calls for it (answered, paused or restarted, it goes).
    moved = {row.key for row in pending if (row.payload or {}).get(api.SNOOZED)
             and _still_wanted(c, row)}
    for row in pending:
        if row.key not in keys and row.key not in moved:
            api.cancel(session, key=row.key)
    for p in wanted:
        if p.key not in moved:
            plan_one(session, c, p)


def _still_wanted(c: Complaint, row: Any) -> bool:  # noqa: ANN401
    _, _, round_ = row.key.partition("#")
    if int(round_ or 0) != c.clock_round or c.paused_at is not None:
        return False
    if row.kind in (rules.RESPONSE_DUE, rules.ESCALATE):
        return c.status == "new"
    return row.kind == rules.FOLLOWUP and c.status == "solution"


def plan_one(session: Session, c: Complaint, p: rules.Planned) -> None:
    kind, ident, platform = p.target
    api.plan(
        session, key=p.key, kind=p.kind, due=p.due, target=Target(kind, ident, platform),
        record_type=RECORD, record_id=c.ref, payload=p.payload, snoozable=p.snoozable,
    )


def system_audit(session: Session, c: Complaint, now: datetime, action: str,
                 changes: dict[str, Any] | None = None) -> None:
    """A timeline entry written by the bot itself (an escalation), not by a member."""
    records.audit(session, SYSTEM_ACTOR, RECORD, c.ref, action, changes, now)


def timeline(session: Session, c: Complaint) -> list[dict[str, Any]]:
    entries = session.exec(
        select(AuditEntry)
        .where(AuditEntry.record_type == RECORD, AuditEntry.record_id == c.ref)
        .order_by(col(AuditEntry.at), col(AuditEntry.id))
    ).all()
    names = _names(session, {e.actor for e in entries})
    return [
        {"at": e.at, "action": e.action, "who": names.get(e.actor, e.actor),
         "system": e.actor == SYSTEM_ACTOR, "changes": e.changes}
        for e in entries
    ]


def _names(session: Session, actors: set[str]) -> dict[str, str]:
    pairs = [a.partition(":") for a in actors if ":" in a]
    found: dict[str, str] = {}
    for platform, _, user_id in pairs:
        member = session.exec(
            select(Member).where(Member.platform == platform, Member.user_id == user_id)
        ).first()
        if member is not None:
            found[f"{platform}:{user_id}"] = member.display_name or user_id
    return found


# -- what templates see ------------------------------------------------------------------------


def owner_mention(c: Complaint) -> Mention | None:
    if not c.has_owner:
        return None
    return Mention(str(c.owner_platform), str(c.owner_id), c.owner_name)


# The columns a listing reads (`listed`, and who may see a complaint in full).
LISTED = ("ref", "summary", "status", "severity", "customer", "owner_platform", "owner_id",
          "owner_name", "reporter_platform", "reporter_id", "due_at", "paused_at")


def listed(c: Any, now: datetime, *, full: bool,  # noqa: ANN401
           cal: workcal.Calendar = rules.ALWAYS) -> dict[str, Any]:
    """A complaint as a listing shows it (a row of complaints/list.j2): what `view` gives of
    it, from a row of the `LISTED` columns (a Complaint does too)."""
    shown: dict[str, Any] = {
        "ref": c.ref,
        "summary": c.summary,
        "status": c.status,
        "severity": c.severity,
        "clock": rules.clock(c, now, cal),
        "full": full,
    }
    if full:
        shown["customer"] = c.customer
        shown["owner_name"] = c.owner_name if c.owner_platform and c.owner_id else ""
    return shown


def view(c: Complaint, now: datetime, *, full: bool,
         cal: workcal.Calendar = rules.ALWAYS) -> dict[str, Any]:
    """The complaint as templates show it. Limited: id, summary, status, time left; full adds
    the customer, contact, texts and people. Owner names are plain text here (a listing must
    not ping everyone it names); a card passes the owner as a real mention separately."""
    limited: dict[str, Any] = {
        "ref": c.ref,
        "summary": c.summary,
        "status": c.status,
        "severity": c.severity,
        "paused": c.paused_at is not None,
        "clock": rules.clock(c, now, cal),
        "resolution": rules.resolution_clock(c, now, cal),
        "level": c.escalation_level,
        "full": full,
    }
    if not full:
        return limited
    return {
        **limited,
        "customer": c.customer,
        "contact": c.contact,
        "channel": c.channel,
        "details": c.details,
        "received": c.received_at,
        "responded": c.responded_at,
        "response": c.response,
        "solution": c.solution,
        "followup": c.followup,
        "followup_due": c.followup_due_at if c.status == "solution" else None,
        "satisfaction": c.satisfaction,
        "satisfaction_comment": c.satisfaction_comment,
        "close_reason": c.close_reason,
        "pause_reason": c.pause_reason,
        "reporter": c.reporter_name or c.reporter_id,
        "owner_name": c.owner_name if c.has_owner else "",
    }
