"""Records written straight into the tables, with known figures (tests of the review and the
dashboard; the flows that create them are tested elsewhere)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from handlers.comm.models import CommRecord
from handlers.complaints.models import Complaint
from handlers.meetings.models import ActionItem, Meeting
from handlers.press.models import PressRelease
from handlers.talking_points.models import TalkingPoint

_seq = itertools.count(1)


def reset() -> None:
    """Number records from 1 again (each test seeds a fresh database)."""
    global _seq
    _seq = itertools.count(1)


def complaint(session: Session, received: datetime, *, sla: timedelta = timedelta(hours=24),
              responded: datetime | None = None, paused: timedelta = timedelta(0),
              reporter: tuple[str, str] = ("console", "alice"), **more: Any) -> Complaint:
    n = next(_seq)
    received = received.astimezone(UTC)  # deadlines count real hours, as the app's do
    row = Complaint(ref=f"C-{received.year}-{n:04d}", year=received.year, seq=n,
                    customer=more.pop("customer", f"Customer {n}"), channel="phone",
                    summary=more.pop("summary", f"Complaint {n}"), details="…",
                    severity="normal", status="responded" if responded else "new",
                    received_at=received, due_at=received + sla + paused,
                    responded_at=responded, paused_seconds=int(paused.total_seconds()),
                    reporter_platform=reporter[0], reporter_id=reporter[1],
                    reporter_name=reporter[1], **more)
    session.add(row)
    return row


def meeting(session: Session, starts: datetime, *, minutes: datetime | None = None,
            due_after: timedelta = timedelta(hours=3), status: str = "scheduled",
            organiser: tuple[str, str] = ("console", "alice")) -> Meeting:
    n = next(_seq)
    row = Meeting(ref=f"M-{starts.year}-{n:04d}", partner=f"Partner {n}", partner_key=f"p{n}",
                  title=f"Meeting {n}", starts_at=starts, duration_minutes=60,
                  organiser_platform=organiser[0], organiser_id=organiser[1],
                  organiser_name=organiser[1], status=status,
                  minutes_due_at=starts + due_after, minutes_at=minutes)
    session.add(row)
    session.flush()
    return row


def action(session: Session, meeting_row: Meeting, due: datetime, *,
           done: datetime | None = None, owner: tuple[str, str] = ("console", "alice")
           ) -> ActionItem:
    n = next(_seq)
    row = ActionItem(ref=f"A-{due.year}-{n:04d}", meeting_id=meeting_row.id, what=f"Task {n}",
                     owner_platform=owner[0], owner_id=owner[1], owner_name=owner[1],
                     due_at=due, status="done" if done else "open", done_at=done)
    session.add(row)
    return row


def comm(session: Session, *, executed: datetime | None = None,
         reviewed: datetime | None = None, score: int | None = None,
         owner: tuple[str, str] = ("console", "alice")) -> CommRecord:
    n = next(_seq)
    state = "reviewed" if reviewed else "executed" if executed else "prepared"
    row = CommRecord(ref=f"K-2026-{n:04d}", year=2026, seq=n, state=state,
                     owner_platform=owner[0], owner_id=owner[1], owner_name=owner[1],
                     audience="media", audience_name=f"Audience {n}", topic=f"Topic {n}",
                     goal="publish", goal_text="…", channel="email", executed_at=executed,
                     reviewed_at=reviewed, review_score=score)
    session.add(row)
    return row


def talking_point(session: Session, until: datetime, status: str = "approved") -> TalkingPoint:
    row = TalkingPoint(status=status, topic="Topic", question="Q?", answer="A.",
                       verified_until=until)
    session.add(row)
    return row


def press(session: Session, published: datetime | None,
          author: tuple[str, str] = ("console", "alice")) -> PressRelease:
    n = next(_seq)
    row = PressRelease(ref=f"P-2026-{n:04d}", year=2026, seq=n,
                       state="published" if published else "draft",
                       author_platform=author[0], author_id=author[1], author_name=author[1],
                       published_at=published)
    session.add(row)
    return row
