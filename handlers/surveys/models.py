"""Survey tables: the questionnaire (its questions are data, a JSON list), one invitation per
recipient (a private link whose token is stored only as its SHA-256, unique), and one
response per invitation, written in the transaction that spends the link."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from bot.models import utcnow

OPEN, CLOSED = "open", "closed"
# An e-mail invitation's delivery (handlers/surveys/mailer.py): QUEUED until a sender claims
# it, SENDING while claimed (a lease: a killed sender's claim is taken over when it expires),
# then SENT or FAILED (or CANCELLED, see below). "" for an SMS invitation or one whose link
# was listed for sending by hand (no LIAISON_SMTP_URL).
QUEUED, SENDING, SENT, FAILED = "queued", "sending", "sent", "failed"
CANCELLED = "cancelled"  # still queued when its survey was closed: never sent


class Survey(SQLModel, table=True):
    __tablename__ = "survey"

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(max_length=16, unique=True)  # S-2026-0001
    title: str = Field(max_length=200)
    # "complaint" or "partner" when made from a shipped questionnaire, else "custom": the
    # complaint one gathers the scores recorded on complaints in its rating question.
    template: str = Field(default="custom", max_length=16, index=True)
    # [{"id": "q1", "type": "rating"|"choice"|"text", "text": {"zh": …, "en": …},
    #   "options": [{"zh": …, "en": …}], "required": bool, "chat_scores": bool}]
    questions: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=OPEN, max_length=16)
    owner_platform: str = Field(max_length=16)
    owner_id: str = Field(max_length=128)
    owner_name: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None  # the end of the period whose chat scores it counts


class SurveyInvitation(SQLModel, table=True):
    __tablename__ = "survey_invitation"
    __table_args__ = (Index("ix_survey_invitation_complaint", "complaint_ref"),
                      Index("ix_survey_invitation_mail", "mail_status", "mail_due_at"),
                      Index("ix_survey_invitation_batch", "batch"))

    id: int | None = Field(default=None, primary_key=True)
    survey_id: int = Field(foreign_key="survey.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)  # sha256 hex of the link's token
    # An e-mailed invitation's link is rules.mail_token(LIAISON_WEB_SECRET, id, token_nonce):
    # one link for its whole life, whatever the tries of its e-mail.
    token_nonce: str = Field(default="", max_length=32)
    name: str = Field(default="", max_length=100)
    email: str = Field(default="", max_length=254)
    mobile: str = Field(default="", max_length=32)
    locale: str = Field(default="zh", max_length=8)  # the page's and the message's language
    channel: str = Field(max_length=8)  # email | sms
    complaint_ref: str = Field(default="", max_length=24)  # the complaint it follows up
    sent_at: datetime | None = None  # when the e-mail went out
    send_error: str = Field(default="", max_length=300)  # the last failure, as the server said
    mail_status: str = Field(default="", max_length=16)  # QUEUED … FAILED, see above
    mail_attempts: int = 0
    mail_due_at: datetime | None = None  # the next try (a temporary failure backs off)
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = None
    # The invitations one command queued: their inviter hears once how all of them went.
    batch: str = Field(default="", max_length=32)
    invited_by: str = Field(default="", max_length=160)
    expires_at: datetime
    used_at: datetime | None = None  # set once, in the transaction that stores the answers
    created_at: datetime = Field(default_factory=utcnow)


class SurveyResponse(SQLModel, table=True):
    __tablename__ = "survey_response"

    id: int | None = Field(default=None, primary_key=True)
    survey_id: int = Field(foreign_key="survey.id", index=True)
    invitation_id: int = Field(foreign_key="survey_invitation.id", unique=True)
    answers: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The follow-up action item a low score of a complaint's survey created (once).
    action_ref: str = Field(default="", max_length=16)
    submitted_at: datetime = Field(default_factory=utcnow)
