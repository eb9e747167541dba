"""Talking points: the approved answer to a question, as the company says it outside.

A `TalkingPoint` is the stable thing people cite by number (#12) and holds the copy that is
served: the content of its approved version, who verified it and until when. Each proposal or
edit is a `TalkingPointVersion`; an edit waits as a pending version while the approved copy
keeps serving, so what staff say outside never changes before someone approved the change.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from bot.models import utcnow

LANGUAGES = ("zh", "en")
TOPIC_MAX, QUESTION_MAX, ANSWER_MAX = 120, 500, 2000
TAG_MAX, TAGS_MAX = 30, 10


class PointStatus(StrEnum):
    PENDING = "pending"  # proposed, never approved: not served
    APPROVED = "approved"  # has an approved copy: served while verified_until is ahead
    REJECTED = "rejected"  # its only proposal was rejected
    RETIRED = "retired"  # no longer said


class VersionStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"  # the copy being served
    SUPERSEDED = "superseded"  # was approved, replaced by a later approved version
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"  # replaced by a newer edit before anyone decided, or retired


class TalkingPoint(SQLModel, table=True):
    __table_args__ = (
        Index("ix_talkingpoint_status_until", "status", "verified_until"),
        # Searching finds the points whose topic is the query itself (migration 0017).
        Index("ix_talkingpoint_topic_lower", text("lower(topic)")),
        # Searching reads which points have lapsed, per language, from this alone (0018).
        Index("ix_talkingpoint_lapsed", "status", "verified_until", "language"),
    )

    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(default=PointStatus.PENDING, max_length=16)
    # The served copy (empty until a version is approved).
    live_version: int | None = None
    topic: str = Field(default="", max_length=TOPIC_MAX)
    question: str = Field(default="", max_length=QUESTION_MAX)
    answer: str = Field(default="", max_length=ANSWER_MAX)
    tags: str = Field(default="", max_length=400)  # "refund,complaint": comma-joined
    language: str = Field(default="zh", max_length=8)
    # NFKC + casefold of the served copy: the one column searches match, so a query means the
    # same on SQLite and PostgreSQL and the full-text/trigram indexes have one column to cover.
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    verified_by: str = Field(default="", max_length=160)  # platform:user_id
    verified_by_name: str = Field(default="", max_length=200)
    verified_at: datetime | None = None
    verified_until: datetime | None = None
    created_by: str = Field(default="", max_length=160)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    def serve(self, version: TalkingPointVersion) -> None:
        self.live_version = version.number
        self.topic, self.question, self.answer = version.topic, version.question, version.answer
        self.tags, self.language = version.tags, version.language
        self.search_text = fold("\n".join((version.topic, version.question, version.answer,
                                           version.tags.replace(",", " "))))

    def in_date(self, now: datetime) -> bool:
        return (self.status == PointStatus.APPROVED and self.verified_until is not None
                and self.verified_until > now)


# Searching walks one language's served points in its tie-break order (most recently verified
# first, then the oldest) and stops at the first few whose topic holds the query (0017).
Index("ix_talkingpoint_walk", TalkingPoint.status, TalkingPoint.language,
      TalkingPoint.verified_at.desc(), TalkingPoint.id)


class TalkingPointVersion(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("point_id", "number"),
        Index("ix_talkingpointversion_status", "status", "point_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    point_id: int = Field(foreign_key="talkingpoint.id")
    number: int
    status: str = Field(default=VersionStatus.PENDING, max_length=16)
    topic: str = Field(max_length=TOPIC_MAX)
    question: str = Field(max_length=QUESTION_MAX)
    answer: str = Field(max_length=ANSWER_MAX)
    tags: str = Field(default="", max_length=400)
    language: str = Field(max_length=8)
    source: str = Field(default="chat", max_length=16)  # chat | import
    proposed_by: str = Field(max_length=160)  # platform:user_id, or "import"
    proposed_by_name: str = Field(default="", max_length=200)
    proposed_at: datetime = Field(default_factory=utcnow)
    decided_by: str = Field(default="", max_length=160)
    decided_by_name: str = Field(default="", max_length=200)
    decided_at: datetime | None = None
    reason: str = Field(default="", max_length=500)


def fold(text: str) -> str:
    """What searching compares: full-width letters and digits as ASCII, case folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def tag_list(tags: str) -> list[str]:
    return [t for t in tags.split(",") if t]
