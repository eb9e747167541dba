"""How long an approved talking point stays verified."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from bot.config import Period, Section, env


class TalkingPointSettings(Section):
    review: Period = Field(timedelta(days=90), validation_alias=env("LIAISON_TP_REVIEW"))
