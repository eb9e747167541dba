"""The reminder outbox under load.

1. With --pending reminders (default 200,000; issue 22 states its goal at 1,000,000, which
   takes minutes to fill on two shared cores) of which --due (10,000) are due, addressed to 50
   known members: the time to claim them all at once, and for one sweep to claim, render,
   deliver and mark them sent one by one (no-op adapter), per reminder against the goal (0.08
   ms SQLite, 0.2 ms PostgreSQL), on SQLite and PostgreSQL, and the query plan of the claim.
2. Lateness under the real APScheduler: 500 reminders falling due within ten seconds,
   measured from each one's due time to its delivery (p50/p99).
3. With --lone N: lone answers (a chat answer queued by a conversation step, then delivered by
   the sweep woken for it, as DingTalk's messages coming one at a time are), under the real
   scheduler, one at a time among 10,000 pending: the CPU the delivery side spends per answer
   (every thread but the one queueing: the wake-up, claim, read, send, mark, next due time),
   the fixed cost of a sweep that finds one row.

    .venv/bin/python bench/reminders.py [--pending 200000] [--due 10000] [--skip-lateness]
        [--sqlite-only] [--analyze] [--lone N] [--lone-only]
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import _common  # noqa: F401
from _common import percentile, temporary_postgres
from sqlalchemy import event, insert, text

from bot import db as db_module
from bot.db import upgrade
from bot.models import Member
from schedules import worker
from schedules.models import Reminder, Status
from schedules.worker import Sweeper
from tests.support import build_app

TOTAL, DUE = 100_000, 1_000
ANALYZE = False


class NullAdapter:
    def __init__(self) -> None:
        self.count = 0

    def send(self, outbound) -> None:  # noqa: ANN001
        self.count += 1


def fill(app, now: datetime) -> None:  # noqa: ANN001
    def row(i: int) -> dict:
        due = now - timedelta(seconds=1 + i % 60) if i < DUE else now + timedelta(hours=1 + i)
        return {
            "key": f"bench:{i}", "kind": "system.training", "record_type": "bench",
            "record_id": str(i), "due_at": due, "planned_at": due, "target_kind": "member",
            "target_platform": "console", "target_id": f"user{i % 50}",
            "status": Status.PENDING, "attempts": 0, "snoozable": True,
            "payload": {"quarter": "2026-Q4"}, "created_at": now,
        }

    with app.db.session() as session:
        for start in range(0, TOTAL, 10_000):
            session.execute(insert(Reminder.__table__),
                            [row(i) for i in range(start, min(TOTAL, start + 10_000))])
        session.execute(insert(Member.__table__), [
            {"platform": "console", "user_id": f"user{i}", "display_name": f"User {i}",
             "locale": ("zh", "en")[i % 2], "created_at": now} for i in range(50)])
    with app.db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        # Rolled back on SQLite unless --analyze (the app itself never runs ANALYZE; an admin
        # or `PRAGMA optimize` may): the claim's plan with statistics, on both databases.
        if ANALYZE:
            conn.commit()
    # The fill's pages written out now, not by a checkpoint during the timed sweep (at
    # 1,000,000 rows, PostgreSQL's commits then waited ~30 ms each on the WAL sync). Outside
    # any transaction: the driver's own connection, in autocommit.
    raw = app.db.engine.raw_connection()
    try:
        driver = raw.driver_connection
        if app.db.dialect == "postgresql":
            driver.autocommit = True
            driver.execute("CHECKPOINT")
            driver.autocommit = False
        else:
            driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()


def commit_floor(app) -> float:  # noqa: ANN001
    """The median time of one single-row UPDATE committing by itself (ms), on a scratch table:
    a reminder's mark is such a commit, and the next send waits for it (so that a crash
    repeats at most one message), so on PostgreSQL this (its WAL flush) bounds the sweep's
    time per reminder from below, whatever the rest costs."""
    raw = app.db.engine.raw_connection()
    try:
        driver = raw.driver_connection
        if app.db.dialect == "postgresql":
            driver.autocommit = True
        else:
            driver.isolation_level = None
        driver.execute("CREATE TABLE bench_commit_floor (id INTEGER PRIMARY KEY, n INTEGER)")
        driver.execute("INSERT INTO bench_commit_floor VALUES (1, 0)")
        times = []
        for _ in range(200):
            t0 = time.perf_counter()
            driver.execute("UPDATE bench_commit_floor SET n = n + 1 WHERE id = 1")
            times.append(time.perf_counter() - t0)
        driver.execute("DROP TABLE bench_commit_floor")
        if app.db.dialect == "postgresql":
            driver.autocommit = False
    finally:
        raw.close()
    return percentile(times, 50) * 1000


def claim_plan(app, now: datetime) -> str:  # noqa: ANN001
    query = Sweeper(app, {}).claim_query(now, DUE)
    compiled = query.compile(app.db.engine, compile_kwargs={"literal_binds": True})
    prefix = "EXPLAIN QUERY PLAN " if app.db.dialect == "sqlite" else "EXPLAIN "
    with app.db.engine.connect() as conn:
        rows = conn.execute(text(prefix + str(compiled))).all()
    return "\n".join("    " + " ".join(str(x) for x in row) for row in rows)


def sweep_once(url: str, label: str, tmp: Path) -> None:
    upgrade(url)
    app, _ = build_app(url, tmp)
    # The domains' code (their reminder kinds), imported once per process at the first message
    # or due reminder (bot.router.Registry.load): before the timing, which is per reminder.
    app.registry.load()
    now = datetime.now(UTC)
    fill(app, now)
    adapter = NullAdapter()
    # Claims as many at a time as in production, and like the scheduler's keeps no list of
    # what it sent.
    sweeper = Sweeper(app, {"console": adapter}, keep_sent=False)
    t0 = time.perf_counter()
    ids = sweeper.claim(now, DUE)
    claimed = time.perf_counter() - t0
    with app.db.session() as session:
        session.execute(
            Reminder.__table__.update().where(Reminder.__table__.c.id.in_(ids))
            .values(status=Status.PENDING, lease_owner=None, lease_until=None)
        )
    statements = Counter()

    def count(conn, cursor, statement, *_) -> None:  # noqa: ANN001
        statements[statement.split(None, 1)[0].upper()] += 1

    event.listen(app.db.engine, "before_cursor_execute", count)
    t0, cpu = time.perf_counter(), time.process_time()
    # The real clock, as in production: a clock from before the fill made the sweeper renew
    # its lease after every claim (its last renewal looked older than the lease's third).
    result = sweeper.sweep()
    swept, cpu = time.perf_counter() - t0, time.process_time() - cpu
    event.remove(app.db.engine, "before_cursor_execute", count)
    assert len(ids) == DUE and result.delivered == DUE == adapter.count, (len(ids), result)
    goal = 0.08 if app.db.dialect == "sqlite" else 0.2
    print(f"{label}: {TOTAL:,} pending, {DUE:,} due"
          f"{', ANALYZE committed' if ANALYZE else ''}; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"  claim of {DUE:,} (one transaction):        {claimed * 1000:8.1f} ms")
    print(f"  sweep: claim + render + deliver + mark sent: {swept * 1000:8.1f} ms "
          f"({swept / DUE * 1000:.2f} ms per reminder, {DUE / swept:,.0f} reminders/s; "
          f"goal <= {goal} ms; each marked sent in its own transaction)")
    print(f"  sweep CPU (this process; steadier than the time on a shared machine): "
          f"{cpu / DUE * 1000:.3f} ms per reminder")
    total = sum(statements.values())
    print(f"  statements sent through SQLAlchemy: {total / DUE:.2f} per reminder ("
          + (", ".join(f"{word} {n / DUE:.2f}" for word, n in statements.most_common())
             or "none") + ")"
          + ("; psycopg's own BEGIN, COMMIT and the pool's pings not counted"
             if app.db.dialect == "postgresql" else "; COMMIT not counted")
          # Statements run straight on the driver (bot.db.Direct) fire no SQLAlchemy event.
          + ("; the marks (one UPDATE per reminder, schedules.worker._MARK_DIRECT) not seen"
             if hasattr(worker, "_MARK_DIRECT") else "")
          # Nor the claims' statements and the chunks' reads (the rows, their recipients,
          # the kinds' once-per-read lookups), run on the driver too.
          + ("; the claims and the chunks' reads (bot.db.Direct) not seen"
             if hasattr(worker, "_by_ids") else "")
          + ("; SAVEPOINT and RELEASE (bot.db: sent to the driver) not seen"
             if hasattr(db_module, "_driver_savepoints") else ""))
    print(f"  a one-row UPDATE committing alone on a scratch table (the least a mark takes), p50: "
          f"{commit_floor(app):.3f} ms")
    print("  claim query plan:")
    print(claim_plan(app, now))
    app.db.dispose()


def lateness(tmp: Path) -> None:
    from schedules import api
    from schedules.api import Target
    from schedules.scheduler import ReminderScheduler

    url = f"sqlite:///{tmp / 'late.db'}"
    upgrade(url)  # build_app expects a migrated database (the test fixtures hand those out)
    app, _ = build_app(url, tmp, reminder_sweep=timedelta(seconds=15))
    delays: list[float] = []
    done = threading.Event()
    planned: dict[str, datetime] = {}

    class Clocked:
        def send(self, outbound) -> None:  # noqa: ANN001
            # The title names the quarter in parentheses: the bench's key (L<n>).
            key = re.search(r"[(（](L\d+)[)）]", outbound.message.title).group(1)
            delays.append((datetime.now(UTC) - planned[key]).total_seconds())
            if len(delays) == len(planned):
                done.set()

    scheduler = ReminderScheduler(app, {"console": Clocked()})
    scheduler.start()
    start = datetime.now(UTC) + timedelta(seconds=1)
    with app.db.session() as session:
        for i in range(500):
            due = start + timedelta(milliseconds=20 * i)  # 500 within ten seconds
            planned[f"L{i}"] = due
            api.plan(session, key=f"late:{i}", kind="system.training", due=due,
                     target=Target.member("console", "u"), payload={"quarter": f"L{i}"})
    done.wait(timeout=60)
    scheduler.stop()
    ms = [d * 1000 for d in delays]
    print(f"lateness under the real scheduler (SQLite, sweep every 15 s, {len(ms)} of 500 "
          f"delivered): p50 {percentile(ms, 50):.1f} ms  p99 {percentile(ms, 99):.1f} ms  "
          f"max {max(ms):.1f} ms")
    app.db.dispose()


class Signalling:
    """Counts the messages sent, and says when one went."""

    def __init__(self) -> None:
        self.count = 0
        self.sent = threading.Event()

    def send(self, outbound) -> None:  # noqa: ANN001
        self.count += 1
        self.sent.set()


def lone(url: str, label: str, tmp: Path, n: int) -> None:
    from bot.messages import Address, Outbound, Rendered
    from schedules import api
    from schedules.scheduler import ReminderScheduler

    global TOTAL, DUE
    upgrade(url)
    app, _ = build_app(url, tmp)
    app.registry.load()
    TOTAL, DUE = 10_000, 0
    fill(app, datetime.now(UTC))
    adapter = Signalling()
    scheduler = ReminderScheduler(app, {"console": adapter})
    scheduler.start()
    time.sleep(0.5)  # the start-up sweep (nothing due)
    with scheduler._sweeping:
        pass
    cpu, own, t0 = time.process_time(), time.thread_time(), time.perf_counter()
    walls = []
    for i in range(n):
        adapter.sent.clear()
        started = time.perf_counter()
        with app.db.session() as session:
            api.queue(session, Outbound(Address("console", user=f"user{i % 50}"),
                                        Rendered(title="", body=f"answer {i}")))
        adapter.sent.wait(10)
        walls.append(time.perf_counter() - started)
        with scheduler._sweeping:  # the sweep that sent it has ended (mark and next due time)
            pass
    wall = time.perf_counter() - t0
    cpu, own = time.process_time() - cpu, time.thread_time() - own
    scheduler.stop()
    assert adapter.count == n, adapter.count
    print(f"{label}: {n} lone answers, each queued alone and delivered by the sweep woken for "
          f"it (10,000 pending); load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"  delivery CPU per answer (every thread but the queueing one): "
          f"{(cpu - own) / n * 1000:.3f} ms; queueing thread {own / n * 1000:.3f} ms; "
          f"queued to sent p50 {percentile(walls, 50) * 1000:.2f} ms; "
          f"{n / wall:,.0f} answers/s")
    app.db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-lateness", action="store_true")
    parser.add_argument("--pending", type=int, default=200_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--analyze", action="store_true",
                        help="commit ANALYZE after the fill (SQLite plans with sqlite_stat1)")
    parser.add_argument("--lone", type=int, default=0,
                        help="also N lone answers, each delivered by its own sweep")
    parser.add_argument("--lone-only", action="store_true", help="only the lone answers")
    args = parser.parse_args()
    global TOTAL, DUE, ANALYZE
    TOTAL, DUE, ANALYZE = args.pending, args.due, args.analyze
    with tempfile.TemporaryDirectory() as tmp:
        if args.lone:
            lone(f"sqlite:///{Path(tmp) / 'lone.db'}", "SQLite", Path(tmp) / "ls", args.lone)
            with temporary_postgres() as pg:
                if pg and not args.sqlite_only:
                    lone(pg, "PostgreSQL", Path(tmp) / "lp", args.lone)
            TOTAL, DUE = args.pending, args.due
            if args.lone_only:
                return
        sweep_once(f"sqlite:///{Path(tmp) / 'bench.db'}", "SQLite", Path(tmp) / "s")
        with temporary_postgres() as pg:
            if pg and not args.sqlite_only:
                sweep_once(pg, "PostgreSQL", Path(tmp) / "p")
        if not args.skip_lateness:
            lateness(Path(tmp))


if __name__ == "__main__":
    main()
