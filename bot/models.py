"""The core's tables: members and their roles, channel routes, conversations in progress,
inbound events already seen, and the audit trail. Domain tables live with their handlers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

# Pydantic builds each table's validator and serializer on first use rather than when the
# class is made: the 32 tables are all defined at start-up, and most runs use a few of them
# (about a tenth of start-up's CPU). Set here, before any table: every models module imports
# this one (schedules/models.py, handlers/*/models.py).
SQLModel.model_config["defer_build"] = True

ROLES = ("admin", "approver", "agent", "staff")
PURPOSES = ("complaints", "escalations", "meetings", "talking_points", "training")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Member(SQLModel, table=True):
    """A person on one platform. Locale and time zone are None until known."""

    __table_args__ = (UniqueConstraint("platform", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    user_id: str = Field(max_length=128)
    display_name: str = Field(default="", max_length=200)
    locale: str | None = Field(default=None, max_length=8)
    timezone: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class MemberRole(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("member_id", "role"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    role: str = Field(max_length=16, index=True)
    granted_by: str = Field(default="", max_length=160)
    granted_at: datetime = Field(default_factory=utcnow)


class ChannelRoute(SQLModel, table=True):
    """Which channel serves a purpose (complaints, meetings, ...) on a platform."""

    __table_args__ = (UniqueConstraint("purpose", "platform"),)

    id: int | None = Field(default=None, primary_key=True)
    purpose: str = Field(max_length=32)
    platform: str = Field(max_length=16)
    workspace: str = Field(default="", max_length=128)
    channel_id: str = Field(max_length=128)
    bound_by: str = Field(default="", max_length=160)
    bound_at: datetime = Field(default_factory=utcnow)


class Conversation(SQLModel, table=True):
    """A flow in progress, one per (platform, channel, user), so a restart or another replica
    picks it up at the same step."""

    __table_args__ = (UniqueConstraint("platform", "channel_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    channel_id: str = Field(max_length=128)
    user_id: str = Field(max_length=128)
    thread_id: str | None = Field(default=None, max_length=128)
    flow: str = Field(max_length=64)
    step: str = Field(max_length=64)
    answers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    history: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    context: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    started_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)


class InboundEvent(SQLModel, table=True):
    """Platform event ids already handled: platforms redeliver."""

    __table_args__ = (UniqueConstraint("platform", "event_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    event_id: str = Field(max_length=200)
    received_at: datetime = Field(default_factory=utcnow, index=True)


class DingTalkInbox(SQLModel, table=True):
    """DingTalk robot messages acknowledged but not yet handled (bot/adapters/dingtalk_inbox.py):
    written before the ACK, deleted in the transaction that handles the message; what is left
    a minute later is claimed and handled again, at start and every half minute, until
    INBOX_MAX_AGE after it was sent or its session webhook expires (bot/adapters/dingtalk.py).
    DingTalk does not send an acknowledged message again."""

    __tablename__ = "dingtalk_inbox"
    __table_args__ = (UniqueConstraint("msg_id"),)

    id: int | None = Field(default=None, primary_key=True)
    msg_id: str = Field(max_length=200)
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    received_at: datetime = Field(default_factory=utcnow)
    # When a replica last claimed it to answer it again (the lease; received_at stays the time
    # it was recorded, from which its age counts).
    claimed_at: datetime | None = None


class AuditEntry(SQLModel, table=True):
    """Who changed what, when. Append-only."""

    __table_args__ = (Index("ix_audit_record", "record_type", "record_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(max_length=160)
    record_type: str = Field(max_length=32)
    record_id: str = Field(max_length=64)
    action: str = Field(max_length=32)
    changes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class RecordCounter(SQLModel, table=True):
    """The last number handed out per id prefix and year (C-2026-0001 style ids of every
    record type; see bot.records.RecordIds)."""

    __tablename__ = "record_counter"

    prefix: str = Field(max_length=4, primary_key=True)
    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last: int = 0


class Team(SQLModel, table=True):
    """A group of members (公关部, Customer service…) that figures are given per: training
    attendance, and later a team's calendar or the zone a channel's team reads times in.
    Members may belong to several teams; a team has members of any platform."""

    __table_args__ = (UniqueConstraint("name_key"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    name_key: str = Field(max_length=64)  # the name folded: `PR`, `pr` and `ＰＲ` are one team
    timezone: str | None = Field(default=None, max_length=64)  # None: the bot's default zone
    created_by: str = Field(default="", max_length=160)
    created_at: datetime = Field(default_factory=utcnow)


class TeamMember(SQLModel, table=True):
    __tablename__ = "team_member"
    __table_args__ = (UniqueConstraint("team_id", "member_id"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    added_by: str = Field(default="", max_length=160)
    added_at: datetime = Field(default_factory=utcnow)


class TeamChannel(SQLModel, table=True):
    """A channel tied to a team (`/team channel NAME`, run in the channel): what is posted
    there for everyone (the weekly review) reads its periods in the team's time zone. A
    channel belongs to one team at most; a team may have several channels."""

    __tablename__ = "team_channel"
    __table_args__ = (UniqueConstraint("platform", "channel_id"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    platform: str = Field(max_length=16)
    workspace: str = Field(default="", max_length=128)
    channel_id: str = Field(max_length=128)
    tied_by: str = Field(default="", max_length=160)
    tied_at: datetime = Field(default_factory=utcnow)


class WebLogin(SQLModel, table=True):
    """A one-time sign-in link to the dashboard (`/liaison dashboard`). Only the token's
    SHA-256 is kept, so the table read by someone else signs nobody in; `used_at` is set by
    the one request that may use it (an UPDATE that checks it is still empty)."""

    __tablename__ = "web_login"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None
