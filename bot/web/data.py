"""What the dashboard reads: one `Kind` per list (its table, columns, search, filters, and
who may see which rows, as a SQL condition), and the overview's four boxes.

Visibility is a WHERE clause, never a filter in Python, so a list, its export, a record page
and a count all obey the same rule: staff see their own records, agents the complaints,
approvers the talking points (and, with `pr`/`legal`, the press releases), admins everything.
A record that is not visible is "not found" (404), the same answer as one that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, true
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, func, select

from bot.models import AuditEntry
from bot.web.auth import Viewer
from handlers.comm.models import CommRecord
from handlers.complaints.models import Complaint
from handlers.complaints.rules import OPEN_STATUSES, STATUSES
from handlers.meetings.models import ActionItem, Meeting
from handlers.press.models import PressRelease
from handlers.talking_points.models import TalkingPoint

PAGE = 50  # rows per list page
OVERVIEW_ROWS = 20  # rows per overview box
EXPORT_LIMIT = 50_000


def _mine(model: Any, person: str, viewer: Viewer) -> ColumnElement[bool]:  # noqa: ANN401
    platform, user = viewer.key
    return and_(getattr(model, f"{person}_platform") == platform,
                getattr(model, f"{person}_id") == user)


def _complaints_seen(v: Viewer) -> ColumnElement[bool]:
    if v.has("agent"):
        return true()
    return or_(_mine(Complaint, "reporter", v), _mine(Complaint, "owner", v))


def _meetings_seen(v: Viewer) -> ColumnElement[bool]:
    return true() if v.has() else _mine(Meeting, "organiser", v)


def _actions_seen(v: Viewer) -> ColumnElement[bool]:
    return true() if v.has() else _mine(ActionItem, "owner", v)


def _comm_seen(v: Viewer) -> ColumnElement[bool]:
    return true() if v.has() else _mine(CommRecord, "owner", v)


def _points_seen(v: Viewer) -> ColumnElement[bool]:
    # Approved talking points are what everyone may say; the rest is the approvers' work.
    return true() if v.has("approver") else col(TalkingPoint.status) == "approved"


def _press_seen(v: Viewer) -> ColumnElement[bool]:
    return true() if v.has("pr", "legal") else _mine(PressRelease, "author", v)


@dataclass(frozen=True)
class Column:
    name: str  # the label key (web labels: col.<name>) and the attribute read
    attr: str = ""  # defaults to `name`

    def value(self, row: Any) -> Any:  # noqa: ANN401
        return getattr(row, self.attr or self.name)


@dataclass(frozen=True)
class Kind:
    name: str  # URL segment and label key: /dash/complaints
    model: Any
    key: str  # the column the record page is found by ("ref", or "id")
    columns: tuple[Column, ...]
    search: tuple[str, ...]
    status: str  # the column the status filter reads
    statuses: tuple[str, ...]
    order: Callable[[], tuple[Any, ...]]
    seen: Callable[[Viewer], ColumnElement[bool]]
    record_type: str = ""  # the audit trail's record_type
    due: str = ""  # a deadline column: rows past it (and still open) show in red
    open_states: tuple[str, ...] = field(default=())


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("complaints", Complaint, "ref",
         (Column("ref"), Column("customer"), Column("summary"), Column("severity"),
          Column("status"), Column("owner", "owner_name"), Column("received", "received_at"),
          Column("due", "due_at"), Column("responded", "responded_at")),
         ("ref", "customer", "summary"), "status",
         STATUSES,
         lambda: (col(Complaint.received_at).desc(), col(Complaint.id).desc()),
         _complaints_seen, "complaint", "due_at", ("new",)),
    Kind("meetings", Meeting, "ref",
         (Column("ref"), Column("partner"), Column("title"), Column("starts", "starts_at"),
          Column("organiser", "organiser_name"), Column("status"),
          Column("minutes", "minutes_at")),
         ("ref", "partner", "title"), "status", ("scheduled", "cancelled"),
         lambda: (col(Meeting.starts_at).desc(), col(Meeting.id).desc()),
         _meetings_seen, "meeting"),
    Kind("actions", ActionItem, "ref",
         (Column("ref"), Column("what"), Column("owner", "owner_name"), Column("due", "due_at"),
          Column("status"), Column("done", "done_at")),
         ("ref", "what", "owner_name"), "status", ("open", "done"),
         lambda: (col(ActionItem.due_at).desc(), col(ActionItem.id).desc()),
         _actions_seen, "action", "due_at", ("open",)),
    Kind("comm", CommRecord, "ref",
         (Column("ref"), Column("audience", "audience_name"), Column("topic"),
          Column("state"), Column("owner", "owner_name"), Column("executed", "executed_at"),
          Column("score", "review_score")),
         ("ref", "audience_name", "topic"), "state",
         ("prepared", "executing", "executed", "reviewed"),
         lambda: (col(CommRecord.created_at).desc(), col(CommRecord.id).desc()),
         _comm_seen, "comm"),
    Kind("talking_points", TalkingPoint, "id",
         (Column("id"), Column("topic"), Column("question"), Column("status"),
          Column("until", "verified_until")),
         ("topic", "question", "answer"), "status",
         ("pending", "approved", "rejected", "retired"),
         lambda: (col(TalkingPoint.updated_at).desc(), col(TalkingPoint.id).desc()),
         _points_seen, "talking_point"),
    Kind("press", PressRelease, "ref",
         (Column("ref"), Column("state"), Column("author", "author_name"),
          Column("published", "published_at")),
         ("ref", "author_name"), "state", ("draft", "review", "approved", "published"),
         lambda: (col(PressRelease.created_at).desc(), col(PressRelease.id).desc()),
         _press_seen, "press"),
)}
# Listed in the navigation, but no domain keeps them yet: the page says so.
ABSENT = ("disputes",)


@dataclass
class Page:
    rows: list[Any]
    total: int
    page: int
    pages: int


def _filtered(kind: Kind, viewer: Viewer, q: str, status: str) -> list[ColumnElement[bool]]:
    where = [kind.seen(viewer)]
    if status and status in kind.statuses:
        where.append(getattr(kind.model, kind.status) == status)
    for term in q.split()[:5]:
        where.append(or_(*(col(getattr(kind.model, c)).like(_like(term), escape="\\")
                           for c in kind.search)))
    return where


def list_page(session: Session, kind: Kind, viewer: Viewer, *, q: str = "", status: str = "",
              page: int = 1) -> Page:
    where = _filtered(kind, viewer, q, status)
    total = session.exec(select(func.count()).select_from(kind.model).where(*where)).one()
    pages = max(1, -(-total // PAGE))
    page = min(max(1, page), pages)
    rows = session.exec(select(kind.model).where(*where).order_by(*kind.order())
                        .offset((page - 1) * PAGE).limit(PAGE)).all()
    return Page(list(rows), total, page, pages)


def export_rows(session: Session, kind: Kind, viewer: Viewer, *, q: str = "",
                status: str = "") -> list[Any]:
    where = _filtered(kind, viewer, q, status)
    return list(session.exec(select(kind.model).where(*where).order_by(*kind.order())
                             .limit(EXPORT_LIMIT)).all())


def record(session: Session, kind: Kind, viewer: Viewer, key: str) -> Any | None:  # noqa: ANN401
    column = getattr(kind.model, kind.key)
    if kind.key == "id":
        if not key.isdigit():
            return None
        value: Any = int(key)
    else:
        value = key.upper()
    return session.exec(select(kind.model).where(column == value,
                                                 kind.seen(viewer))).first()


def timeline(session: Session, kind: Kind, row: Any) -> list[AuditEntry]:  # noqa: ANN401
    ident = str(getattr(row, kind.key))
    return list(session.exec(select(AuditEntry).where(AuditEntry.record_id == ident)
                             .order_by(col(AuditEntry.at), col(AuditEntry.id))
                             .limit(500)).all())


def overdue(kind: Kind, row: Any, now: datetime) -> bool:  # noqa: ANN401
    if not kind.due:
        return False
    due = getattr(row, kind.due)
    state = getattr(row, kind.status)
    paused = getattr(row, "paused_at", None) is not None
    return due is not None and due < now and state in kind.open_states and not paused


def overview(session: Session, viewer: Viewer, now: datetime,
             comm_review_after: timedelta) -> dict[str, Any]:
    """Open complaints by time left (overdue first), meetings past their minutes deadline
    without minutes, overdue action items, and /comm records whose review is due."""
    complaints = session.exec(
        select(Complaint).where(col(Complaint.status).in_(OPEN_STATUSES),
                                _complaints_seen(viewer))
        .order_by(col(Complaint.due_at), col(Complaint.id)).limit(OVERVIEW_ROWS)).all()
    no_minutes = session.exec(
        select(Meeting).where(Meeting.status == "scheduled", col(Meeting.minutes_at).is_(None),
                              col(Meeting.minutes_due_at) <= now, _meetings_seen(viewer))
        .order_by(col(Meeting.minutes_due_at), col(Meeting.id)).limit(OVERVIEW_ROWS)).all()
    actions = session.exec(
        select(ActionItem).where(ActionItem.status == "open", col(ActionItem.due_at) < now,
                                 _actions_seen(viewer))
        .order_by(col(ActionItem.due_at), col(ActionItem.id)).limit(OVERVIEW_ROWS)).all()
    reviews = session.exec(
        select(CommRecord).where(CommRecord.state == "executed",
                                 col(CommRecord.reviewed_at).is_(None),
                                 col(CommRecord.executed_at) <= now - comm_review_after,
                                 _comm_seen(viewer))
        .order_by(col(CommRecord.executed_at), col(CommRecord.id)).limit(OVERVIEW_ROWS)).all()
    return {"complaints": list(complaints), "no_minutes": list(no_minutes),
            "actions": list(actions), "reviews": list(reviews)}


__all__ = ["ABSENT", "KINDS", "Kind", "Page", "export_rows", "list_page",
           "overdue", "overview", "record", "timeline"]
