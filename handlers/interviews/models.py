"""The interview table (采访): one row per interview, its preparation, its sign-off and its
debrief."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.models import utcnow


class Interview(SQLModel, table=True):
    __tablename__ = "interview"
    __table_args__ = (UniqueConstraint("year", "seq"), Index("ix_interview_state", "state"))

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(max_length=20, unique=True)
    year: int
    seq: int
    state: str = Field(max_length=16)  # planned, confirmed, debriefed
    owner_platform: str = Field(max_length=16)
    owner_id: str = Field(max_length=128)
    owner_name: str = Field(default="", max_length=200)
    outlet: str = Field(max_length=100)
    journalist: str = Field(max_length=100)
    topic: str = Field(max_length=120)
    at: datetime
    format: str = Field(max_length=16)  # phone, video, in_person, written
    spokesperson_platform: str = Field(max_length=16)
    spokesperson_id: str = Field(max_length=128)
    spokesperson_name: str = Field(default="", max_length=200)
    questions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    legal: bool = False  # legal signs off too
    # [{"side": "pr", "by": "platform:id", "name": ..., "at": iso}]
    signoffs: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False))
    confirmed_at: datetime | None = None
    unprepared: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    correction: str = Field(default="", sa_column=Column(Text, nullable=False))
    debriefed_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
