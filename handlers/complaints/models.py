"""Complaint tables: the complaint itself and the per-year counter its id comes from.

The timeline is the audit trail (record_type "complaint", record_id the human id), so nothing
here duplicates it; the columns hold the current state that rules and listings need.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.models import utcnow

MAX_CUSTOMER = 200
MAX_CONTACT = 200
MAX_SUMMARY = 160
MAX_DETAILS = 3000
MAX_TEXT = 2000  # response, solution, follow-up, note
MAX_REASON = 500


class Complaint(SQLModel, table=True):
    __tablename__ = "complaint"
    __table_args__ = (
        UniqueConstraint("year", "seq"),
        # list overdue / open, and the digest
        Index("ix_complaint_status_due", "status", "due_at"),
        Index("ix_complaint_owner", "owner_platform", "owner_id", "status"),
        # the weekly review's periods and the dashboard's newest-first list
        Index("ix_complaint_received", "received_at"),
        # `/complaint list`: its newest LIST_LIMIT rows read in this order, not every row of
        # the filter sorted (14.6 ms at 5,000 open complaints on SQLite)
        Index("ix_complaint_created", "created_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(max_length=24, unique=True)  # C-2026-0001
    year: int
    seq: int
    customer: str = Field(max_length=MAX_CUSTOMER)
    contact: str = Field(default="", max_length=MAX_CONTACT)
    channel: str = Field(max_length=16)  # how it arrived: phone, email, social, in_person, other
    summary: str = Field(max_length=MAX_SUMMARY)
    details: str = Field(max_length=MAX_DETAILS)
    severity: str = Field(max_length=16)
    status: str = Field(default="new", max_length=16)

    received_at: datetime
    due_at: datetime  # the response deadline; moves by the time spent paused
    responded_at: datetime | None = None
    response: str = Field(default="", max_length=MAX_TEXT)
    breached_at: datetime | None = None

    # The resolution deadline (LIAISON_COMPLAINT_RESOLVE); None on complaints older than it.
    resolve_due_at: datetime | None = None
    # Both clocks run in the working time of the complaints calendar. Since `run_since` they
    # have been running; what they consumed before (working seconds) is kept here.
    run_since: datetime | None = None
    response_worked: int = 0
    resolve_worked: int = 0
    # 0 before the breach; 1 at the breach (owner and escalations channel); 2, 3... as the
    # later levels of LIAISON_COMPLAINT_ESCALATE go out.
    escalation_level: int = 0

    paused_at: datetime | None = None
    pause_reason: str = Field(default="", max_length=MAX_REASON)
    paused_seconds: int = 0
    # Bumped whenever the clocks restart (resume, reopen) so reminders already sent for an
    # earlier deadline do not block the ones for the new deadline (their keys differ).
    clock_round: int = 0

    solution: str = Field(default="", max_length=MAX_TEXT)
    solution_at: datetime | None = None
    followup_due_at: datetime | None = None
    followup_nags: int = 0
    followup: str = Field(default="", max_length=MAX_TEXT)
    followup_at: datetime | None = None
    satisfaction: int | None = None
    satisfaction_comment: str = Field(default="", max_length=MAX_REASON)
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    close_reason: str = Field(default="", max_length=MAX_REASON)

    reporter_platform: str = Field(max_length=16)
    reporter_id: str = Field(max_length=128)
    reporter_name: str = Field(default="", max_length=200)
    owner_platform: str | None = Field(default=None, max_length=16)
    owner_id: str | None = Field(default=None, max_length=128)
    owner_name: str = Field(default="", max_length=200)

    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @property
    def has_owner(self) -> bool:
        return bool(self.owner_platform and self.owner_id)
