"""The team's library of industry reports and background documents (手册 四(二) 4. 行业报告库)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from bot.models import utcnow

URL_MAX = 500
TITLE_MAX = 200
TAGS_MAX = 300


class Report(SQLModel, table=True):
    __tablename__ = "report"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=URL_MAX, unique=True)
    title: str = Field(max_length=TITLE_MAX)
    tags: str = Field(default="", max_length=TAGS_MAX)  # comma-joined, without '#'
    # title, tags and address folded (NFKC, case folded), as talking points are searched
    search_text: str = Field(max_length=URL_MAX + TITLE_MAX + TAGS_MAX + 2)
    added_by: str = Field(max_length=160)  # platform:user_id
    added_by_name: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
