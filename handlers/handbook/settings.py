"""Which edition of the handbook `/handbook` answers from."""

from __future__ import annotations

from pydantic import Field, FilePath

from bot.config import Section, env


class HandbookSettings(Section):
    # A company's own edition (Markdown, as templates/zh/handbook.md) and, for English
    # readers, its summaries (as templates/en/handbook/summaries.yaml); unset, the shipped ones.
    handbook_file: FilePath | None = Field(None, validation_alias=env("LIAISON_HANDBOOK"))
    summaries_file: FilePath | None = Field(
        None, validation_alias=env("LIAISON_HANDBOOK_SUMMARIES"))
