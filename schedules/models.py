"""The reminder outbox: one row per message that must go out at a time."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from bot.models import utcnow


class Status(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Reminder(SQLModel, table=True):
    __table_args__ = (
        # The sweep's two questions: which pending rows are due, which leases expired.
        Index("ix_reminder_status_due", "status", "due_at"),
        Index("ix_reminder_status_lease", "status", "lease_until"),
        Index("ix_reminder_record", "record_type", "record_id"),
        Index("ix_reminder_target", "target_kind", "target_platform", "target_id", "status"),
        # Outbound messages of one conversation go out in id order: is an earlier one open?
        Index("ix_reminder_conversation", "conversation", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)  # idempotency: one message per key, ever
    kind: str = Field(max_length=64)
    record_type: str = Field(default="", max_length=32)
    record_id: str = Field(default="", max_length=64)
    due_at: datetime  # when the next attempt may run
    planned_at: datetime  # when it was meant to go out (lateness is measured from here)
    target_kind: str = Field(max_length=16)  # member | purpose | channel
    target_platform: str = Field(default="", max_length=16)
    target_id: str = Field(max_length=128)
    status: str = Field(default=Status.PENDING, max_length=16)
    attempts: int = 0
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = None
    last_error: str | None = Field(default=None, max_length=500)
    snoozable: bool = True
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    # A reply's conversation (platform, place, person): such rows are sent strictly in order.
    conversation: str | None = Field(default=None, max_length=300)
