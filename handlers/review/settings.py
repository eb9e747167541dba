"""The review's settings (LIAISON_REVIEW_*)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from bot.config import Section, env


class ReviewSettings(Section):
    # Monday's local time (LIAISON_TIMEZONE) at which last week's review is posted.
    time: str = Field("09:30", validation_alias=env("LIAISON_REVIEW_TIME"))

    @field_validator("time")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", value.strip()):
            raise ValueError(f"{value!r} is not a time of day such as 09:30")
        return value.strip()
