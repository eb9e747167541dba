"""The rules of a complaint, as plain functions: the state machine, the response clock, which
reminders should exist, who may change a complaint, and who may read its full text.

Nothing here touches the database or the chat, so each rule is tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot import workcal
from bot.records import RecordIds
from handlers.complaints.models import Complaint
from handlers.complaints.settings import Warning
from schedules.api import DEADLINE

ALWAYS = workcal.build(workcal.ALWAYS, workcal.CHINA_ZONE)

SEVERITIES = ("low", "normal", "high", "critical")
CHANNELS = ("phone", "email", "social", "in_person", "other")
# new: waiting for the first response (the 24-hour clock runs); responded: answered, no
# solution yet; solution: proposed, waiting for the follow-up with the customer;
# followed_up: the customer confirmed (or not) the solution; resolved; closed.
STATUSES = ("new", "responded", "solution", "followed_up", "resolved", "closed")
OPEN_STATUSES = ("new", "responded", "solution", "followed_up")
CHANGING_ROLES = frozenset({"agent", "admin"})

RESPONSE_DUE = "complaint.response_due"
BREACH = "complaint.breach"
FOLLOWUP = "complaint.followup"
ESCALATE = "complaint.escalate"  # the later escalation levels (LIAISON_COMPLAINT_ESCALATE)
KINDS = (RESPONSE_DUE, BREACH, FOLLOWUP, ESCALATE)

IDS = RecordIds("C")  # C-2026-0001


# -- the state machine -------------------------------------------------------------------------


class Refused(Exception):
    """A transition that is not allowed now; `reason` names the explanation template case."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check(action: str, c: Complaint, *, has_text: bool = True) -> None:
    """Raise Refused when `action` may not happen to `c` in its current state."""
    status = c.status
    if status == "closed" and action not in ("reopen",):
        raise Refused("closed")
    if action == "reopen":
        if status not in ("closed", "resolved"):
            raise Refused("not_closed")
        if not has_text:
            raise Refused("reason_needed")
    elif action == "respond":
        if status != "new":
            raise Refused("already_responded")
    elif action == "solution":
        if status == "new":
            raise Refused("respond_first")
        if status not in ("responded", "solution", "followed_up"):  # a revised solution
            raise Refused("past_solution")
    elif action == "followup":
        if status in ("new", "responded"):
            raise Refused("solution_first")
        if status != "solution":
            raise Refused("already_followed_up")
    elif action == "satisfaction":
        if status not in ("followed_up", "resolved"):
            raise Refused("followup_first")
    elif action == "resolve":
        if status == "resolved":
            raise Refused("already_resolved")
        if status != "followed_up":
            raise Refused("followup_before_resolve")
    elif action == "close":
        # Closing anything that was not resolved (an unanswered complaint included) says why.
        if status != "resolved" and not has_text:
            raise Refused("close_reason_needed")
    elif action == "pause":
        if c.paused_at is not None:
            raise Refused("already_paused")
        if status not in ("new", "solution"):
            raise Refused("no_clock")
        if not has_text:
            raise Refused("reason_needed")
    elif action == "resume":
        if c.paused_at is None:
            raise Refused("not_paused")
    elif action in ("assign", "note"):
        pass
    else:
        raise ValueError(f"unknown action {action!r}")


def response_due(received_at: datetime, sla: timedelta,
                 cal: workcal.Calendar = ALWAYS) -> datetime:
    """`sla` of working time after `received_at` (the wall clock under 24x7)."""
    return workcal.add_working(cal, received_at, sla)


def clock(c: Complaint, now: datetime, cal: workcal.Calendar = ALWAYS) -> dict[str, Any]:
    """The response clock as a reader sees it: running (time left), overdue (by how much),
    paused (time left frozen), or stopped (answered or closed). Under a working calendar it
    also says how much working time is left (`working`)."""
    if c.status != "new":
        return {"state": "stopped", "due": c.due_at, "left": None}
    if c.paused_at is not None:
        found = {"state": "paused", "due": c.due_at, "left": c.due_at - c.paused_at}
        return _working(found, cal, c.paused_at, c.due_at)
    left = c.due_at - now
    if left <= timedelta(0):
        return {"state": "overdue", "due": c.due_at, "left": -left}
    return _working({"state": "running", "due": c.due_at, "left": left}, cal, now, c.due_at)


def _working(found: dict[str, Any], cal: workcal.Calendar, start: datetime,
             end: datetime) -> dict[str, Any]:
    if not cal.always:
        found["working"] = workcal.working_between(cal, start, end)
        # As people read it: "3", "2.4" (working hours, one decimal at most).
        found["working_hours"] = f"{round(found['working'].total_seconds() / 3600, 1):g}"
    return found


def resolution_clock(c: Complaint, now: datetime,
                     cal: workcal.Calendar = ALWAYS) -> dict[str, Any] | None:
    """The resolution clock: None on complaints from before it existed."""
    if c.resolve_due_at is None:
        return None
    due = c.resolve_due_at
    if c.status in ("resolved", "closed"):
        return {"state": "stopped", "due": due, "left": None}
    at = c.paused_at or now
    state = "paused" if c.paused_at is not None else "running"
    if due <= at:
        return {"state": "overdue", "due": due, "left": at - due}
    return _working({"state": state, "due": due, "left": due - at}, cal, at, due)


def stop_stretch(c: Complaint, cal: workcal.Calendar, now: datetime) -> None:
    """Add the working time since the clocks last started to what each running clock has
    consumed, and start a new stretch now. Call it before the status changes."""
    if c.paused_at is not None:
        return
    since = c.run_since or c.received_at
    worked = int(workcal.working_between(cal, since, now).total_seconds())
    if c.status == "new":
        c.response_worked += worked
    if c.status in OPEN_STATUSES and c.resolve_due_at is not None:
        c.resolve_worked += worked
    c.run_since = now


def restart_clocks(c: Complaint, cal: workcal.Calendar, now: datetime, sla: timedelta,
                   resolve: timedelta) -> None:
    """After a pause (or a reopening): both clocks run again from now with what is left."""
    c.run_since = now
    if c.status == "new":
        c.due_at = _left_from(cal, now, sla - timedelta(seconds=c.response_worked))
    restart_resolution(c, cal, now, resolve)


def restart_resolution(c: Complaint, cal: workcal.Calendar, now: datetime,
                       resolve: timedelta) -> None:
    """The resolution clock alone runs again from now with what is left of it."""
    c.run_since = now
    if c.resolve_due_at is not None:
        c.resolve_due_at = _left_from(cal, now, resolve - timedelta(seconds=c.resolve_worked))


def _left_from(cal: workcal.Calendar, now: datetime, left: timedelta) -> datetime:
    # A clock paused when already overdue stays overdue by as much as it was.
    if left < timedelta(0):
        return workcal.subtract_working(cal, now, -left)
    return workcal.add_working(cal, now, left)


def is_overdue(c: Complaint, now: datetime) -> bool:
    return clock(c, now)["state"] == "overdue"


def resume_shift(c: Complaint, now: datetime) -> timedelta:
    assert c.paused_at is not None
    return max(now - c.paused_at, timedelta(0))


# -- reminders ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    """One reminder that should exist for a complaint right now."""

    key: str
    kind: str
    due: datetime
    target: tuple[str, str, str]  # (kind, id, platform) as schedules.api.Target takes them
    snoozable: bool = True
    payload: dict[str, Any] = field(default_factory=dict)


def lead_label(lead: timedelta) -> str:
    minutes = int(lead.total_seconds()) // 60
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def _suffix(c: Complaint) -> str:
    return f"#{c.clock_round}" if c.clock_round else ""


def owner_target(c: Complaint) -> tuple[str, str, str]:
    if c.has_owner:
        return ("member", str(c.owner_id), str(c.owner_platform))
    # Nobody owns it yet: the complaints channel hears, so someone takes it.
    return ("purpose", "complaints", "")


@dataclass(frozen=True)
class Level:
    """A later escalation level, its people already found: `after` the breach."""

    number: int  # 2, 3, ... (the breach itself is level 1)
    after: timedelta
    targets: tuple[tuple[str, str, str], ...]


def reminder_plan(
    c: Complaint, now: datetime, leads: list[timedelta] | list[Warning],
    followup_every: timedelta, *, cal: workcal.Calendar = ALWAYS,
    budget: timedelta | None = None, levels: list[Level] | None = None,
) -> list[Planned]:
    """Every reminder the complaint should have pending, given its state now. Reminders of
    this complaint that are pending but not in this list are to be cancelled. Warnings are
    `leads` before the deadline or shares of the response time (`budget`), in working time
    of `cal`; escalation `levels` follow the breach."""
    if c.status == "closed" or c.paused_at is not None:
        return []
    title: dict[str, Any] = {"title": c.summary, "ref": c.ref}
    if not cal.always:
        title["calendar"] = {"name": cal.name, "hours": cal.hours_text, "zone": str(cal.zone)}
    out: list[Planned] = []
    if c.status == "new":
        for warning in leads:
            if not isinstance(warning, Warning):
                warning = Warning(lead=warning)
            if warning.share is not None and budget is None:
                continue
            left = (warning.lead if warning.lead is not None
                    else budget * (1 - warning.share))  # type: ignore[operator]
            at = workcal.subtract_working(cal, c.due_at, left)
            at = workcal.in_working_time(cal, at, c.due_at)
            if at > now:  # a lead already past says nothing useful; the breach still comes
                payload = {**title, "lead": int(left.total_seconds())}
                if warning.share is not None:
                    payload["share"] = round(warning.share * 100)
                out.append(Planned(
                    key=f"complaint:{c.ref}:due:{warning.label}{_suffix(c)}",
                    kind=RESPONSE_DUE, due=at, target=owner_target(c),
                    payload={**payload, DEADLINE: c.due_at.isoformat()},
                ))
        at = max(c.due_at, now)
        if c.has_owner:
            out.append(Planned(
                key=f"complaint:{c.ref}:breach:owner{_suffix(c)}", kind=BREACH, due=at,
                target=owner_target(c), snoozable=False, payload=dict(title),
            ))
        out.append(Planned(
            key=f"complaint:{c.ref}:breach:escalations{_suffix(c)}", kind=BREACH, due=at,
            target=("purpose", "escalations", ""), snoozable=False, payload=dict(title),
        ))
        out += _levels(c, now, cal, levels or [], title)
    if c.status == "solution" and c.followup_due_at is not None:
        out.append(Planned(
            key=f"complaint:{c.ref}:followup:{c.followup_nags}{_suffix(c)}", kind=FOLLOWUP,
            due=c.followup_due_at, target=owner_target(c),
            payload={**title, "every": int(followup_every.total_seconds())},
        ))
    return out


def _levels(c: Complaint, now: datetime, cal: workcal.Calendar, levels: list[Level],
            title: dict[str, Any]) -> list[Planned]:
    """Each later level is a reminder to its people, `after` the breach in working time. One
    of them may be snoozed, but not past the next level (its deadline)."""
    out: list[Planned] = []
    dues = [workcal.add_working(cal, c.due_at, level.after) for level in levels]
    for i, level in enumerate(levels):
        due = max(dues[i], now)
        payload: dict[str, Any] = {**title, "level": level.number}
        if i + 1 < len(levels):
            payload[DEADLINE] = dues[i + 1].isoformat()
        for kind, ident, platform in level.targets:
            out.append(Planned(
                key=f"complaint:{c.ref}:escalate:{level.number}:{kind}:{platform}:{ident}"
                    f"{_suffix(c)}"[:200],
                kind=ESCALATE, due=due, target=(kind, ident, platform),
                snoozable=kind == "member", payload=payload,
            ))
    return out


# -- who may do what ------------------------------------------------------------------------------


def is_owner(c: Complaint, platform: str, user_id: str) -> bool:
    return c.owner_platform == platform and c.owner_id == user_id


def can_change(c: Complaint, platform: str, user_id: str, roles: frozenset[str]) -> bool:
    """Only the owner, agents and admins change a complaint (anyone may create one)."""
    return is_owner(c, platform, user_id) or bool(roles & CHANGING_ROLES)


def can_take(roles: frozenset[str]) -> bool:
    return bool(roles & CHANGING_ROLES)


# Where a complaint is being read: its own channel, a direct message, or any other channel.
COMPLAINTS_CHANNEL, DIRECT, OTHER = "complaints", "direct", "other"


def is_filer(c: Complaint, platform: str, user_id: str) -> bool:
    return c.reporter_platform == platform and c.reporter_id == user_id


def sees_full(place: str, *, owner: bool, agent: bool, filer: bool = False) -> bool:
    """Contact details and full text go to the complaints channel, and in a direct message to
    the owner and agents. Anywhere else (a channel others read) shows the id, summary, status
    and time left only, whoever asks: the others in that channel did not ask."""
    if place == COMPLAINTS_CHANNEL:
        return True
    if place == DIRECT:
        return owner or agent or filer  # who filed it typed it all in
    return False
