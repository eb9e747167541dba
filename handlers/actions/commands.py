"""`/action`: the action items that partner-meeting minutes create. Each has an owner and a
due date; the owner is reminded a day before, at the due time, then daily while it is open."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, col, select

from bot import members, parsers, records, workcal
from bot.context import Ctx
from bot.errors import InvalidAnswer, UserError
from bot.messages import Audience, Choice, Reply
from bot.router import Args
from handlers.actions import DOMAIN
from handlers.calendar.store import from_spec, spec
from handlers.meetings.models import (
    ACTION_IDS,
    DONE,
    OPEN,
    ActionItem,
    Meeting,
    action_reminder_times,
    is_overdue,
    next_daily,
)
from schedules import api
from schedules.api import Target

PURPOSE = "meetings"
DUE = "action.due"
LIST_LIMIT = 30
LATE_DUE = timedelta(hours=1)


def zone_named(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def view(session: Session, item: ActionItem, now: datetime | None = None,
         cal: workcal.Calendar | None = None) -> dict[str, Any]:
    """An item as shown; with the owner's calendar `cal` (not 24x7), the working hours left
    before it is due ("2.5"), when it is open and not due yet."""
    meeting = session.get(Meeting, item.meeting_id) if item.meeting_id is not None else None
    working = None
    if cal is not None and not cal.always and now is not None and item.status == OPEN \
            and item.due_at > now:
        left = workcal.working_between(cal, now, item.due_at)
        working = f"{round(left.total_seconds() / 3600, 1):g}"
    return {
        "working_hours": working,
        "ref": item.ref, "what": item.what, "owner": item.owner, "due": item.due_at,
        "status": item.status, "done_at": item.done_at, "note": item.done_note,
        "meeting": meeting.ref if meeting else "", "partner": meeting.partner if meeting else "",
        "origin": item.origin, "origin_ref": item.origin_ref,
        "overdue": now is not None and is_overdue(item, now),
    }


def owner_calendar(ctx: Ctx, item: ActionItem) -> workcal.Calendar:
    """The owner's working calendar: their team's, else the default."""
    owner = members.find(ctx.session, item.owner_platform, user_id=item.owner_id)
    return ctx.app.registry.person_calendar(ctx.session, ctx.settings, owner)


def organiser_of(session: Session, item: ActionItem) -> tuple[str, str] | None:
    """Who organised what the item came from: the meeting, or the training session."""
    if item.meeting_id is not None:
        meeting = session.get(Meeting, item.meeting_id)
        return (meeting.organiser_platform, meeting.organiser_id) if meeting else None
    if item.origin == "training":
        # Imported here: the training package imports meetings, which imports this module.
        from handlers.training.models import TrainingSession

        row = session.exec(select(TrainingSession)
                           .where(TrainingSession.ref == item.origin_ref)).first()
        return (row.organiser_platform, row.organiser_id) if row else None
    return None


def _organises_origin(ctx: Ctx, item: ActionItem) -> bool:
    return organiser_of(ctx.session, item) == (ctx.member.platform, ctx.member.user_id)


# The owner, the organiser of the meeting (or training) it came from, and admins.
CHANGERS = records.Who("actions/not_allowed", people=("owner",), roles=("admin",),
                       rule=_organises_origin)


def owner_zone(session: Session, item: ActionItem, fallback: ZoneInfo) -> ZoneInfo:
    member = members.find(session, item.owner_platform, user_id=item.owner_id)
    return zone_named(member.timezone) if member and member.timezone else fallback


# -- creating and reminding ------------------------------------------------------------------


def create(ctx: Ctx, meeting: Meeting | None, entry: dict[str, Any], ref: str, *,
           origin: str = "meeting", origin_ref: str = "") -> ActionItem:
    """An action item from a meeting's minutes, or (no meeting) from another record's
    follow-up, named by `origin` and `origin_ref` (a training session's log)."""
    owner = entry["owner"]
    item = ActionItem(
        ref=ref, meeting_id=meeting.id if meeting else None, what=entry["what"],
        origin=origin, origin_ref=meeting.ref if meeting else origin_ref,
        owner_platform=owner["platform"], owner_id=owner["user_id"],
        owner_name=owner.get("name", ""), due_at=datetime.fromisoformat(entry["due"]),
        created_at=ctx.now, updated_at=ctx.now,
    )
    ctx.session.add(item)
    ctx.session.flush()
    plan_reminders(ctx, item)
    ctx.audit("action", item.ref, "create", {
        origin: item.origin_ref, "what": item.what, "owner": f"{owner['platform']}:"
        f"{owner['user_id']}", "due": entry["due"],
    })
    return item


def plan_reminders(ctx: Ctx, item: ActionItem) -> None:
    """A day before and at the due time; the daily overdue ones are planned one at a time as
    each goes out (see render_due). Keys carry the item's revision, so a new owner or due
    time gets fresh reminders even where the old ones were already sent."""
    api.cancel(ctx.session, record_type="action", record_id=item.ref, kinds=[DUE])
    if item.status != OPEN:
        return
    zone = owner_zone(ctx.session, item, ctx.app.settings.zone)
    # The owner's calendar, kept so that the reminder can say how many working hours are left.
    cal = spec(owner_calendar(ctx, item))
    for stage, due in action_reminder_times(item.due_at, ctx.now):
        api.plan(
            ctx.session, key=f"action:{item.ref}:r{item.rev}:{stage}", kind=DUE, due=due,
            target=Target.member(item.owner_platform, item.owner_id),
            record_type="action", record_id=item.ref,
            payload={"rev": item.rev, "stage": stage, "n": 0, "title": item.what,
                     "zone": zone.key, **({"calendar": cal} if cal else {}),
                     **({api.DEADLINE: item.due_at.isoformat()}
                                          if stage == "before" else {})},
        )


def _due_stage(item: ActionItem | None, reminder: Any, now: datetime) -> str | None:
    """What a due reminder of `item` says now: before, due or overdue; None for nothing."""
    if item is None or item.status != OPEN or reminder.payload.get("rev") != item.rev:
        return None
    stage = reminder.payload.get("stage", "due")
    if stage == "before" and now >= item.due_at:
        return None  # sent late (after downtime): "due soon" would be wrong, "due" follows
    if stage == "due" and now - item.due_at > LATE_DUE:
        return "overdue"  # sent late after downtime: say what it is now
    return stage


def _item_of(session: Session, reminder: Any) -> ActionItem | None:
    return session.exec(select(ActionItem).where(ActionItem.ref == reminder.record_id)).first()


def render_due(session: Session, reminder: Any, now: datetime) -> Reply | None:
    item = _item_of(session, reminder)
    stage = _due_stage(item, reminder, now)
    if item is None or stage is None:
        return None
    cal = from_spec(session, reminder.payload.get("calendar"))
    return Reply("actions/due", {"a": view(session, item, now, cal), "stage": stage,
                                 "overdue_by": now - item.due_at})


def due_sent(session: Session, reminder: Any, now: datetime) -> None:
    """Daily while overdue: the next one is planned as this one goes out."""
    item = _item_of(session, reminder)
    stage = _due_stage(item, reminder, now)
    if item is None or stage in (None, "before"):
        return
    n = int(reminder.payload.get("n", 0)) + 1
    api.plan(
        session, key=f"action:{item.ref}:r{item.rev}:overdue:{n}", kind=DUE,
        due=next_daily(reminder.planned_at, now, zone_named(reminder.payload.get("zone"))),
        target=Target.member(item.owner_platform, item.owner_id),
        record_type="action", record_id=item.ref,
        payload={**reminder.payload, "stage": "overdue", "n": n},
    )


def overdue_items(session: Session, now: datetime) -> dict[str, list[dict[str, Any]]]:
    rows = session.exec(
        select(ActionItem).where(ActionItem.status == OPEN, col(ActionItem.due_at) < now)
        .order_by(col(ActionItem.due_at))
    ).all()
    items = [{"id": i.ref, "title": i.what, "due": i.due_at, "owner": i.owner_name}
             for i in rows]
    return {PURPOSE: items} if items else {}


# -- commands --------------------------------------------------------------------------------


@DOMAIN.command("action", "list", aliases=("列表",), usage="actions.cmd.list")
def action_list(ctx: Ctx, args: Args) -> Reply:
    word = (args.get(0) or "mine").lower()
    which = {"mine": "mine", "我的": "mine", "open": "open", "未完成": "open",
             "overdue": "overdue", "逾期": "overdue"}.get(word)
    if which is None:
        raise UserError("actions/usage_list")
    query = select(ActionItem).where(ActionItem.status == OPEN)
    if which == "mine":
        query = query.where(ActionItem.owner_platform == ctx.member.platform,
                            ActionItem.owner_id == ctx.member.user_id)
    elif which == "overdue":
        query = query.where(col(ActionItem.due_at) < ctx.now)
    rows = ctx.session.exec(
        query.order_by(col(ActionItem.due_at), col(ActionItem.id)).limit(LIST_LIMIT)
    ).all()
    # The person's own items can be marked done with one press (the App Home shows these).
    done = [Choice(f"/action done {i.ref}", "actions.done_item", ref=i.ref)
            for i in rows if which == "mine"]
    # Their own items: the working hours left by their calendar.
    cal = (ctx.app.registry.person_calendar(ctx.session, ctx.settings, ctx.member)
           if which == "mine" else None)
    return Reply("actions/list", {
        "which": which, "rows": [view(ctx.session, i, ctx.now, cal) for i in rows],
        "limit": LIST_LIMIT,
    }, choices=done, audience=Audience.USER)


@DOMAIN.command("action", "done", aliases=("完成",), usage="actions.cmd.done")
def action_done(ctx: Ctx, args: Args) -> list[Reply]:
    item = _changeable(ctx, args, "actions/usage_done")
    note = parsers.text(max_len=500, min_len=0)(args.text_after(1), ctx)
    item.status, item.done_at, item.done_note = DONE, ctx.now, note
    item.updated_at = ctx.now
    ctx.session.add(item)
    api.cancel(ctx.session, record_type="action", record_id=item.ref)
    ctx.audit("action", item.ref, "done", {"status": [OPEN, DONE], "note": note})
    replies = [Reply("actions/done", {"a": view(ctx.session, item, ctx.now)})]
    organiser = organiser_of(ctx.session, item)
    if organiser and organiser != (ctx.member.platform, ctx.member.user_id):
        replies.append(Reply("actions/done_note", {"a": view(ctx.session, item),
                                                   "by": ctx.me},
                             audience=Audience.MEMBER, member=organiser))
    return replies


@DOMAIN.command("action", "reassign", aliases=("转交", "改派"),
                  usage="actions.cmd.reassign")
def action_reassign(ctx: Ctx, args: Args) -> list[Reply]:
    item = _changeable(ctx, args, "actions/usage_reassign")
    if not args.get(1):
        raise UserError("actions/usage_reassign")
    try:
        owner = parsers.parse_mention(args.get(1) or "", ctx)
    except InvalidAnswer as exc:
        raise UserError(exc.template, **exc.params) from None
    old = f"{item.owner_platform}:{item.owner_id}"
    item.owner_platform, item.owner_id = owner["platform"], owner["user_id"]
    item.owner_name = owner["name"]
    item.rev += 1
    item.updated_at = ctx.now
    ctx.session.add(item)
    plan_reminders(ctx, item)
    ctx.audit("action", item.ref, "reassign",
              {"owner": [old, f"{owner['platform']}:{owner['user_id']}"]})
    values = {"a": view(ctx.session, item, ctx.now), "by": ctx.me}
    replies = [Reply("actions/reassigned", values)]
    if (owner["platform"], owner["user_id"]) != (ctx.member.platform, ctx.member.user_id):
        replies.append(Reply("actions/assigned_note", values, audience=Audience.MEMBER,
                             member=(owner["platform"], owner["user_id"])))
    return replies


@DOMAIN.command("action", "due", aliases=("截止", "延期"), usage="actions.cmd.due")
def action_due(ctx: Ctx, args: Args) -> Reply:
    item = _changeable(ctx, args, "actions/usage_due")
    text = args.text_after(1)
    if not text:
        raise UserError("actions/usage_due")
    due = datetime.fromisoformat(parsers.when(future_only=True)(text, ctx))
    old = item.due_at
    item.due_at, item.updated_at = due, ctx.now
    item.rev += 1
    ctx.session.add(item)
    plan_reminders(ctx, item)
    ctx.audit("action", item.ref, "due", {"due": [old.isoformat(), due.isoformat()]})
    return Reply("actions/due_changed", {"a": view(ctx.session, item, ctx.now), "old": old})

DOMAIN.reminder_kind(DUE, on_sent=due_sent)(render_due)
DOMAIN.digest(overdue_items)


def _changeable(ctx: Ctx, args: Args, usage: str) -> ActionItem:
    if not args.get(0):
        raise UserError(usage)
    item = records.load_allowed(ctx, ActionItem, ACTION_IDS, args.get(0), CHANGERS,
                                missing="actions/not_found")
    if item.status != OPEN:
        raise UserError("actions/already_done", ref=item.ref, at=item.done_at)
    return item
