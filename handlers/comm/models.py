"""Tables of the communication checklist: one row per external communication (prepared,
executed, reviewed) and the per-year counter behind its id (K-2026-0001)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.models import utcnow


class CommRecord(SQLModel, table=True):
    """One external communication: the plan (准备), the execution checklist (执行) and the
    review (复盘). A checklist step is done when its timestamp is set."""

    __tablename__ = "comm_record"
    __table_args__ = (
        UniqueConstraint("year", "seq"),
        Index("ix_comm_record_owner", "owner_platform", "owner_id"),
        Index("ix_comm_record_state", "state", "created_at"),
        Index("ix_comm_record_audience", "audience", "state"),
        # reviews due, and the weekly review's counts (the dashboard's overview)
        Index("ix_comm_record_executed", "state", "executed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(max_length=20, unique=True)
    year: int
    seq: int
    state: str = Field(max_length=16)
    owner_platform: str = Field(max_length=16)
    owner_id: str = Field(max_length=128)
    owner_name: str = Field(default="", max_length=200)

    # 准备
    audience: str = Field(max_length=16)
    audience_name: str = Field(max_length=100)
    topic: str = Field(max_length=80)
    goal: str = Field(max_length=16)
    goal_text: str = Field(max_length=300)
    materials: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    channel: str = Field(max_length=16)
    strategy: str = Field(default="", max_length=300)

    # 执行
    started_at: datetime | None = None
    contact_at: datetime | None = None
    contact_how: str = Field(default="", max_length=16)
    message_at: datetime | None = None
    message_text: str = Field(default="", max_length=500)
    feedback: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    feedback_done_at: datetime | None = None
    followup_at: datetime | None = None
    followup_how: str = Field(default="", max_length=16)
    executed_at: datetime | None = None

    # 复盘
    review_score: int | None = None
    review_measure: str = Field(default="", max_length=300)
    review_problem: str = Field(default="", max_length=16)
    review_problems: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    review_improve: str = Field(default="", max_length=500)
    reviewed_at: datetime | None = None

    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
