"""When a meeting's agenda and its minutes are due."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field

from bot.config import Period, Section, env


class MeetingSettings(Section):
    agenda_lead: Period = Field(timedelta(hours=24), validation_alias=env("LIAISON_AGENDA_LEAD"))
    minutes_due: Period = Field(timedelta(hours=2), validation_alias=env("LIAISON_MINUTES_DUE"))
    # "next-workday": minutes are due by the end of the next working day of the meetings
    # calendar (see /calendar) instead of LIAISON_MINUTES_DUE after the meeting.
    minutes_by: Literal["", "next-workday"] = Field(
        "", validation_alias=env("LIAISON_MINUTES_BY"))
