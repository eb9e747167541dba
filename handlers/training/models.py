"""Quarterly communication trainings (手册 五(一): every quarter, a senior expert, case
analysis): the session as planned, and who came."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.messages import Mention
from bot.models import utcnow
from bot.records import RecordIds

TRAINING_IDS = RecordIds("T")
# The handbook's four skills (五(二)): 语言表达、情绪管理、跨文化沟通、技术工具应用(新媒体).
SKILLS = ("language", "emotion", "cross_cultural", "new_media")
# Reminders before the session: the organiser when the speaker is unconfirmed, the training
# channel with the agenda and the cases, and everyone invited.
SPEAKER_CHECK = timedelta(days=21)
ANNOUNCE = (timedelta(days=7), timedelta(days=1))
INVITEES_BEFORE = timedelta(hours=1)


def quarter_of(local: datetime) -> str:
    return f"{local.year}-Q{(local.month - 1) // 3 + 1}"


class TrainingSession(SQLModel, table=True):
    __tablename__ = "training_session"
    __table_args__ = (Index("ix_training_quarter", "quarter", "starts_at"),)

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(max_length=16, unique=True)  # T-2027-0001
    quarter: str = Field(max_length=8)  # 2027-Q1, of the start in the team's zone
    starts_at: datetime
    place: str = Field(max_length=300)  # a room or a video link
    speaker: str = Field(max_length=300)  # name, organisation, contact; or a member
    speaker_confirmed_at: datetime | None = None
    topics: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Picked when planning, copied so the agenda reads the same later: ref, kind (comm or
    # complaint), title, score (comm review), problem (comm review problem type).
    cases: list[dict[str, Any]] = Field(default_factory=list,
                                        sa_column=Column(JSON, nullable=False))
    invitees: list[dict[str, Any]] = Field(default_factory=list,
                                           sa_column=Column(JSON, nullable=False))
    organiser_platform: str = Field(max_length=16)
    organiser_id: str = Field(max_length=128)
    organiser_name: str = Field(default="", max_length=200)
    # After the session (`/training log`): notes, the cases discussed (as `cases`), and the
    # follow-up actions: what, owner (platform, user_id, name), due (ISO).
    notes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    discussed: list[dict[str, Any]] = Field(default_factory=list,
                                            sa_column=Column(JSON, nullable=False))
    actions: list[dict[str, Any]] = Field(default_factory=list,
                                          sa_column=Column(JSON, nullable=False))
    logged_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def organiser(self) -> Mention:
        return Mention(self.organiser_platform, self.organiser_id, self.organiser_name)


class TrainingAttendance(SQLModel, table=True):
    __tablename__ = "training_attendance"
    __table_args__ = (UniqueConstraint("session_id", "platform", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="training_session.id", index=True)
    platform: str = Field(max_length=16)
    user_id: str = Field(max_length=128)
    name: str = Field(default="", max_length=200)
    at: datetime = Field(default_factory=utcnow)
