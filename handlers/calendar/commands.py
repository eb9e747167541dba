"""`/calendar` (日历): which working calendar a purpose or team runs on, the company's own
days off, and the next 30 days as a calendar sees them. Deadlines (the complaint clocks,
"next workday") are counted in the working time of these calendars; see bot/workcal.py."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from sqlmodel import select

from bot import teams, workcal
from bot.context import Ctx
from bot.errors import UserError
from bot.messages import Audience, Reply
from bot.router import Args, Registry
from handlers.calendar import DOMAIN, store
from handlers.calendar.models import MAX_DAY_NAME, MAX_SCOPE, CalendarChoice, CompanyDayOff

RECORD = "calendar"
SHOW_DAYS = 30
_SCOPE = re.compile(r"^[a-z][a-z0-9_-]*$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

def _install(registry: Registry) -> None:
    registry.calendar_source = store.calendar_for  # the core asks here for "workday"
    registry.person_calendar_source = store.person_calendar  # ... and for a person's


DOMAIN.install = _install


@DOMAIN.command("calendar", None, usage="calendar.cmd.main")
def calendar_main(ctx: Ctx, args: Args) -> Reply:
    return calendar_show(ctx, args)


@DOMAIN.command("calendar", "show", aliases=("查看", "显示"), usage="calendar.cmd.show")
def calendar_show(ctx: Ctx, args: Args) -> Reply:
    if args.get(0):
        scope, shown = _scope(ctx, args.get(0), required=False)
    else:  # the asker's own calendar: their team's, else the default
        team = store.person_team(ctx.session, ctx.member.platform, ctx.member.user_id)
        scope, shown = ((store.team_scope(team), team.name) if team is not None
                        else (store.DEFAULT_SCOPE, store.DEFAULT_SCOPE))
    cal = store.calendar_for(ctx.session, ctx.settings, scope)
    first = ctx.now.astimezone(cal.zone).date()
    days = [{"day": d, "working": w, "why": why, "weekday": d.weekday(),
             "period": _period_text(cal, d)} for d, w, why in workcal.days(cal, first, SHOW_DAYS)]
    own = store.choice(ctx.session, scope)
    return Reply("calendar/show", {
        "scope": shown, "name": cal.name, "hours": cal.hours_text, "always": cal.always,
        "zone": str(cal.zone), "days": days, "inherited": own is None,
        "working": sum(1 for d in days if d["working"]),
    }, audience=Audience.USER)


def _period_text(cal: workcal.Calendar, day: date) -> str:
    found = cal.period(day)
    if found is None or cal.always:
        return ""
    return f"{found[0]:%H:%M}-{found[1]:%H:%M}"


@DOMAIN.command("calendar", "set", aliases=("设置",), roles=("admin",), usage="calendar.cmd.set")
def calendar_set(ctx: Ctx, args: Args) -> Reply:
    scope, shown = _scope(ctx, args.get(0), required=True)
    name = (args.get(1) or "").strip().lower()
    hours = args.text_after(2)
    if not name:
        raise UserError("calendar/set_usage")
    if not workcal.known(name):
        raise UserError("calendar/unknown", name=name[:20])
    try:
        cal = workcal.build(name, ctx.settings.zone, hours or ctx.settings.calendar.hours)
    except workcal.CalendarError:
        raise UserError("calendar/bad_hours", text=hours[:60]) from None
    row = store.choice(ctx.session, scope) or CalendarChoice(scope=scope, calendar=name)
    old = None if row.id is None else f"{row.calendar} {row.hours}".strip()
    row.calendar, row.hours = cal.name, "" if cal.always else cal.hours_text
    row.set_by, row.set_at = ctx.actor, ctx.now
    ctx.session.add(row)
    ctx.audit(RECORD, scope, "set", {"calendar": [old, f"{row.calendar} {row.hours}".strip()]})
    return Reply("calendar/set", {"scope": shown, "name": cal.name, "hours": row.hours,
                                  "always": cal.always}, audience=Audience.USER)


@DOMAIN.command("calendar", "holiday", aliases=("假日", "休息日"), roles=("admin",),
                usage="calendar.cmd.holiday")
def calendar_holiday(ctx: Ctx, args: Args) -> Reply:
    action = (args.get(0) or "").lower()
    if action in ("add", "添加", "新增"):
        return _holiday_add(ctx, args)
    if action in ("remove", "rm", "delete", "删除", "移除"):
        return _holiday_remove(ctx, args)
    raise UserError("calendar/holiday_usage")


def _holiday_add(ctx: Ctx, args: Args) -> Reply:
    day = _date(args.get(1))
    name = unicodedata.normalize("NFC", args.text_after(2)).strip()
    if not name:
        raise UserError("calendar/holiday_usage")
    if len(name) > MAX_DAY_NAME:
        raise UserError("calendar/too_long", limit=MAX_DAY_NAME, length=len(name))
    row = ctx.session.exec(select(CompanyDayOff).where(CompanyDayOff.day == day)).first()
    if row is not None:
        old = row.name
        row.name = name
    else:
        old = None
        row = CompanyDayOff(day=day, name=name, added_by=ctx.actor, added_at=ctx.now)
    ctx.session.add(row)
    ctx.audit(RECORD, day.isoformat(), "holiday_add", {"name": [old, name]})
    return Reply("calendar/holiday_added", {"day": day, "name": name, "changed": old is not None,
                                            "past": day < ctx.now.astimezone(ctx.zone).date()},
                 audience=Audience.USER)


def _holiday_remove(ctx: Ctx, args: Args) -> Reply:
    day = _date(args.get(1))
    row = ctx.session.exec(select(CompanyDayOff).where(CompanyDayOff.day == day)).first()
    if row is None:
        raise UserError("calendar/holiday_missing", day=day.isoformat())
    ctx.session.delete(row)
    ctx.audit(RECORD, day.isoformat(), "holiday_remove", {"name": row.name})
    return Reply("calendar/holiday_removed", {"day": day, "name": row.name},
                 audience=Audience.USER)


def _scope(ctx: Ctx, raw: str | None, *, required: bool) -> tuple[str, str]:
    """(the scope kept, the name shown): `default`, a purpose, or a team (`/team`), whose
    calendar becomes its members' own. A purpose wins over a team of the same name."""
    word = (raw or "").strip().lower()
    if not word and not required:
        return store.DEFAULT_SCOPE, store.DEFAULT_SCOPE
    if word and word != store.DEFAULT_SCOPE and ctx.app.registry.purpose(word) is None:
        team = teams.find(ctx.session, raw or "")
        if team is not None:
            return store.team_scope(team), team.name
    if not word or len(word) > MAX_SCOPE or not _SCOPE.match(word):
        raise UserError("calendar/set_usage")
    return word, word


def _date(raw: str | None) -> date:
    text = (raw or "").strip()
    try:
        if not _DAY.match(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise UserError("calendar/bad_date", text=text[:20]) from None

