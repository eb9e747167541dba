"""Words admins added to the principles check (`liaison principles import FILE`), beside the
lists shipped in data/."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.models import utcnow


class PrincipleWord(SQLModel, table=True):
    __tablename__ = "principle_word"
    __table_args__ = (UniqueConstraint("category", "word"),)

    id: int | None = Field(default=None, primary_key=True)
    category: str = Field(max_length=16)  # absolute, vague, emotional, discriminatory, allow
    word: str = Field(max_length=100)
    added_at: datetime = Field(default_factory=utcnow)
