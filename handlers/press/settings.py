"""How long reviewers have before they are reminded, and the logo exports carry."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field, field_validator

from bot.config import Period, Section, env

# What python-docx can place in a document (docx.image: PNG, JPEG, GIF, BMP, TIFF).
LOGO_TYPES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff")


class PressSettings(Section):
    review: Period = Field(timedelta(hours=4), validation_alias=env("LIAISON_PRESS_REVIEW"))
    # The company logo, an image file on the bot's host, placed at the top of each exported
    # Word document; empty: no picture (the release's logo link is still named).
    logo: str = Field("", validation_alias=env("LIAISON_PRESS_LOGO"))

    @field_validator("logo")
    @classmethod
    def _an_image_file(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return value
        path = Path(value)
        if path.suffix.lower() not in LOGO_TYPES:
            raise ValueError(f"{value!r} is not a PNG, JPEG, GIF, BMP or TIFF image")
        if not path.is_file():
            raise ValueError(f"{value!r}: no such file")
        return value

    @property
    def logo_path(self) -> Path | None:
        return Path(self.logo) if self.logo else None
