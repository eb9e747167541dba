"""Tables of press releases (新闻稿): the release people cite (P-2026-0001), each version of
its text, and the reviewers' decisions on a version."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.models import utcnow

HEADLINE_MAX, BACKGROUND_MAX, FACT_MAX, CONTACT_MAX, LINK_MAX = 120, 2000, 500, 200, 500


class PressRelease(SQLModel, table=True):
    """One release: its state, whose it is, and which version is current. The text lives in
    its versions."""

    __tablename__ = "press_release"
    __table_args__ = (UniqueConstraint("year", "seq"), Index("ix_press_release_state", "state"))

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(max_length=20, unique=True)
    year: int
    seq: int
    state: str = Field(max_length=16)  # draft, review, approved, published
    author_platform: str = Field(max_length=16)
    author_id: str = Field(max_length=128)
    author_name: str = Field(default="", max_length=200)
    version: int = 1  # the current version's number
    published_at: datetime | None = None
    published_by: str = Field(default="", max_length=160)
    published_to: str = Field(default="", max_length=200)
    comm_ref: str = Field(default="", max_length=20)  # the /comm record opened on publishing
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class PressVersion(SQLModel, table=True):
    __tablename__ = "press_version"
    __table_args__ = (UniqueConstraint("release_ref", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    release_ref: str = Field(max_length=20, index=True)
    number: int
    headline: str = Field(max_length=HEADLINE_MAX)
    background: str = Field(sa_column=Column(Text, nullable=False))
    facts: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    contact_name: str = Field(max_length=CONTACT_MAX)
    contact_way: str = Field(max_length=CONTACT_MAX)  # a phone number or an email address
    logo: str = Field(default="", max_length=LINK_MAX)
    logo_file_id: int | None = None  # an uploaded logo (PressUpload), placed in the export
    # Links, and uploaded images as {"id" (PressUpload), "name", "size", "kb"}.
    images: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    planned_at: datetime | None = None  # embargo or planned release time
    legal: bool = True  # needs legal review
    created_by: str = Field(max_length=160)
    created_by_name: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)


class PressDecision(SQLModel, table=True):
    """A reviewer's decision on one version: `approved`, or `changes` (requested)."""

    __tablename__ = "press_decision"
    __table_args__ = (Index("ix_press_decision_release", "release_ref", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    release_ref: str = Field(max_length=20)
    version: int
    side: str = Field(max_length=8)  # pr, legal
    decision: str = Field(max_length=8)
    by: str = Field(max_length=160)
    by_name: str = Field(default="", max_length=200)
    note: str = Field(default="", max_length=500)
    at: datetime = Field(default_factory=utcnow)


class PressUpload(SQLModel, table=True):
    """A logo image (PNG or JPEG) someone sent the bot for a release: kept with its bytes, so
    the Word export can place it. Versions point at it; an edit keeps pointing at the same one."""

    __tablename__ = "press_upload"

    id: int | None = Field(default=None, primary_key=True)
    filename: str = Field(max_length=200)
    mime: str = Field(max_length=100)
    size: int
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False), repr=False)
    uploaded_by: str = Field(max_length=160)
    created_at: datetime = Field(default_factory=utcnow)
