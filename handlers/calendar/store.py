"""The calendar that applies: to a purpose or team (`/calendar set`), else the default
(LIAISON_CALENDAR), always with the company's days off. Other domains ask here."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from bot import workcal
from handlers.calendar.models import CalendarChoice, CompanyDayOff

DEFAULT_SCOPE = "default"


def choice(session: Session, scope: str) -> CalendarChoice | None:
    return session.exec(select(CalendarChoice).where(CalendarChoice.scope == scope)).first()


def days_off(session: Session) -> dict[date, str]:
    rows = session.exec(select(CompanyDayOff).order_by(col(CompanyDayOff.day))).all()
    return {r.day: r.name for r in rows}


def calendar_for(session: Session, settings: Any, scope: str = DEFAULT_SCOPE) -> workcal.Calendar:  # noqa: ANN401
    """The calendar of a purpose or team (falling back to the default's)."""
    found = choice(session, scope) or choice(session, DEFAULT_SCOPE)
    if found is not None:
        name, hours = found.calendar, found.hours
    else:
        name, hours = settings.calendar.default, settings.calendar.hours
    return workcal.build(name, settings.zone, hours or settings.calendar.hours,
                         days_off(session))


def person_calendar(session: Session, settings: Any) -> workcal.Calendar:  # noqa: ANN401
    """A person's calendar: the default one (there is no per-person choice yet)."""
    return calendar_for(session, settings, DEFAULT_SCOPE)


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
