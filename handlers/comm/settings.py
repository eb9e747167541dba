"""When a communication's follow-up, its review and an unanswered question are due."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from bot.config import Period, Section, env


class CommSettings(Section):
    followup: Period = Field(timedelta(days=2), validation_alias=env("LIAISON_COMM_FOLLOWUP"))
    review: Period = Field(timedelta(days=7), validation_alias=env("LIAISON_COMM_REVIEW"))
    # 互动反馈: a question the other side asked and nobody answered reminds its owner.
    answer: Period = Field(timedelta(days=1), validation_alias=env("LIAISON_COMM_ANSWER"))
