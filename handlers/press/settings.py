"""How long reviewers have before they are reminded, and where exports are written."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from bot.config import Period, Section, env


class PressSettings(Section):
    review: Period = Field(timedelta(hours=4), validation_alias=env("LIAISON_PRESS_REVIEW"))
    export_dir: str = Field("exports", validation_alias=env("LIAISON_PRESS_EXPORT_DIR"))
