"""Partner meetings and their action items: the tables, the human-friendly ids, and the small
rules about them (when reminders fall due, what counts as overdue) as plain functions."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

from bot.messages import Mention
from bot.models import utcnow
from bot.records import RecordIds

SCHEDULED = "scheduled"
CANCELLED = "cancelled"
OPEN = "open"
DONE = "done"

# The agenda reminder repeats this long before the start when it is still unsent.
AGENDA_LAST_CALL = timedelta(hours=2)
# After this many daily minutes reminders the meetings channel is told as well.
MINUTES_ESCALATE_AFTER = 2


class Meeting(SQLModel, table=True):
    __tablename__ = "meeting"
    __table_args__ = (
        Index("ix_meeting_partner_start", "partner_key", "starts_at"),
        Index("ix_meeting_status_start", "status", "starts_at"),
        # meetings without minutes past their deadline (the dashboard's overview)
        Index("ix_meeting_minutes_missing", "minutes_at", "minutes_due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(max_length=16, unique=True)  # M-2026-0001
    partner: str = Field(max_length=200)
    partner_key: str = Field(max_length=200)  # the partner's name folded, to find earlier ones
    title: str = Field(max_length=200)
    starts_at: datetime
    duration_minutes: int
    organiser_platform: str = Field(max_length=16)
    organiser_id: str = Field(max_length=128)
    organiser_name: str = Field(default="", max_length=200)
    # [{"platform", "user_id", "name"}] for members, [{"name"}] for people outside the company
    attendees: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    agenda: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    materials: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # 视频会议: the link attendees join by, shown in the agenda and the reminders.
    video_url: str = Field(default="", max_length=500)
    channel_kind: str = Field(default="purpose", max_length=16)  # purpose | channel
    channel_platform: str = Field(default="", max_length=16)
    channel_id: str = Field(default="", max_length=128)
    status: str = Field(default=SCHEDULED, max_length=16)
    # The end plus LIAISON_MINUTES_DUE at planning time: when minutes count as missing.
    minutes_due_at: datetime
    agenda_sent_at: datetime | None = None
    minutes_at: datetime | None = None
    minutes_by: str = Field(default="", max_length=160)
    summary: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    decisions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Bumped on every reschedule: reminders carry it, so one planned for the old time is void.
    rev: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes)

    @property
    def organiser(self) -> Mention:
        return Mention(self.organiser_platform, self.organiser_id, self.organiser_name)

    def members(self) -> list[dict[str, Any]]:
        return [a for a in self.attendees if a.get("user_id")]

    def involves(self, platform: str, user_id: str) -> bool:
        if (self.organiser_platform, self.organiser_id) == (platform, user_id):
            return True
        return any((a.get("platform"), a.get("user_id")) == (platform, user_id)
                   for a in self.attendees)


class ActionItem(SQLModel, table=True):
    __tablename__ = "meeting_action"
    __table_args__ = (
        Index("ix_action_status_due", "status", "due_at"),
        Index("ix_action_owner", "owner_platform", "owner_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(max_length=16, unique=True)  # A-2026-0001
    # Where the item was agreed: a meeting's minutes (meeting_id set) or a training session's
    # log (origin "training", origin_ref T-2027-0001). One table, so `/action done`, the
    # reminders, the lists and the digest serve both.
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id", index=True)
    origin: str = Field(default="meeting", max_length=16)
    origin_ref: str = Field(default="", max_length=16)
    what: str = Field(max_length=300)
    owner_platform: str = Field(max_length=16)
    owner_id: str = Field(max_length=128)
    owner_name: str = Field(default="", max_length=200)
    due_at: datetime
    status: str = Field(default=OPEN, max_length=16)
    done_at: datetime | None = None
    done_note: str = Field(default="", max_length=500)
    rev: int = 0  # bumped on reassign and on a new due time, as Meeting.rev
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @property
    def owner(self) -> Mention:
        return Mention(self.owner_platform, self.owner_id, self.owner_name)


MEETING_IDS, ACTION_IDS = RecordIds("M"), RecordIds("A")


def partner_key(name: str) -> str:
    """`ACME  Ltd`, `acme ltd` and `ＡＣＭＥ Ltd` are one partner."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())[:200]


# -- when reminders fall due ---------------------------------------------------------------


def agenda_reminder_times(
    start: datetime, lead: timedelta, now: datetime
) -> list[datetime]:
    """The lead-time reminder and the last call, leaving out those already past (a meeting
    planned 5 hours ahead gets only the last call) and one that would duplicate the other."""
    times = sorted({start - lead, start - AGENDA_LAST_CALL})
    return [t for t in times if now < t < start]


def action_reminder_times(due: datetime, now: datetime) -> list[tuple[str, datetime]]:
    """A day before (unless that is already past) and at the due time."""
    out = []
    if due - timedelta(days=1) > now:
        out.append(("before", due - timedelta(days=1)))
    out.append(("due", due))
    return out


def next_daily(planned: datetime, now: datetime, zone: ZoneInfo) -> datetime:
    """The same wall-clock time on the next day that is still ahead of `now` (a reminder sent
    late does not make the next one late too, nor bunch several together)."""
    local = planned.astimezone(zone)
    nxt = local + timedelta(days=1)
    while nxt <= now:
        nxt += timedelta(days=1)
    return nxt.astimezone(planned.tzinfo)


# An agenda item may end with its planned minutes: `价格 20m`, `Pricing 20 min`, `回顾 15分钟`.
_ITEM_MINUTES = re.compile(
    r"^(?P<text>.*?)[\s(（]+(?P<n>\d{1,3})\s*(?:m|min|mins|minutes|分钟|分)[)）]?$", re.I)


def agenda_item(line: str) -> dict[str, Any]:
    """One agenda line as text and its minutes (None when it names none)."""
    match = _ITEM_MINUTES.match(unicodedata.normalize("NFKC", line).strip())
    if match is None or not match.group("text").strip():
        return {"text": line, "minutes": None}
    return {"text": match.group("text").strip(), "minutes": int(match.group("n"))}


def agenda_timing(agenda: list[str], length_minutes: int) -> dict[str, Any]:
    """会中高效: each item with its running total, the total planned and whether it runs over
    the meeting's length."""
    items, running = [], 0
    for line in agenda:
        item = agenda_item(line)
        running += item["minutes"] or 0
        items.append({**item, "running": running if item["minutes"] else None})
    timed = any(i["minutes"] for i in items)
    return {"items": items, "timed": timed, "total": running, "length": length_minutes,
            "over": timed and running > length_minutes,
            "over_by": max(0, running - length_minutes)}


# A link to a video-meeting service given among the materials is the meeting's video link.
VIDEO_HOSTS = ("zoom.us", "zoom.com", "meet.google.com", "teams.microsoft.com", "teams.live.com",
               "webex.com", "meeting.tencent.com", "voovmeeting.com", "meeting.dingtalk.com",
               "vc.feishu.cn", "meet.jit.si", "whereby.com")
_URL = re.compile(r"https?://[^\s<>\"]+", re.I)
_VIDEO_PREFIX = re.compile(r"^(?:video|视频(?:会议)?|会议链接)\s*[:：=]?\s*", re.I)


def video_link_of(text: str) -> str | None:
    """`https://zoom.us/j/123`, or any link after `video:` / `视频:`; None otherwise."""
    line = unicodedata.normalize("NFKC", text).strip()
    marked = _VIDEO_PREFIX.match(line) is not None and _VIDEO_PREFIX.sub("", line) != line
    match = _URL.search(line)
    if match is None:
        return None
    url = match.group(0).rstrip(".,);")
    host = url.split("/", 3)[2].split(":")[0].lower()
    known = any(host == h or host.endswith("." + h) for h in VIDEO_HOSTS)
    return url if (known or marked) and len(url) <= 500 else None


def minutes_missing(meeting: Meeting, now: datetime) -> bool:
    return (
        meeting.status == SCHEDULED
        and meeting.minutes_at is None
        and meeting.minutes_due_at <= now
    )


def is_overdue(item: ActionItem, now: datetime) -> bool:
    return item.status == OPEN and item.due_at < now
