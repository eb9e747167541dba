"""`/remind`: my upcoming reminders, snoozing one, and (for admins) the failed ones. Also how
the reminder engine's own messages read: delivery failures, catch-up summaries and the daily
digest. (The quarterly training message is read in handlers/training/.)"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot.context import Ctx
from bot.errors import NotFound, PermissionDenied, UserError
from bot.messages import Audience, Choice, Reply
from bot.router import Args, Registry
from handlers.calendar.store import person_calendar
from handlers.reminders import DOMAIN
from schedules.api import snooze, snooze_time, wake_after_commit
from schedules.models import Reminder, Status
from schedules.scheduler import DIGEST
from schedules.worker import SUMMARY, SYSTEM_NOTICE

LIST_LIMIT = 20


def _install(registry: Registry) -> None:
    """The daily digest gathers the overdue items of every domain installed with this one."""

    @registry.reminder_kind(DIGEST)
    def digest(session: Session, reminder: Reminder, now: datetime) -> Reply | None:
        purpose = reminder.payload.get("purpose", reminder.target_id)
        items: list[dict[str, Any]] = []
        for provider in registry.digests:
            items += provider(session, now).get(purpose, [])
        if not items:
            return None
        return Reply("reminders/digest", {"items": items, "purpose": purpose})


DOMAIN.install = _install


@DOMAIN.command("remind", "list", aliases=("列表",), usage="reminders.cmd.list")
def remind_list(ctx: Ctx, args: Args) -> Reply:
    rows = ctx.session.exec(
        select(Reminder)
        .where(Reminder.target_kind == "member",
               Reminder.target_platform == ctx.member.platform,
               Reminder.target_id == ctx.member.user_id,
               col(Reminder.status).in_((Status.PENDING, Status.CLAIMED)))
        .order_by(col(Reminder.due_at))
        .limit(LIST_LIMIT)
    ).all()
    # A snoozable reminder can be pushed back an hour with one press (the App Home shows these).
    snooze = [Choice(f"/remind snooze {r.id} 1h", "reminders.snooze_item", ref=f"#{r.id}")
              for r in rows if r.snoozable]
    return Reply("reminders/list", {"rows": [_row(r) for r in rows]}, choices=snooze,
                 audience=Audience.USER)


@DOMAIN.command("remind", "snooze", aliases=("推迟", "稍后"), usage="reminders.cmd.snooze")
def remind_snooze(ctx: Ctx, args: Args) -> Reply:
    """Push a reminder back; a reminder already sent (its "remind me again" choices) comes
    back at the new time."""
    row = _own(ctx, args.get(0))
    if not row.snoozable:
        raise UserError("reminders/not_snoozable", id=row.id)
    when = args.text_after(1)
    if not when:
        raise UserError("reminders/snooze_usage")
    due = snooze_time(row, when, now=ctx.now, zone=ctx.zone,
                      cal=person_calendar(ctx.session, ctx.settings, ctx.member))
    old = row.due_at
    snooze(row, due)
    ctx.session.add(row)
    ctx.audit("reminder", str(row.id), "snooze",
              {"due_at": [old.isoformat(), due.isoformat()]})
    wake_after_commit(ctx.session, due)
    return Reply("reminders/snoozed", {"id": row.id, "due": due, "old": old},
                 audience=Audience.USER)


@DOMAIN.command("remind", "failed", aliases=("失败",), roles=("admin",),
                  usage="reminders.cmd.failed")
def remind_failed(ctx: Ctx, args: Args) -> Reply:
    rows = ctx.session.exec(
        select(Reminder).where(Reminder.status == Status.FAILED)
        .order_by(col(Reminder.due_at).desc()).limit(LIST_LIMIT)
    ).all()
    return Reply("reminders/failed", {"rows": [_row(r) for r in rows]},
                 audience=Audience.USER)


@DOMAIN.command("remind", "retry", aliases=("重试",), roles=("admin",),
                  usage="reminders.cmd.retry")
def remind_retry(ctx: Ctx, args: Args) -> Reply:
    row = _get(ctx, args.get(0))
    if row.status != Status.FAILED:
        raise UserError("reminders/not_failed", id=row.id)
    row.status, row.attempts, row.due_at = Status.PENDING, 0, ctx.now
    ctx.session.add(row)
    ctx.audit("reminder", str(row.id), "retry", {"last_error": row.last_error})
    wake_after_commit(ctx.session, ctx.now)
    return Reply("reminders/retrying", {"id": row.id}, audience=Audience.USER)


@DOMAIN.reminder_kind(SYSTEM_NOTICE)
def failed_notice(session: Session, reminder: Reminder, now: datetime) -> Reply | None:
    failed = session.get(Reminder, int(reminder.record_id))
    if failed is None or failed.status != Status.FAILED:
        return None
    return Reply("reminders/failed_notice", {"row": _row(failed)})


@DOMAIN.reminder_kind(SUMMARY)
def summary(session: Session, reminder: Reminder, now: datetime) -> Reply:
    return Reply("reminders/summary", {"items": reminder.payload.get("items", [])})


def _get(ctx: Ctx, raw: str | None) -> Reminder:
    ident = (raw or "").lstrip("#")
    row = ctx.session.get(Reminder, int(ident)) if ident.isdigit() else None
    if row is None:
        raise NotFound("reminders/not_found", id=raw or "")
    return row


def _own(ctx: Ctx, raw: str | None) -> Reminder:
    """A reminder of mine that may move: still waiting, or already received and snoozable.
    One being sent this moment (claimed) may not: the sender would mark it sent over the new
    time, and the answer "moved" would be untrue."""
    row = _get(ctx, raw)
    mine = (row.target_kind == "member" and row.target_platform == ctx.member.platform
            and row.target_id == ctx.member.user_id)
    if not mine:
        raise PermissionDenied("reminders/not_yours", id=row.id)
    if row.status != Status.PENDING and not (row.status == Status.SENT and row.snoozable):
        raise UserError("reminders/not_pending", id=row.id)
    return row


def _row(r: Reminder) -> dict[str, Any]:
    return {
        "id": r.id, "kind": r.kind, "record_type": r.record_type, "record_id": r.record_id,
        "due": r.due_at, "planned": r.planned_at, "error": r.last_error or "",
        "attempts": r.attempts, "target": f"{r.target_kind}:{r.target_platform}:{r.target_id}",
        "title": str(r.payload.get("title", "")),
        "stage": str(r.payload.get("stage", "")), "lead": r.payload.get("lead"),
    }
