"""The calendar that applies: to a purpose or team (`/calendar set`), else the default
(LIAISON_CALENDAR), always with the company's days off. Other domains ask here.

A person's calendar is their team's: of the teams they are in, the first by name (as
`/team list` orders them) that has a calendar set; without one, the default calendar."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from bot import teams, workcal
from bot.models import Team
from handlers.calendar.models import CalendarChoice, CompanyDayOff

DEFAULT_SCOPE = "default"


def choice(session: Session, scope: str) -> CalendarChoice | None:
    return session.exec(select(CalendarChoice).where(CalendarChoice.scope == scope)).first()


def days_off(session: Session) -> dict[date, str]:
    rows = session.exec(select(CompanyDayOff).order_by(col(CompanyDayOff.day))).all()
    return {r.day: r.name for r in rows}


def calendar_for(session: Session, settings: Any, scope: str = DEFAULT_SCOPE) -> workcal.Calendar:  # noqa: ANN401
    """The calendar of a purpose or team (falling back to the default's). Kept per process
    (bot/cache.py): three queries on every complaint list or deadline otherwise; any
    `/calendar` change in this process drops them all, another replica's shows within 15 s."""
    db = session.info.get("database")
    cache = None if db is None else db.cached("calendars", (CalendarChoice, CompanyDayOff))
    if cache is not None and not cache.unchanged_by(session):
        cache = None  # this transaction changes calendars: ask the database
    key = (scope, settings.calendar.default, settings.calendar.hours, str(settings.zone))
    if cache is not None and (cal := cache.get(key)) is not None:
        return cal
    generation = None if cache is None else cache.generation
    found = choice(session, scope) or choice(session, DEFAULT_SCOPE)
    if found is not None:
        name, hours = found.calendar, found.hours
    else:
        name, hours = settings.calendar.default, settings.calendar.hours
    cal = workcal.build(name, settings.zone, hours or settings.calendar.hours,
                        days_off(session))
    if cache is not None:
        cache.put(key, cal, generation)
    return cal


def team_scope(team: Team) -> str:
    """The scope a team's calendar is kept under (its id: a purpose may share its name)."""
    return f"team:{team.id}"


def person_team(session: Session, platform: str, user_id: str) -> Team | None:
    """The team whose calendar is the person's: their first team by name with one set."""
    mine = teams.teams_of(session, platform, user_id)
    if not mine:
        return None
    set_ = set(session.exec(select(CalendarChoice.scope).where(
        col(CalendarChoice.scope).in_([team_scope(t) for t in mine]))).all())
    return next((t for t in mine if team_scope(t) in set_), None)


def person_scope(session: Session, platform: str, user_id: str) -> str:
    """The scope of a person's calendar: their team's (see person_team), else the default."""
    team = person_team(session, platform, user_id)
    return DEFAULT_SCOPE if team is None else team_scope(team)


def person_calendar(session: Session, settings: Any,  # noqa: ANN401
                    member: Any = None) -> workcal.Calendar:  # noqa: ANN401
    """A person's calendar (see the module's note); the default one without a person."""
    if member is None:
        return calendar_for(session, settings, DEFAULT_SCOPE)
    return calendar_for(session, settings,
                        person_scope(session, member.platform, member.user_id))


def forget_team(session: Session, team: Team) -> None:
    """A deleted team's calendar goes with it (a new team may get its id)."""
    found = choice(session, team_scope(team))
    if found is not None:
        session.delete(found)


def spec(cal: workcal.Calendar) -> dict[str, str] | None:
    """What a reminder's payload keeps of its calendar, so that its message (rendered with no
    settings at hand) can say how much working time is left. None under 24x7."""
    if cal.always:
        return None
    return {"name": cal.name, "hours": cal.hours_text, "zone": str(cal.zone)}


def from_spec(session: Session, found: dict[str, str] | None) -> workcal.Calendar:
    from zoneinfo import ZoneInfo

    if not found:
        return workcal.build(workcal.ALWAYS, workcal.CHINA_ZONE)
    return workcal.build(found["name"], ZoneInfo(found["zone"]), found["hours"],
                         days_off(session))
