"""How often a communication tip goes to the training channel."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from bot.config import Period, Section, env


class TrainingSettings(Section):
    # One tip per period (whole days; 1w by default), on the period's first working day.
    tip_every: Period = Field(timedelta(weeks=1), validation_alias=env("LIAISON_TIP_EVERY"))
