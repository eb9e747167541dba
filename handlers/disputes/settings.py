"""When an open dispute with no new entry reminds its owner."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from bot.config import Period, Section, env


class DisputeSettings(Section):
    # No entry (position, proposal, log...) for this long: the owner is reminded, then weekly.
    stale: Period = Field(timedelta(days=7), validation_alias=env("LIAISON_DISPUTE_STALE"))
