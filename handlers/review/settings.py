"""The review's settings (LIAISON_REVIEW_*)."""

from __future__ import annotations

from pydantic import Field, field_validator

from bot.config import Section, clock_time, env


class ReviewSettings(Section):
    # Monday's local time (LIAISON_TIMEZONE) at which last week's review is posted.
    time: str = Field("09:30", validation_alias=env("LIAISON_REVIEW_TIME"))

    @field_validator("time")
    @classmethod
    def _clock(cls, value: str) -> str:
        return clock_time(value)
