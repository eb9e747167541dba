"""The glossary (专业性原则:使用准确术语): approved terms and the forms to avoid."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from bot.models import utcnow

TERM_MAX = 60


class GlossaryTerm(SQLModel, table=True):
    __tablename__ = "glossary_term"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=TERM_MAX, unique=True)  # the term, NFKC and case folded
    term: str = Field(max_length=TERM_MAX)
    preferred: str = Field(max_length=TERM_MAX)
    avoid: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    added_by: str = Field(max_length=160)
    added_by_name: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
