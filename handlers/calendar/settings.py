"""The calendar settings: the default calendar and its working hours."""

from __future__ import annotations

from pydantic import Field, field_validator

from bot import workcal
from bot.config import Section, env


class CalendarSettings(Section):
    # 24x7 keeps every deadline on the wall clock, as before calendars existed.
    default: str = Field(workcal.ALWAYS, validation_alias=env("LIAISON_CALENDAR"))
    hours: str = Field(workcal.DEFAULT_HOURS, validation_alias=env("LIAISON_CALENDAR_HOURS"))

    @field_validator("default")
    @classmethod
    def _known(cls, value: str) -> str:
        if not workcal.known(value):
            raise ValueError(f"unknown calendar {value!r}; use 24x7, cn or a country code "
                             "such as us, gb, de")
        return value.strip().lower()

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        try:
            workcal.parse_hours(value)
        except workcal.CalendarError:
            raise ValueError(f"{value!r} is not working hours such as 09:00-18:00 or "
                             "'mon-fri 09:00-18:00, sat 10:00-14:00'") from None
        return value
