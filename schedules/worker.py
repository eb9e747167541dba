"""The sweep: claim due reminders atomically, render each as its record is now, deliver it
through the adapters, and mark it sent as soon as the platform took it.

Claiming is one transaction, in one place: on PostgreSQL a `FOR UPDATE SKIP LOCKED`
selection, so concurrent sweepers take disjoint rows without waiting; on SQLite inside a
BEGIN IMMEDIATE transaction, which serialises writers. A claim carries a short lease
(LIAISON_REMINDER_LEASE, 60 s), renewed while the batch is being delivered; a process that
dies loses its rows when the lease expires, and the sweeper that takes them over logs whose
they were. A few claimed reminders are read in one short transaction (the kinds' replies and
their recipients; should one kind raise, each is read again alone, so it fails alone) and
their templates rendered after it, outside any lock; each is sent outside any transaction (a
slow platform never holds a database lock), and marked sent in its own transaction together
with its kind's `on_sent` before the next is sent. So a crash repeats at most the one message
in flight; if the mark cannot be written (the database is down) the process keeps it and
writes it first thing when the database is back.

A message an adapter sends in several parts (a long Slack message) notes how far it got in
`meta["progress"]`; a failed try keeps that with the row, so the retry never repeats a part.

Rate limits pause scopes (schedules/throttle.py): a reminder whose platform scope is paused is
released back to the outbox for that time without counting an attempt.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal_column,
    null,
    or_,
    select,
    union,
    union_all,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.sql import operators
from sqlalchemy.sql.expression import UnaryExpression
from sqlmodel import Session, col

from bot import logs, members, metrics
from bot.adapters.base import Pace
from bot.core import Liaison, Place
from bot.db import PREPARED, Direct, loaded, unavailable
from bot.errors import DeliveryError, DomainLoadError, StorageError
from bot.messages import Outbound, Reply
from schedules import api
from schedules.api import Target
from schedules.models import Reminder, Status
from schedules.throttle import Throttle

log = logging.getLogger(__name__)

LATE_AFTER = timedelta(minutes=1)
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
SYSTEM_NOTICE = "system.delivery_failed"
SUMMARY = "system.summary"
RENDER_CHUNK = 20  # reminders rendered in one read; at most this many sends old when sent
# On SQLite a read holds the process-wide database lock (bot/db.py), which Slack acks wait
# for: 20 at a time held it up to 16 ms when each reminder ran its own queries (ack p99 during a
# 3,000-reminder sweep 3.3x idle, bench/sweep_acks.py). With the kinds' reads shared within a
# read, 10 at a time hold it a little longer than 4 (p50 1.8 against 1.5 ms, p99 10-14 against
# 10-11 ms, two loaded cores) for a third less CPU per reminder (a read's own queries shared).
# 20 (a whole claim) against 10, same run, load 7.7-8.4 on two cores: ack p99 during the sweep
# 14.4 and 13.2 against 11.8 and 16.3 ms (1.57x, 1.55x against 1.61x, 2.07x idle), and
# 0.27-0.33 against 0.34-0.39 ms of sweep CPU per reminder (a read's fixed part halved).
RENDER_CHUNK_SQLITE = 20


_c = Reminder.__table__.c
# Built once (one per reminder sent; building it cost more than running it). Two `!=` rather
# than NOT IN: an IN list is expanded anew on every run. A write by primary key, so prepared
# on PostgreSQL (bot.db.PREPARED): the server's parse and plan skipped on every mark after a
# connection's first (0.50-0.87 -> 0.26-0.36 ms a mark inside a transaction, two loaded cores).
_MARK_ONLY = (update(Reminder.__table__)
              .where(_c.id == bindparam("rid"), _c.status != Status.SENT,
                     _c.status != Status.CANCELLED)
              .values(status=Status.SENT, sent_at=bindparam("marked_at"), lease_owner=None,
                      lease_until=None)
              .execution_options(**{PREPARED: True}))
_MARK = _MARK_ONLY.returning(_c.kind, _c.key, _c.planned_at)
# The same mark, run straight on the driver's cursor (bot.db.Direct: SQLAlchemy's execute was
# 0.08-0.1 ms of CPU a mark, half its cost, on either database); Direct takes every value as a
# parameter, so the statuses are parameters too (_MARK_VALUES).
_MARK_DIRECT = Direct(
    update(Reminder.__table__)
    .where(_c.id == bindparam("rid"), _c.status != bindparam("sent"),
           _c.status != bindparam("cancelled"))
    .values(status=bindparam("sent"), sent_at=bindparam("marked_at"), lease_owner=null(),
            lease_until=null()))
_MARK_VALUES = {"sent": Status.SENT.value, "cancelled": Status.CANCELLED.value}
_TAKE = (update(Reminder.__table__).where(_c.id.in_(bindparam("ids", expanding=True)))
         .values(status=Status.CLAIMED, lease_owner=bindparam("owner"),
                 lease_until=bindparam("until"),
                 # Our own rows from an interrupted sweep were not attempted.
                 attempts=case((_c.lease_owner == bindparam("owner"), _c.attempts),
                               else_=_c.attempts + 1)))


def _rare(term: ColumnElement[bool], dialect: str) -> ColumnElement[bool]:
    """On SQLite, `term` marked as rarely true (likelihood()), so the planner keeps searching
    its index when statistics exist (ANALYZE, `PRAGMA optimize`): sqlite_stat1 knows only the
    average rows per value, and over a few statuses, or a conversation that is NULL on most
    rows, that average reads as most of the table. At 300,000 pending, a renew then scanned
    the table (61 ms each, against a search of the few claimed rows) and a conversation's
    earlier-open check walked every lower id. Same rows selected; PostgreSQL's unchanged."""
    return func.likelihood(term, literal_column("0.001")) if dialect == "sqlite" else term


def _not_an_index(column: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """On SQLite, `+column`: the same value, but the planner will not search an index by it.
    The earlier-open check marked its conversation rare, and without statistics the planner
    then searched the earlier rows by status (every open row, 600 ms a claim of 20 at 300,000
    pending with 10,000 replies due) instead of by conversation."""
    if dialect != "sqlite":
        return column
    return UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)


def _first_open(dialect: str) -> ColumnElement[bool]:
    """The row is the first open message of its conversation (or has none): the next waits
    until it is out, so a deferred message holds back the later ones of its conversation and
    nothing else."""
    c = Reminder.__table__.c
    earlier = Reminder.__table__.alias("earlier")
    # The statuses as named parameters (_OPEN), not an IN list SQLAlchemy expands at each run:
    # the statement then runs as it is on the driver (bot.db.Direct).
    head = ~exists().where(
        _rare(earlier.c.conversation == c.conversation, dialect), earlier.c.id < c.id,
        _not_an_index(earlier.c.status, dialect).in_([
            bindparam("pending", type_=c.status.type), bindparam("claimed", type_=c.status.type)]),
    )
    return or_(c.conversation.is_(None), head)


# The values of the statuses the claim and next_due name as parameters (see _first_open).
_OPEN = {"pending": Status.PENDING.value, "claimed": Status.CLAIMED.value}


def _limited(query: Select, dialect: str) -> Select:
    """`query` limited to `:limit` rows. On SQLite with an explicit `OFFSET :zero`: SQLite's
    compiler otherwise adds `OFFSET 0` as a parameter of its own, which bot.db.Direct, given
    every parameter by name, refuses."""
    query = query.limit(bindparam("limit", type_=Integer))
    return query.offset(bindparam("zero", type_=Integer)) if dialect == "sqlite" else query


_SLOTS = 20  # the most ids a statement below takes as separate parameters (a claim's rows)
_BY_IDS: dict[tuple[str, int], Direct] = {}


def _by_ids(name: str, n: int) -> Direct:
    """Statement `name` for `n` ids (`:i0` ... `:i<n-1>`), built once per count: the same SQL
    as an expanding IN, but run on the driver as it is (bot.db.Direct) instead of through
    SQLAlchemy's execution, which compiled the expanded list again at each run (a third of a
    lone answer's claim and read, issue 22)."""
    found = _BY_IDS.get((name, n))
    if found is None:
        ids = _c.id.in_([bindparam(f"i{k}", type_=_c.id.type) for k in range(n)])
        if name == "take":
            found = Direct(
                update(Reminder.__table__).where(ids)
                .values(status=bindparam("claimed_status"), lease_owner=bindparam("owner"),
                        lease_until=bindparam("until"),
                        # Our own rows from an interrupted sweep were not attempted.
                        attempts=case((_c.lease_owner == bindparam("owner"), _c.attempts),
                                      else_=_c.attempts + literal_column("1"))))
        else:  # "rows": the rows themselves, every column, in id order
            found = Direct(select(Reminder.__table__).where(ids).order_by(_c.id))
        found = _BY_IDS.setdefault((name, n), found)
    return found


def _ids(ids: list[int]) -> dict[str, int]:
    return {f"i{k}": rid for k, rid in enumerate(ids)}


# A queued message's thread anchor: the payload of the row with this key (unique).
_ANCHOR = Direct(select(_c.payload).where(_c.key == bindparam("key")))


# A claimed reminder with nothing to say, cancelled (by the sweeper that holds it).
_CANCEL = (update(Reminder.__table__)
           .where(_c.id == bindparam("rid"), _c.status == Status.CLAIMED,
                  _c.lease_owner == bindparam("owner"))
           .values(status=Status.CANCELLED, last_error=bindparam("reason"), lease_owner=None,
                   lease_until=None))


class _Rollback(Exception):
    """Leaves psycopg's transaction block, which rolls it back and raises this again."""


@dataclass
class _Prepared:
    id: int
    key: str
    outbounds: list[Outbound]
    done: set[str]
    ts: str | None = None
    kind: str = ""
    planned_at: datetime | None = None


@dataclass
class _Draft:
    """A claimed reminder as read in its render transaction: the kind's reply and its places,
    rendered into messages after the transaction (templates need no database and no lock),
    or the messages themselves for a queued row."""

    id: int
    key: str
    kind: str
    planned_at: datetime
    done: set[str]
    progress: dict[str, Any]
    reply: Reply | None = None
    places: list[Place] = field(default_factory=list)
    outbounds: list[Outbound] = field(default_factory=list)


@dataclass
class SweepResult:
    sent: list[Outbound] = field(default_factory=list)  # unless the sweeper keeps none
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0
    summarised: int = 0
    released: int = 0  # held back by a rate limit, no attempt counted
    # The earliest time a row can be taken at after this sweep (next_due's answer, read at
    # its end on the connection it marked on): the scheduler's next wake-up, without a
    # transaction of its own.
    next_due: datetime | None = None


class Sweeper:
    def __init__(
        self,
        app: Liaison,
        adapters: Mapping[str, object],
        *,
        owner: str | None = None,
        batch: int = 20,
        rng: random.Random | None = None,
        throttle: Throttle | None = None,
        keep_sent: bool = True,
    ) -> None:
        self.app = app
        # Whether SweepResult.sent lists what went out (tests read it; the scheduler does not).
        # Kept, 10,000 messages of a sweep lived to its end: the interpreter's full garbage
        # collections, which that growth sets off, were a tenth of the sweep's CPU (issue 22).
        self.keep_sent = keep_sent
        self.adapters = adapters
        self.owner = owner or f"sweeper-{uuid.uuid4().hex[:12]}"
        self.batch = batch
        self.rng = rng or random.Random()
        self.settings = app.settings
        self.throttle = throttle or Throttle()
        # Sent, but the mark could not be written yet (database down): id -> (sent at,
        # the platform's message id when later messages thread under it).
        self._unwritten: dict[int, tuple[datetime, str | None]] = {}
        self._renewed_at: datetime | None = None
        # Kind and planned time of each reminder being sent, for its mark (see _write_mark).
        self._facts: dict[int, tuple[str, datetime]] = {}
        self.failed_at_claim = 0  # by the last claim: their admin notices are due now
        self._lock = threading.Lock()  # one sweep at a time per sweeper
        self._clock_given = False  # sweep(now=...): a caller's clock, used throughout
        self.render_chunk = RENDER_CHUNK_SQLITE if app.db.dialect == "sqlite" else RENDER_CHUNK
        self._claim_select: Select | None = None  # built on first use (see _pick)
        self._claim_direct: Direct | None = None  # the same, run on the driver (see claim)
        self._next_due: Select | None = None  # likewise (see next_due)
        self._next_due_direct: Direct | None = None
        # The connection a sweep marks on (None: not open; False: failed in this sweep), see
        # _quick_mark.
        self._marker: Connection | None | bool = None
        self._kept_error: SQLAlchemyError | None = None  # why it could not be opened
        # Planned time and kind of each row the last claim took (stale ones are summarised).
        self.claimed: dict[int, tuple[datetime, str]] = {}
        self._exhausted: set[int] = set()  # of the last claim: failed, not taken
        self._taken: dict[int, dict[str, Any]] = {}  # the last claim's rows, as it read them

    # -- claiming ---------------------------------------------------------------------------

    def claim(self, now: datetime, limit: int | None = None) -> list[int]:
        """Take up to `limit` due rows (and rows whose lease expired, and this sweeper's own
        rows left claimed by an interrupted sweep). Rows already tried
        LIAISON_REMINDER_MAX_ATTEMPTS times are failed here instead of claimed again."""
        if self._claim_direct is None:
            self._claim_direct = Direct(self._pick(), prepare=False)  # plans follow `now`
        limit = limit or self.batch
        # A database that does not answer fails the kept claim after one wait (_fail_if_away).
        rows = self._claim_kept(now, limit) if limit <= _SLOTS else None
        if rows is None:
            rows = self._claim_in_session(now, limit)
        owner = self.owner
        exhausted = self._exhausted
        for r in rows:
            # `exhausted`, a set: `r.id in ids` (a list) made a claim of 10,000 quadratic,
            # 0.6 of its 0.9 s (issue 22).
            if (r["id"] not in exhausted and r["status"] == Status.CLAIMED
                    and r["lease_owner"] != owner):
                log.warning("reminder %s: taking over from %s, whose lease expired",
                            r["id"], r["lease_owner"])
        self.failed_at_claim = len(exhausted)
        self._renewed_at = now
        self.claimed = {r["id"]: (r["planned_at"], r["kind"]) for r in rows
                        if r["id"] not in exhausted}
        self._taken = {r["id"]: r for r in rows if r["id"] not in exhausted}
        return [r["id"] for r in rows if r["id"] not in exhausted]

    def _exhausted_of(self, rows: list[dict[str, Any]]) -> set[int]:
        limit = self.settings.reminder_max_attempts
        return {r["id"] for r in rows
                if r["attempts"] >= limit and r["lease_owner"] != self.owner}

    def _take_params(self, ids: list[int], now: datetime) -> dict[str, Any]:
        return {**_ids(ids), "owner": self.owner, "until": now + self.settings.reminder_lease,
                "claimed_status": Status.CLAIMED.value}

    def _claim_in_session(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """The claim in a session's transaction: the statements on the driver (bot.db.Direct;
        through the session's execute, SQLAlchemy's execution was most of a lone answer's
        claim, issue 22); exhausted rows failed, with their admin notices, in it."""
        with self.app.db.session() as session:
            conn = session.connection()
            rows = self._claim_direct.rows(conn, self._claim_params(now, limit))
            exhausted = self._exhausted = self._exhausted_of(rows)
            ids = [r["id"] for r in rows if r["id"] not in exhausted]
            if exhausted:
                self._fail_exhausted(session, sorted(exhausted), now)
            if ids and len(ids) <= _SLOTS:
                _by_ids("take", len(ids)).run(conn, self._take_params(ids, now))
            elif ids:  # a claim larger than any sweep's (the bench's claim of all due)
                session.execute(_TAKE, {"ids": ids, "owner": self.owner,
                                        "until": now + self.settings.reminder_lease})
        return rows

    def _claim_kept(self, now: datetime, limit: int) -> list[dict[str, Any]] | None:
        """The claim as the same two statements in a transaction of their own on the sweep's
        kept connection, begun and committed on the driver (SQLite: BEGIN IMMEDIATE, under
        the process's lock, as every write; PostgreSQL: psycopg's own transaction block on
        the connection in autocommit), without a session: the session's begin, commit and
        pool round trip were half of a lone answer's claim (issue 22). None when there is
        an exhausted row to fail (rolled back: the session's claim does that, notices and
        all), a statement was refused or the kept connection was cut: then the claim goes
        through a session. A database that did not answer fails the claim here
        (`_fail_if_away`)."""
        conn = self._kept()
        if conn is None:
            self._fail_if_away(self._kept_error, opening=True)
            return None
        db = self.app.db
        raw = conn.connection.driver_connection
        driver_error = conn.dialect.loaded_dbapi.Error
        try:
            with db.write_lock():
                if db.dialect == "postgresql":
                    with raw.transaction():
                        rows = self._claim_rows(conn, now, limit)
                        if rows is None:
                            raise _Rollback
                    return rows
                raw.execute("BEGIN IMMEDIATE")
                try:
                    rows = self._claim_rows(conn, now, limit)
                except BaseException:
                    raw.execute("ROLLBACK")
                    raise
                raw.execute("ROLLBACK" if rows is None else "COMMIT")
                return rows
        except _Rollback:
            return None
        except (SQLAlchemyError, driver_error) as exc:
            log.debug("claim on the sweep's connection failed (%s)", exc)
            self._lost_kept()
            self._fail_if_away(exc if isinstance(exc, SQLAlchemyError) else DBAPIError.instance(
                None, None, exc, driver_error))
            return None  # a statement refused: the session's claim tries it once more

    def _fail_if_away(self, exc: SQLAlchemyError | None, *, opening: bool = False) -> None:
        """A database that did not answer, or stayed locked past the busy timeout, fails the
        claim or mark here, as the session's (or Database.run's) would after as long a wait
        again: one wait, not two (a dead server; another process holding SQLite's write lock,
        while this process's own lock is held). A kept connection that was cut (a server
        restart, a proxy) failed at once: a fresh one is tried. `opening`: the kept
        connection could not be opened at all."""
        if exc is None or not unavailable(exc):
            return
        if not opening and getattr(exc, "connection_invalidated", False):
            return
        raise self.app.db._failed(exc, wrote=False) from exc

    def _claim_rows(self, conn: Connection, now: datetime,
                    limit: int) -> list[dict[str, Any]] | None:
        rows = self._claim_direct.rows(conn, self._claim_params(now, limit))  # type: ignore[union-attr]
        self._exhausted = self._exhausted_of(rows)
        if self._exhausted:
            return None
        if rows:
            _by_ids("take", len(rows)).run(conn, self._take_params([r["id"] for r in rows], now))
        return rows

    def _claim_params(self, now: datetime, limit: int) -> dict[str, Any]:
        return {"now": now, "limit": limit, "owner": self.owner, "zero": 0, **_OPEN}

    def claim_query(self, now: datetime, limit: int) -> Select:
        """The rows a claim takes, with these values bound (the bench shows its plan)."""
        return self._pick().params(self._claim_params(now, limit))

    def _pick(self) -> Select:
        """The rows a claim takes: due ones, expired leases, and this sweeper's own rows
        left claimed by an interrupted sweep; of a conversation only its first open one.
        Built once per sweeper with `now`, `limit` and `owner` bound at each claim: building
        it (and SQLAlchemy's cache key for it) cost more than running it."""
        if self._claim_select is not None:
            return self._claim_select
        c = Reminder.__table__.c
        now = bindparam("now", type_=c.due_at.type)
        owner = bindparam("owner", type_=c.lease_owner.type)
        # Statuses as parameters, as in _first_open: every value is given (bot.db.Direct).
        pending = bindparam("pending", type_=c.status.type)
        claimed = bindparam("claimed", type_=c.status.type)
        first = _first_open(self.app.db.dialect)
        # Read as one OR of indexes, every due row was sorted on each claim: with 10,000 due,
        # 40 ms (SQLite) to 170 ms (PostgreSQL) a claim of 20, most of a sweep. Each kind is
        # read in due order from its own index, `limit` at most, then the first `limit` of
        # those: the same rows, without the sort. On PostgreSQL each kind skips the rows
        # another replica holds (FOR UPDATE SKIP LOCKED), so replicas take different rows.
        kinds = (
            and_(c.status == pending, c.due_at <= now),
            and_(c.status == claimed, c.lease_until < now),
            and_(c.status == claimed, c.lease_owner == owner),
        )
        locking = self.app.db.dialect == "postgresql"
        branches = []
        dialect = self.app.db.dialect
        for kind in kinds:
            branch = _limited(select(c.id).where(kind, first).order_by(c.due_at, c.id),
                              dialect)
            if locking:
                branch = branch.with_for_update(skip_locked=True)
            branch = branch.subquery()
            branches.append(select(branch.c.id).select_from(branch))
        candidates = union(*branches).subquery()
        # The key and payload too: a queued message is sent as the claim read it (see
        # _queued_drafts).
        pick = _limited(select(c.id, c.lease_owner, c.status, c.attempts, c.planned_at, c.kind,
                               c.key, c.payload)
                        .where(c.id.in_(select(candidates.c.id)))
                        .order_by(c.due_at, c.id), dialect)
        if locking:
            pick = pick.with_for_update(skip_locked=True)
        self._claim_select = pick
        return pick

    def _fail_exhausted(self, session: Session, ids: list[int], now: datetime) -> None:
        for row in session.execute(select(Reminder).where(col(Reminder.id).in_(ids))).scalars():
            row.status = Status.FAILED
            row.last_error = (row.last_error or "attempts_exhausted")[:500]
            row.lease_owner = row.lease_until = None
            session.add(row)
            log.warning("reminder %s failed for good at claim time after %s attempts: %s",
                        row.key, row.attempts, row.last_error)
            if row.kind != SYSTEM_NOTICE:
                self._notify_admins(session, row, now)

    def renew(self, now: datetime) -> None:
        """Extend the lease of every row this sweeper still holds."""
        c = Reminder.__table__.c
        with self.app.db.session() as session:
            session.execute(
                update(Reminder.__table__)
                .where(_rare(c.status == Status.CLAIMED, self.app.db.dialect),
                       c.lease_owner == self.owner)
                .values(lease_until=now + self.settings.reminder_lease)
            )
        self._renewed_at = now

    def _renew_if_due(self) -> None:
        now = datetime.now(UTC)
        if self._renewed_at is None or now - self._renewed_at >= self.settings.reminder_lease / 3:
            self.renew(now)

    # -- the sweep --------------------------------------------------------------------------

    def sweep(self, now: datetime | None = None) -> SweepResult:
        """Deliver everything due now; loops until nothing due is left. A database failure
        leaves as StorageError; what was sent meanwhile is kept and marked on the next sweep."""
        with self._lock:
            try:
                return self._sweep(now)
            finally:
                self._close_marker()

    def _sweep(self, now: datetime | None) -> SweepResult:
        result = SweepResult()
        self._clock_given = now is not None
        self._write_unwritten()
        while True:
            current = now_or(now)
            ids = self.claim(current)
            taken = len(ids) + self.failed_at_claim
            result.failed += self.failed_at_claim
            if taken:
                self._round(ids, now, current, result)
            if taken >= self.batch:
                continue  # a full claim: more may be due
            # Loop until nothing is due: summaries and admin notices planned in this round
            # are due at once, and so is the next message of a conversation whose message
            # went out. Retries are not, since their backoff puts them in the future. The
            # next due time, read anyway for the scheduler's wake-up, says whether anything
            # is, instead of a claim that finds nothing (a lone answer's sweep: one
            # transaction less). After a claim that found nothing, no second look.
            result.next_due = self._upcoming()
            if not taken or result.next_due is None or result.next_due > now_or(now):
                return result

    def _round(self, ids: list[int], now: datetime | None, current: datetime,
               result: SweepResult) -> None:
        """Send what one claim took."""
        ids = self._with_code(ids, current, result)
        cutoff = current - self.settings.reminder_grace
        # Only when a claimed row is old enough to be summarised: a query less per claim.
        stale = self._summarise_stale(ids, current, result) if any(
            planned < cutoff and kind not in (SUMMARY, api.OUTBOUND)
            for planned, kind in self.claimed.values()) else set()
        todo = [rid for rid in ids if rid not in stale]
        for at in range(0, len(todo), self.render_chunk):
            chunk = todo[at:at + self.render_chunk]
            prepared = self._render_chunk(chunk, now_or(now), result)
            for item in prepared:
                self._send(item, now_or(now), result)

    def _with_code(self, ids: list[int], now: datetime, result: SweepResult) -> list[int]:
        """The claimed rows this sweep goes on with. Reminder kinds are declared by the
        domains' code, which is imported (once, bot.router.Registry.load) the first time a
        claimed row needs one: here, outside any transaction. Should that fail (logged then),
        the rows that need it go back to the outbox until the next sweep, no attempt counted,
        and queued messages (replies, apologies: rendered already) go out."""
        registry = self.app.registry
        if registry.loaded or all(self.claimed[rid][1] == api.OUTBOUND for rid in ids):
            return ids
        try:
            registry.load()
        except DomainLoadError as exc:
            waiting = [rid for rid in ids if self.claimed[rid][1] != api.OUTBOUND]
            until = now + self.settings.reminder_sweep
            for rid in waiting:
                self._release(rid, until, result, reason="domains_not_loaded")
            log.error("%d reminders wait for the domains' code, until %s: %s", len(waiting),
                      until.isoformat(timespec="seconds"), exc)
            return [rid for rid in ids if self.claimed[rid][1] == api.OUTBOUND]
        return ids

    def _send(self, item: _Prepared, now: datetime, result: SweepResult) -> None:
        self._renew_if_due()
        held = self._held_until(item, now)
        if held is not None:
            self._release(item.id, held, result)
            return
        if self._deliver(item, now, result):
            if item.planned_at is not None:
                self._facts[item.id] = (item.kind, item.planned_at)
            self._mark_sent(item.id, now, item.ts)

    def _render_chunk(self, ids: list[int], now: datetime,
                      result: SweepResult) -> list[_Prepared]:
        """Read a few claimed reminders in one read-only transaction, then render their
        templates after it. On a SQLite file that read takes no lock (Database.read_session):
        holding the process-wide write lock while it read, it held Slack acks up to a few
        milliseconds each time, the most frequent of their waits longer than 1 ms during a
        sweep (issue 22). The reminders it finds with nothing to say are cancelled after it,
        in a short write of their own. Should any kind raise (or write), the chunk is read
        again one reminder per transaction, so that one fails alone."""
        drafts: list[_Draft | None] | None = None
        if all(self.claimed.get(rid, ("", ""))[1] == api.OUTBOUND for rid in ids):
            drafts = self._queued_drafts(ids)
            if drafts is not None:
                found = (self._finish(d, now, result) for d in drafts if d is not None)
                return [p for p in found if p is not None]
        try:
            dropped: list[tuple[int, str]] = []
            with self.app.db.read_session() as session:
                rows = self._rows(session.connection(), ids)
                # Their recipients in one query, not one `members.find` per reminder; read
                # fresh, so a `/lang` or `/tz` made on another replica counts at once.
                members.preload(session, [(row.target_platform, row.target_id) for row in rows
                                          if row.target_kind == "member"])
                read = [self._draft(session, row, now, dropped) for row in rows]
            drafts = read  # only once the transaction committed
        except StorageError as exc:
            if exc.unavailable:
                raise
        except Exception:  # noqa: BLE001  (found again, and reported, one by one below)
            pass
        if drafts is None:
            drafts = [self._draft_alone(rid, now, result) for rid in ids]
        elif dropped:
            with self.app.db.session() as session:
                result.dropped += self._cancel(session, dropped)
        found = (self._finish(d, now, result) for d in drafts if d is not None)
        return [p for p in found if p is not None]

    @staticmethod
    def _rows(conn: Connection, ids: list[int]) -> list[Reminder]:
        """The claimed rows, in id order: one statement on the driver, each row built as the
        ORM builds one it loads (bot.db.loaded), detached. The ORM's load of a chunk was a
        fifth of the sweep's read (issue 22)."""
        return [loaded(Reminder, values) for at in range(0, len(ids), _SLOTS)
                for values in _by_ids("rows", len(ids[at:at + _SLOTS])).rows(
                    conn, _ids(ids[at:at + _SLOTS]))]

    def _queued_drafts(self, ids: list[int]) -> list[_Draft | None] | None:
        """Claimed queued messages (OUTBOUND rows: rendered when queued, no kind's code, no
        recipient to look up), as the claim that took them read them, in id order: in its
        transaction, just now, and ours since (a read session of their own was a fifth of a
        lone answer's sweep, issue 22). A message that follows a thread's first one looks up
        that one's id on the sweep's kept connection. None when that is needed and the
        connection failed in this sweep: then they are read as any reminder is."""
        rows = [self._taken.get(rid) for rid in sorted(ids)]
        if any(row is None for row in rows):
            return None
        drafts = []
        for row in rows:
            payload = row["payload"]  # type: ignore[index]
            outbound = api.outbound_in(payload)
            first = outbound.meta.get("thread_of")
            if first:
                anchor = self._anchor(first)
                if anchor is False:
                    return None
                if anchor:
                    outbound.meta["thread"] = anchor
            drafts.append(_Draft(row["id"], row["key"], row["kind"],  # type: ignore[index]
                                 row["planned_at"], set(),  # type: ignore[index]
                                 dict(payload.get("_progress") or {}), outbounds=[outbound]))
        return drafts

    def _anchor(self, key: str) -> str | None | bool:
        """The platform's id of a thread's first message (the row with this key), None when
        it has none yet, False when the kept connection failed."""
        conn = self._kept()
        if conn is None:
            return False
        try:
            with self.app.db.write_lock():
                anchors = _ANCHOR.rows(conn, {"key": key})
        except SQLAlchemyError as exc:
            log.debug("a thread's first message on the sweep's connection failed (%s)", exc)
            self._lost_kept()
            return False
        return (anchors[0]["payload"].get("ts") or None) if anchors else None

    def _render(self, rid: int, now: datetime, result: SweepResult) -> _Prepared | None:
        """Render one claimed reminder as its record is now, read in its own transaction. One
        whose renderer raises is retried and, after the attempt limit, failed alone."""
        draft = self._draft_alone(rid, now, result)
        return self._finish(draft, now, result) if draft is not None else None

    def _draft_alone(self, rid: int, now: datetime, result: SweepResult) -> _Draft | None:
        try:
            dropped: list[tuple[int, str]] = []
            with self.app.db.session() as session:
                row = session.get(Reminder, rid)
                found = self._draft(session, row, now, dropped) if row else None
                cancelled = self._cancel(session, dropped)
            result.dropped += cancelled
            return found
        except StorageError as exc:
            if exc.unavailable:
                raise
            error: Exception = exc
        except Exception as exc:  # a bug in one kind must not hold back the others
            error = exc
        self._render_failed(rid, now, error, result)
        return None

    def _render_failed(self, rid: int, now: datetime, error: Exception,
                       result: SweepResult) -> None:
        log.error("reminder %s: rendering failed: %s: %s", rid, error.__class__.__name__, error)
        self._fail(rid, now, f"render:{error.__class__.__name__}", permanent=False, result=result)

    def _cancel(self, session: Session, dropped: list[tuple[int, str]]) -> int:
        """Cancel the reminders found with nothing to say (id, reason), those still this
        sweeper's; how many."""
        cancelled = 0
        for rid, reason in dropped:
            cancelled += session.execute(_CANCEL, {"rid": rid, "reason": reason,
                                                   "owner": self.owner}).rowcount
        return cancelled

    def _draft(self, session: Session, row: Reminder, now: datetime,
               dropped: list[tuple[int, str]]) -> _Draft | None:
        """The reminder as read (its kind's reply and places), or None: someone else's, or
        nothing to say (then noted in `dropped`, for `_cancel`: the row is left unchanged,
        since the session may be a read-only one)."""
        if row.status != Status.CLAIMED or row.lease_owner != self.owner:
            return None  # someone else's now (our lease expired)
        draft = _Draft(row.id, row.key, row.kind, row.planned_at,
                       set(row.payload.get("_delivered", [])),
                       dict(row.payload.get("_progress") or {}))
        if row.kind == api.OUTBOUND:
            draft.outbounds, draft.done = [self._queued(session, row)], set()
            return draft
        kind = self.app.registry.reminder_kinds.get(row.kind)
        reply = kind.render(session, row, now) if kind else None
        if reply is None:
            dropped.append((row.id, "nothing_to_say" if kind else f"unknown_kind:{row.kind}"))
            return None
        # Every personal reminder can be moved from the message itself ("remind me again").
        reply.choices = [*reply.choices, *api.again_choices(row)]
        reply.values.setdefault("late", now - row.planned_at > LATE_AFTER)
        reply.values.setdefault("planned_at", row.planned_at)
        draft.reply, draft.places = reply, self.places(session, row, reply)
        return draft

    def _finish(self, draft: _Draft, now: datetime, result: SweepResult) -> _Prepared | None:
        """The draft's messages, its templates rendered here, outside any transaction. One
        whose template raises fails alone, as a kind that raises does."""
        outbounds = draft.outbounds
        if draft.reply is not None:
            try:
                outbounds = [self.app.render_at(draft.reply, p) for p in draft.places]
            except Exception as exc:  # noqa: BLE001  (a bug in one template)
                self._render_failed(draft.id, now, exc, result)
                return None
        return _Prepared(draft.id, draft.key, _resumed(draft.progress, outbounds), draft.done,
                         kind=draft.kind, planned_at=draft.planned_at)

    @staticmethod
    def _queued(session: Session, row: Reminder) -> Outbound:
        """A queued message; one that follows a thread's first message learns its id."""
        outbound = api.outbound_of(row)
        first = outbound.meta.get("thread_of")
        if first:
            anchor = session.execute(
                select(Reminder).where(col(Reminder.key) == first)).scalars().first()
            if anchor is not None and anchor.payload.get("ts"):
                outbound.meta["thread"] = anchor.payload["ts"]
        return outbound

    def _scopes(self, outbound: Outbound) -> tuple[list[str], Mapping[str, Pace]]:
        adapter = self.adapters.get(outbound.address.platform)
        scopes = getattr(adapter, "scopes", None)
        return (list(scopes(outbound)) if scopes else []), getattr(adapter, "pace", {})

    def _held_until(self, item: _Prepared, now: datetime) -> datetime | None:
        """When a paused or fully used scope holds this reminder back, the time it may go."""
        latest = None
        for outbound in item.outbounds:
            if _address_key(outbound) in item.done:
                continue
            scopes, paces = self._scopes(outbound)
            if scopes:
                until = self.throttle.blocked_until(scopes, paces, now)
                if until is not None and (latest is None or until > latest):
                    latest = until
        return latest

    def _release(self, rid: int, until: datetime, result: SweepResult,
                 reason: str = "rate_limited") -> None:
        """Back to the outbox until `until`, without counting an attempt: it was never tried."""
        c = Reminder.__table__.c
        with self.app.db.session() as session:
            session.execute(
                update(Reminder.__table__)
                .where(c.id == rid, c.lease_owner == self.owner, c.status == Status.CLAIMED)
                .values(status=Status.PENDING, due_at=until, attempts=c.attempts - 1,
                        lease_owner=None, lease_until=None, last_error=reason)
            )
            api.wake_after_commit(session, until)
        result.released += 1

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
            if not self._deliver_one(item, outbound, now, result, delivered):
                return False
            delivered.add(key)
            if self.keep_sent:
                result.sent.append(outbound)
        result.delivered += 1
        return True

    def _deliver_one(self, item: _Prepared, outbound: Outbound, now: datetime,
                     result: SweepResult, delivered: set[str]) -> bool:
        # Logged under the request id of the inbound that queued it (bot/logs.py).
        rid = outbound.meta.get("request_id") or item.key
        with logs.request(outbound.address.platform, rid):
            adapter = self.adapters.get(outbound.address.platform)
            try:
                if adapter is None:
                    raise DeliveryError(
                        f"platform_not_running:{outbound.address.platform}", temporary=True
                    )
                sent = adapter.send(outbound)  # type: ignore[attr-defined]
                if isinstance(sent, str) and outbound.meta.get("anchor"):
                    item.ts = sent  # the id of a thread's first message, for the ones after
            except DeliveryError as exc:
                # A Retry-After counts from the response (Slack's "Rate limits": "wait the
                # number of seconds in the Retry-After header before retrying"), not from
                # `now`, taken before the send: a slow answer would otherwise be retried early.
                now = self._responded(now)
                if exc.scopes and exc.retry_after is not None:
                    until = now + timedelta(seconds=exc.retry_after)
                    self.throttle.pause(exc.scopes, until)
                    metrics.rate_limited(outbound.address.platform)
                    log.warning("%s rate limited (%s) until %s", ", ".join(exc.scopes),
                                exc.reason, until.isoformat(timespec="seconds"))
                metrics.delivery_failed(outbound.address.platform, exc.reason)
                self._fail(item.id, now, exc.reason, permanent=not exc.temporary,
                           retry_after=exc.retry_after, result=result, delivered=delivered,
                           progress=_progress_of(outbound))
                return False
            except Exception as exc:  # a bug in an adapter must not lose the reminder
                log.exception("adapter failed while sending reminder %s", item.key)
                metrics.delivery_failed(outbound.address.platform,
                                        f"error:{exc.__class__.__name__}")
                self._fail(item.id, now, f"error:{exc.__class__.__name__}", permanent=False,
                           result=result, delivered=delivered, progress=_progress_of(outbound))
                return False
            log.info("delivered %s to %s", item.key, _address_key(outbound))
        return True

    def _responded(self, now: datetime) -> datetime:
        """The time a platform's answer came: the clock now, or the sweep's own `now` when the
        caller gave one (a test's fake clock)."""
        return now if self._clock_given else max(now, datetime.now(UTC))

    def _mark_sent(self, rid: int, now: datetime, ts: str | None = None) -> None:
        """Mark one reminder sent, with its kind's on_sent, the moment the platform took it.
        When the database is down the mark is kept in memory and written on the next sweep,
        before anything is claimed: this process never sends it twice."""
        self._unwritten[rid] = (now, ts)
        self._write_unwritten()

    def _write_unwritten(self) -> None:
        for rid, (sent_at, ts) in sorted(self._unwritten.items()):
            try:
                self._write_mark(rid, sent_at, ts)
            except StorageError as exc:
                if exc.unavailable:
                    log.debug("reminder %s was sent; the mark waits for the database", rid)
                    raise
                log.error("reminder %s was sent but could not be marked: %s", rid, exc)
            del self._unwritten[rid]
            self._facts.pop(rid, None)

    def _write_mark(self, rid: int, sent_at: datetime, ts: str | None = None) -> None:
        facts = self._facts.get(rid)
        if facts is not None and not ts:
            # A queued message has no kind of a domain's (and needs none of their code).
            kind = (None if facts[0] == api.OUTBOUND
                    else self.app.registry.reminder_kinds.get(facts[0]))
            if kind is None or kind.on_sent is None:
                # Nothing but the mark to write (most reminders, every reply): one Core
                # statement built once, in its own transaction, without an ORM session (a
                # third of the CPU of a session's mark).
                params = {"rid": rid, "marked_at": sent_at, **_MARK_VALUES}
                marked = self._quick_mark(params)
                if marked is None:
                    marked = self.app.db.run(_MARK_DIRECT, params)
                if marked and facts[0] != api.OUTBOUND:
                    metrics.reminder_sent(facts[0], sent_at - facts[1])
                return
        with self.app.db.session() as session:
            # One statement that both locks and marks; the row is read only for an on_sent.
            marked = session.execute(_MARK, {"rid": rid, "marked_at": sent_at}).first()
            if marked is None:
                return
            if marked.kind != api.OUTBOUND:
                metrics.reminder_sent(marked.kind, sent_at - marked.planned_at)
            if ts:
                row = session.get(Reminder, rid)
                row.payload = {**row.payload, "ts": ts}
                session.add(row)
            kind = (None if marked.kind == api.OUTBOUND
                    else self.app.registry.reminder_kinds.get(marked.kind))
            if kind is not None and kind.on_sent is not None:
                self._on_sent(session, session.get(Reminder, rid), sent_at)

    def _quick_mark(self, params: dict[str, Any]) -> int | None:
        """The mark as one statement in a transaction of its own, on a connection kept for the
        sweep (a pool checkout and return per mark was most of its cost). PostgreSQL: in
        autocommit, as durable as BEGIN, UPDATE, COMMIT (a statement alone is its own
        transaction), in one round trip instead of three or four (BEGIN, UPDATE, COMMIT, and the
        pool's ping of a connection in doubt: bot.db._ping_when_in_doubt).
        SQLite: likewise the UPDATE alone, in the driver's autocommit, under the process's
        lock. None when the kept connection failed in this sweep on a statement the database
        refused (on either database): then Database.run marks it on a fresh one, and reports
        any failure. A database that did not answer fails the mark here (`_fail_if_away`)."""
        conn = self._kept()
        if conn is None:
            self._fail_if_away(self._kept_error, opening=True)
            return None
        db = self.app.db
        try:
            if db.dialect == "postgresql":
                return _MARK_DIRECT.run(conn, params)
            # The driver is in autocommit (bot.db: the engine issues BEGIN, and here nothing
            # does), so the UPDATE alone is its transaction, as durable as BEGIN IMMEDIATE,
            # UPDATE, COMMIT, in one call instead of three and without SQLAlchemy's
            # transaction around them. Under the process's SQLite lock, as every write.
            with db.write_lock():
                return _MARK_DIRECT.run(conn, params)
        except SQLAlchemyError as exc:
            log.debug("mark on the sweep's connection failed (%s)", exc)
            self._lost_kept()
            self._fail_if_away(exc)  # kept for the next sweep (_write_unwritten): one wait
            return None  # a statement refused: Database.run tries it once more and reports

    def _kept(self) -> Connection | None:
        """The connection kept for the sweep, in autocommit (each statement its own
        transaction): opened on first use, None once it failed in this sweep."""
        if self._marker is False:
            return None
        if self._marker is None:
            db = self.app.db
            try:
                marker = db.engine.connect()
            except SQLAlchemyError as exc:
                log.debug("the sweep's connection could not be opened (%s)", exc)
                self._marker = False
                self._kept_error = exc
                return None
            if db.dialect == "postgresql":
                marker = marker.execution_options(isolation_level="AUTOCOMMIT")
            self._marker = marker
        return self._marker  # type: ignore[return-value]

    def _lost_kept(self) -> None:
        self._close_marker()
        self._marker = False  # not again in this sweep (a dead server: one wait, not two)

    def _close_marker(self) -> None:
        self._kept_error = None
        marker, self._marker = self._marker, None
        if marker:
            try:
                marker.close()
            except SQLAlchemyError:
                pass  # the connection is gone already

    def _on_sent(self, session: Session, row: Reminder, sent_at: datetime) -> None:
        """The kind's follow-up, once, in the marking transaction. One that raises is logged
        and undone alone (a savepoint): the message went out, so it is marked sent."""
        kind = self.app.registry.reminder_kinds.get(row.kind)
        if kind is None or kind.on_sent is None:
            return
        try:
            with session.begin_nested():
                kind.on_sent(session, row, sent_at)
        except Exception:
            log.exception("reminder %s: on_sent of %s failed", row.key, row.kind)

    def places(self, session: Session, row: Reminder, reply: Reply) -> list[Place]:
        """Where a reminder goes, as the core addresses any reply (bot.core.Place)."""
        if row.target_kind == "member":
            return [self.app.member_place(session, row.target_platform, row.target_id)]
        if row.target_kind == "purpose":
            return self.app.purpose_places(session, reply, row.target_id)
        if row.target_kind == "channel":
            return [self.app.channel_place(reply, row.target_platform, row.target_id)]
        return []

    # -- failures ---------------------------------------------------------------------------

    def backoff(self, attempts: int, retry_after: float | None) -> timedelta:
        # The platform's Retry-After when it gave one (a little later, so replicas do not all
        # come back at the same instant); else exponential with full jitter.
        if retry_after is not None:
            return timedelta(seconds=retry_after * self.rng.uniform(1.0, 1.1))
        ceiling = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** max(0, attempts - 1)))
        return timedelta(seconds=self.rng.uniform(0.5, 1.0) * ceiling.total_seconds())

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
        progress: dict[str, Any] | None = None,
    ) -> None:
        with self.app.db.session() as session:
            row = session.get(Reminder, rid)
            if row is None or row.lease_owner != self.owner:
                return
            if delivered:
                row.payload = {**row.payload, "_delivered": sorted(delivered)}
            if progress:
                row.payload = {**row.payload,
                               "_progress": {**row.payload.get("_progress", {}), **progress}}
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
                .where(col(Reminder.kind).notin_((SUMMARY, api.OUTBOUND)))
            ).scalars().all()
            groups: dict[tuple[str, str, str], list[Reminder]] = defaultdict(list)
            listed: list[Reminder] = []
            for row in rows:
                # Ask the kind first, as a normal send would: a reminder whose record moved on
                # is dropped rather than listed. One whose renderer raises is listed anyway.
                kind = self.app.registry.reminder_kinds.get(row.kind)
                try:
                    with session.begin_nested():
                        moot = kind is None or kind.render(session, row, now) is None
                except Exception as exc:
                    log.error("reminder %s: rendering failed: %s", row.key, exc.__class__.__name__)
                    moot = False
                if moot:
                    row.status, row.last_error = Status.CANCELLED, "nothing_to_say"
                    row.lease_owner = row.lease_until = None
                    session.add(row)
                    continue
                listed.append(row)
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
                    # Listed in the summary counts as sent: a repeating kind plans its next.
                    self._on_sent(session, r, now)
                    r.status, r.sent_at = Status.SENT, now
                    r.last_error = "summarised"
                    r.lease_owner = r.lease_until = None
                    session.add(r)
            result.summarised += len(listed)
            return {r.id for r in rows}

    # -- for the scheduler ------------------------------------------------------------------

    def next_due(self) -> datetime | None:
        """When the next sweep has something to take: the earliest due of the pending rows a
        claim may take (the first open one of each conversation), or the end of a lease on a
        claimed one (a replica that died: its rows are taken over then). A row waiting behind
        an earlier one still open (deferred to a retry, or being sent) is not due before it:
        counted, it was due at once, found untakeable, and due again, and the scheduler swept
        hundreds of times a second until the earlier one was out."""
        with self.app.db.session() as session:
            return session.execute(self._next_due_query(), {"limit": 1, "zero": 0, **_OPEN}
                                   ).scalar()

    def _next_due_query(self) -> Select:
        if self._next_due is None:
            c = Reminder.__table__.c
            dialect = self.app.db.dialect
            first = _first_open(dialect)
            branches = []
            for status, at in (("pending", c.due_at), ("claimed", c.lease_until)):
                branch = _limited(select(at.label("at"))
                                  .where(c.status == bindparam(status, type_=c.status.type),
                                         first).order_by(at), dialect).subquery()
                branches.append(select(branch.c.at).select_from(branch))
            either = union_all(*branches).subquery()
            self._next_due = select(func.min(either.c.at).label("at"))
        return self._next_due

    def _upcoming(self) -> datetime | None:
        """next_due, as one statement on the connection the sweep marks on (a read needs no
        transaction around it: a lone answer's sweep had one of its own for it), or through
        next_due when that connection failed in this sweep."""
        conn = self._kept()
        if conn is not None:
            if self._next_due_direct is None:
                self._next_due_direct = Direct(self._next_due_query(), prepare=False)
            try:
                with self.app.db.write_lock():
                    rows = self._next_due_direct.rows(conn, {"limit": 1, "zero": 0, **_OPEN})
                return rows[0]["at"]
            except SQLAlchemyError as exc:
                log.debug("next due time on the sweep's connection failed (%s)", exc)
                self._lost_kept()
        return self.next_due()


def _address_key(outbound: Outbound) -> str:
    a = outbound.address
    return f"{a.platform}:{a.channel or ''}:{a.user or ''}"


def _progress_of(outbound: Outbound) -> dict[str, Any] | None:
    """How far an adapter got with a message it sends in parts (`meta["progress"]`, the
    adapter's own JSON), kept with the reminder so the retry goes on from there."""
    progress = outbound.meta.get("progress")
    return {_address_key(outbound): progress} if progress else None


def _resumed(saved: dict[str, Any], outbounds: list[Outbound]) -> list[Outbound]:
    """The messages of a reminder, each with the progress a failed try left (`saved`)."""
    for outbound in outbounds:
        if _address_key(outbound) in saved:
            outbound.meta["progress"] = saved[_address_key(outbound)]
    return outbounds


def now_or(value: datetime | None) -> datetime:
    return value if value is not None else datetime.now(UTC)
