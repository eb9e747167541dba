"""When a communication's follow-up and its review are due."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from bot.config import Period, Section, env


class CommSettings(Section):
    followup: Period = Field(timedelta(days=2), validation_alias=env("LIAISON_COMM_FOLLOWUP"))
    review: Period = Field(timedelta(days=7), validation_alias=env("LIAISON_COMM_REVIEW"))
