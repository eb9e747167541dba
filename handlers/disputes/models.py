"""Dispute tables: the dispute (what the file is about and its current state, derived from
the entries as they are added) and its entries, the written file itself: never updated, never
deleted; a later entry supersedes an earlier one by naming it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.models import utcnow

OPEN, CLOSED = "open", "closed"


class Dispute(SQLModel, table=True):
    __tablename__ = "dispute"
    __table_args__ = (
        Index("ix_dispute_partner", "partner_key", "status"),
        Index("ix_dispute_owner", "owner_platform", "owner_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(max_length=16, unique=True)  # D-2026-0001
    partner: str = Field(max_length=200)
    partner_key: str = Field(max_length=200)  # folded as meetings fold it, to find its records
    subject: str = Field(max_length=300)
    stake: str = Field(default="", max_length=200)
    owner_platform: str = Field(max_length=16)
    owner_id: str = Field(max_length=128)
    owner_name: str = Field(default="", max_length=200)
    status: str = Field(default=OPEN, max_length=16)
    # The current next step and mediation: copies of the latest such entries, for reminders
    # and listings; the entries are the record.
    next_step: str = Field(default="", max_length=300)
    next_at: datetime | None = None
    mediator: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    mediation_at: datetime | None = None
    outcome: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    closed_at: datetime | None = None
    entries: int = 0  # how many entries the file holds: the next one is entries + 1
    last_entry_at: datetime = Field(default_factory=utcnow)
    created_at: datetime = Field(default_factory=utcnow)


class DisputeEntry(SQLModel, table=True):
    """One written entry: a point, a side's position on it, a proposal, an agreement, an
    escalation, a log line (a message summary), an attachment link, the mediator, the next
    step, a link to another record, the closing outcome."""

    __tablename__ = "dispute_entry"
    __table_args__ = (UniqueConstraint("dispute_id", "n"),)

    id: int | None = Field(default=None, primary_key=True)
    dispute_id: int = Field(foreign_key="dispute.id", index=True)
    n: int  # #1, #2… within the dispute
    kind: str = Field(max_length=16)
    point: int | None = None  # P1, P2… the point it is about
    side: str = Field(default="", max_length=8)  # ours | theirs, for a position or proposal
    text: str = Field(sa_column=Column(Text, nullable=False))
    extra: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    supersedes: int | None = None  # the entry number this one replaces (both are shown)
    by_platform: str = Field(max_length=16)
    by_id: str = Field(max_length=128)
    by_name: str = Field(default="", max_length=200)
    at: datetime = Field(default_factory=utcnow)
