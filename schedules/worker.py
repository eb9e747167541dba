"""The sweep: claim due reminders atomically, render them as they are now, deliver them
through the adapters, and record the outcome.

Claiming is one statement, in one place. On PostgreSQL a `FOR UPDATE SKIP LOCKED` selection
in a materialised CTE, so concurrent sweepers take disjoint rows without waiting; on SQLite
`UPDATE ... RETURNING` inside a BEGIN IMMEDIATE transaction, which serialises writers. A claim
carries a lease: a process that dies after claiming loses its rows when the lease expires, and
another sweeper takes them over. Delivery happens outside any transaction, so a slow platform
never holds a database lock.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlmodel import Session, col

from bot.core import Liaison
from bot.errors import DeliveryError
from bot.messages import Outbound, Reply
from schedules import api
from schedules.api import Target
from schedules.models import Reminder, Status

log = logging.getLogger(__name__)

LATE_AFTER = timedelta(minutes=1)
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
SYSTEM_NOTICE = "system.delivery_failed"
SUMMARY = "system.summary"


@dataclass
class _Prepared:
    id: int
    key: str
    outbounds: list[Outbound]
    done: set[str]


@dataclass
class SweepResult:
    sent: list[Outbound] = field(default_factory=list)
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0
    summarised: int = 0


class Sweeper:
    def __init__(
        self,
        app: Liaison,
        adapters: Mapping[str, object],
        *,
        owner: str | None = None,
        batch: int = 500,
        rng: random.Random | None = None,
    ) -> None:
        self.app = app
        self.adapters = adapters
        self.owner = owner or f"sweeper-{uuid.uuid4().hex[:12]}"
        self.batch = batch
        self.rng = rng or random.Random()
        self.settings = app.settings

    # -- claiming ---------------------------------------------------------------------------

    def claim(self, now: datetime, limit: int | None = None) -> list[int]:
        """Take up to `limit` due rows (and rows whose lease expired) for this sweeper."""
        table = Reminder.__table__
        c = table.c
        due = or_(
            and_(c.status == Status.PENDING, c.due_at <= now),
            and_(c.status == Status.CLAIMED, c.lease_until < now),
        )
        values = {
            "status": Status.CLAIMED,
            "lease_owner": self.owner,
            "lease_until": now + self.settings.reminder_lease,
            "attempts": c.attempts + 1,
        }
        pick = select(c.id).where(due).order_by(c.due_at, c.id).limit(limit or self.batch)
        if self.app.db.dialect == "postgresql":
            chosen = pick.with_for_update(skip_locked=True).cte("due").prefix_with("MATERIALIZED")
            stmt = update(table).where(c.id == chosen.c.id)
        else:
            stmt = update(table).where(c.id.in_(pick.scalar_subquery()))
        stmt = stmt.values(**values).returning(c.id)
        with self.app.db.session() as session:
            return list(session.execute(stmt).scalars().all())

    # -- the sweep --------------------------------------------------------------------------

    def sweep(self, now: datetime | None = None) -> SweepResult:
        """Deliver everything due now; loops until nothing due is left."""
        result = SweepResult()
        while True:
            current = now_or(now)
            ids = self.claim(current)
            if not ids:
                return result
            stale = self._summarise_stale(ids, current, result)
            prepared = self._prepare([rid for rid in ids if rid not in stale], current, result)
            sent = [p.id for p in prepared if self._deliver(p, current, result)]
            self._mark_sent(sent, current)
            # Loop until nothing is due: summaries and admin notices planned in this round
            # are due at once. Retries are not, since their backoff puts them in the future.

    def _prepare(self, ids: list[int], now: datetime, result: SweepResult) -> list[_Prepared]:
        """Render each claimed reminder as its record is now, in one transaction. Reminders
        with nothing left to say are dropped here."""
        if not ids:
            return []
        prepared = []
        with self.app.db.session() as session:
            rows = session.execute(
                select(Reminder).where(col(Reminder.id).in_(ids)).order_by(col(Reminder.due_at))
            ).scalars().all()
            for row in rows:
                if row.status != Status.CLAIMED or row.lease_owner != self.owner:
                    continue  # someone else's now (our lease expired)
                kind = self.app.registry.reminder_kinds.get(row.kind)
                reply = kind.render(session, row, now) if kind else None
                if reply is None:
                    row.status = Status.CANCELLED
                    row.last_error = "nothing_to_say" if kind else f"unknown_kind:{row.kind}"
                    row.lease_owner = row.lease_until = None
                    session.add(row)
                    result.dropped += 1
                    continue
                reply.values.setdefault("late", now - row.planned_at > LATE_AFTER)
                reply.values.setdefault("planned_at", row.planned_at)
                prepared.append(_Prepared(
                    row.id, row.key, self.outbounds(session, row, reply),
                    set(row.payload.get("_delivered", [])),
                ))
        return prepared

    def _deliver(self, item: _Prepared, now: datetime, result: SweepResult) -> bool:
        """Send each message of one reminder; on a failure record what already went out, so
        a retry does not send it twice."""
        if not item.outbounds:
            self._fail(item.id, now, "no_target", permanent=True, result=result)
            return False
        delivered = set(item.done)
        for outbound in item.outbounds:
            key = _address_key(outbound)
            if key in delivered:
                continue
            adapter = self.adapters.get(outbound.address.platform)
            try:
                if adapter is None:
                    raise DeliveryError(
                        f"platform_not_running:{outbound.address.platform}", temporary=True
                    )
                adapter.send(outbound)  # type: ignore[attr-defined]
            except DeliveryError as exc:
                self._fail(item.id, now, exc.reason, permanent=not exc.temporary,
                           retry_after=exc.retry_after, result=result, delivered=delivered)
                return False
            except Exception as exc:  # a bug in an adapter must not lose the reminder
                log.exception("adapter failed while sending reminder %s", item.key)
                self._fail(item.id, now, f"error:{exc.__class__.__name__}", permanent=False,
                           result=result, delivered=delivered)
                return False
            delivered.add(key)
            result.sent.append(outbound)
        result.delivered += 1
        return True

    def _mark_sent(self, ids: list[int], now: datetime) -> None:
        if not ids:
            return
        c = Reminder.__table__.c
        with self.app.db.session() as session:
            marked = session.execute(
                update(Reminder.__table__)
                .where(c.id.in_(ids), c.lease_owner == self.owner)
                .values(status=Status.SENT, sent_at=now, lease_owner=None, lease_until=None)
                .returning(c.id, c.kind)
            ).all()
            # Each kind's once-only follow-up (next nag, escalation) joins this transaction.
            kinds = self.app.registry.reminder_kinds
            follow = [rid for rid, kind in marked if kind in kinds and kinds[kind].on_sent]
            if follow:
                for row in session.execute(
                    select(Reminder).where(col(Reminder.id).in_(follow))
                ).scalars():
                    self._on_sent(session, row, now)

    def _on_sent(self, session: Session, row: Reminder, now: datetime) -> None:
        kind = self.app.registry.reminder_kinds.get(row.kind)
        if kind is not None and kind.on_sent is not None:
            kind.on_sent(session, row, now)

    def outbounds(self, session: Session, row: Reminder, reply: Reply) -> list[Outbound]:
        if row.target_kind == "member":
            return [self.app.to_member(session, reply, row.target_platform, row.target_id)]
        if row.target_kind == "purpose":
            return self.app.to_purpose(session, reply, row.target_id)
        if row.target_kind == "channel":
            return [self.app.to_channel(reply, row.target_platform, row.target_id)]
        return []

    # -- failures ---------------------------------------------------------------------------

    def backoff(self, attempts: int, retry_after: float | None) -> timedelta:
        # Exponential with full jitter, so replicas that failed together do not retry together.
        ceiling = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** max(0, attempts - 1)))
        delay = timedelta(seconds=self.rng.uniform(0.5, 1.0) * ceiling.total_seconds())
        if retry_after is not None:
            delay = max(delay, timedelta(seconds=retry_after))
        return delay

    def _fail(
        self,
        rid: int,
        now: datetime,
        reason: str,
        *,
        permanent: bool,
        result: SweepResult,
        retry_after: float | None = None,
        delivered: set[str] | None = None,
    ) -> None:
        with self.app.db.session() as session:
            row = session.get(Reminder, rid)
            if row is None or row.lease_owner != self.owner:
                return
            if delivered:
                row.payload = {**row.payload, "_delivered": sorted(delivered)}
            row.last_error = reason[:500]
            row.lease_owner = row.lease_until = None
            exhausted = row.attempts >= self.settings.reminder_max_attempts
            if permanent or exhausted:
                row.status = Status.FAILED
                result.failed += 1
                log.warning("reminder %s failed for good: %s", row.key, reason)
                if row.kind != SYSTEM_NOTICE:
                    self._notify_admins(session, row, now)
            else:
                row.status = Status.PENDING
                row.due_at = now + self.backoff(row.attempts, retry_after)
                result.retried += 1
                log.info("reminder %s deferred to %s: %s", row.key, row.due_at, reason)
            session.add(row)

    def _notify_admins(self, session: Session, row: Reminder, now: datetime) -> None:
        """One notice per failed reminder to each admin on a platform this process serves."""
        for platform, user in sorted(self.settings.admin_ids):
            if platform not in self.adapters:
                continue
            api.plan(
                session,
                key=f"{SYSTEM_NOTICE}:{row.id}:{platform}:{user}",
                kind=SYSTEM_NOTICE,
                due=now,
                target=Target.member(platform, user),
                record_type="reminder",
                record_id=str(row.id),
                snoozable=False,
            )

    # -- after downtime ---------------------------------------------------------------------

    def _summarise_stale(self, ids: list[int], now: datetime, result: SweepResult) -> set[int]:
        """Reminders older than the grace period become one summary per target."""
        cutoff = now - self.settings.reminder_grace
        with self.app.db.session() as session:
            rows = session.execute(
                select(Reminder)
                .where(col(Reminder.id).in_(ids), col(Reminder.planned_at) < cutoff)
                .where(col(Reminder.kind) != SUMMARY)
            ).scalars().all()
            groups: dict[tuple[str, str, str], list[Reminder]] = defaultdict(list)
            for row in rows:
                # Ask the kind first, as a normal send would: a reminder whose record moved on
                # is dropped rather than listed; a listed one counts as sent (its on_sent runs).
                kind = self.app.registry.reminder_kinds.get(row.kind)
                if kind is None or kind.render(session, row, now) is None:
                    row.status, row.last_error = Status.CANCELLED, "nothing_to_say"
                    row.lease_owner = row.lease_until = None
                    session.add(row)
                    continue
                groups[(row.target_kind, row.target_platform, row.target_id)].append(row)
            for (kind, platform, target_id), items in groups.items():
                first = min(r.id for r in items)
                api.plan(
                    session,
                    key=f"{SUMMARY}:{kind}:{platform}:{target_id}:{first}",
                    kind=SUMMARY,
                    due=now,
                    target=Target(kind, target_id, platform),
                    payload={"items": [
                        {"kind": r.kind, "record_type": r.record_type,
                         "record_id": r.record_id, "planned_at": r.planned_at.isoformat()}
                        for r in sorted(items, key=lambda r: r.planned_at)
                    ]},
                    snoozable=False,
                )
                for r in items:
                    r.status, r.sent_at = Status.SENT, now
                    r.last_error = "summarised"
                    r.lease_owner = r.lease_until = None
                    session.add(r)
                    self._on_sent(session, r, now)
            result.summarised += len(rows)
            return {r.id for r in rows}

    # -- for the scheduler ------------------------------------------------------------------

    def next_due(self) -> datetime | None:
        with self.app.db.session() as session:
            return session.execute(
                select(func.min(Reminder.__table__.c.due_at)).where(
                    Reminder.__table__.c.status == Status.PENDING
                )
            ).scalar()


def _address_key(outbound: Outbound) -> str:
    a = outbound.address
    return f"{a.platform}:{a.channel or ''}:{a.user or ''}"


def now_or(value: datetime | None) -> datetime:
    return value if value is not None else datetime.now(UTC)
