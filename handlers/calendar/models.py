"""Calendar tables: which calendar a purpose or team works by, and the company's days off."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from bot.models import utcnow

MAX_SCOPE = 32
MAX_DAY_NAME = 100


class CalendarChoice(SQLModel, table=True):
    __tablename__ = "calendar_choice"

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=MAX_SCOPE, unique=True)  # a purpose, a team, or "default"
    calendar: str = Field(max_length=16)  # 24x7, cn, or a country code
    hours: str = Field(default="", max_length=200)  # as bot.workcal.parse_hours reads them
    set_by: str = Field(default="", max_length=160)
    set_at: datetime = Field(default_factory=utcnow)


class CompanyDayOff(SQLModel, table=True):
    __tablename__ = "calendar_day_off"

    id: int | None = Field(default=None, primary_key=True)
    day: date = Field(unique=True)
    name: str = Field(max_length=MAX_DAY_NAME)
    added_by: str = Field(default="", max_length=160)
    added_at: datetime = Field(default_factory=utcnow)
