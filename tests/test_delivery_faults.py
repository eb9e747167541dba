"""Delivery under process faults, with real processes: `liaison run` replicas in Slack HTTP
mode against a fake Slack whose every call takes 50 ms (20 ms in the outage test).

- kill -9 of a replica in the middle of a batch, then a restart: nothing lost, at most one
  message repeated per killed process (the one in flight), the orphans delivered within two
  leases, the takeover logged with the old owner.
- A private PostgreSQL cluster stopped mid-delivery and started again: nothing lost, nothing
  repeated, the process never restarted, /readyz 503 during and 200 after, and reminders due
  during the outage delivered within 2 s of the database's return.

Settings are scaled down so the tests take seconds, not minutes; the behaviour is the same:
a 3 s lease instead of 60 s, a 1 s sweep, a 5 s outage instead of 30 s. They measure time,
so `make test` runs them (marker `timing`) at normal priority beside the rest of the suite,
which runs at the lowest (nice 19): they never wait for the CPU behind other tests.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.db import Database, upgrade
from schedules.models import Reminder
from tests.fakes.slack_api import FakeSlack, message_text

BIN = Path(sys.executable).parent
LEASE = 3.0  # seconds (LIAISON_REMINDER_LEASE, scaled down from 60 s)
MARK = re.compile(r"#(\d+)#")

pytestmark = pytest.mark.timing


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Replica:
    """One `liaison run` process; its log goes to a file."""

    def __init__(self, tmp: Path, name: str, db_url: str, fake: FakeSlack) -> None:
        self.dir = tmp / name
        self.dir.mkdir(exist_ok=True)
        self.port = _free_port()
        self.log = self.dir / "stderr.log"
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("LIAISON_", "SLACK_", "DINGTALK_", "DATABASE_URL"))}
        env.update({
            "HOME": str(self.dir), "DATABASE_URL": db_url, "SLACK_BOT_TOKEN": "xoxb-fault",
            "SLACK_SIGNING_SECRET": "fault-secret", "SLACK_API_URL": fake.api_url,
            "LIAISON_HTTP_PORT": str(self.port), "LIAISON_REMINDER_LEASE": f"{LEASE:g}s",
            "LIAISON_REMINDER_SWEEP": "1s", "LIAISON_ADMINS": "slack:UADMIN",
            "LIAISON_DATABASE_CONNECT_TIMEOUT": "2s",
        })
        self.proc = subprocess.Popen(
            [str(BIN / "liaison"), "run"], cwd=self.dir, env=env,
            stdout=subprocess.DEVNULL, stderr=self.log.open("w"),
        )

    def get(self, path: str) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}",
                                        timeout=2) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def wait_up(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.get("/healthz") == 200:
                    return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            assert self.proc.poll() is None, self.text()
            assert time.monotonic() < deadline, "the replica never came up"
            time.sleep(0.05)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        _stop_all([self])


def _stop_all(replicas: list[Replica]) -> None:
    """SIGTERM every replica at once, then wait for each: they shut down side by side."""
    running = [r for r in replicas if r.proc.poll() is None]
    for r in running:
        r.proc.send_signal(signal.SIGTERM)
    for r in running:
        try:
            r.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            r.proc.kill()
            r.proc.wait()


def _plan(db_url: str, count: int, start: datetime, spread: timedelta) -> None:
    """`count` training reminders, each to its own channel, falling due over `spread`."""
    db = Database(db_url)
    with db.session() as session:
        for i in range(count):
            due = start + spread * (i / count)
            session.add(Reminder(
                key=f"fault:{i}", kind="system.training", due_at=due, planned_at=due,
                target_kind="channel", target_platform="slack", target_id=f"C{i:04d}",
                payload={"quarter": f"#{i}#"}, snoozable=False,
            ))
    db.dispose()


def _delivered(fake: FakeSlack) -> list[tuple[int, float]]:
    """(reminder number, when) of every post Slack accepted."""
    out = []
    for call in fake.calls("chat.postMessage"):
        found = MARK.search(message_text(call.params))
        if call.status == 200 and found:
            out.append((int(found.group(1)), call.at))
    return out


def _claimed_by(db_url: str, owner: str) -> set[int]:
    """The reminders `owner` held when it died."""
    db = Database(db_url)
    with db.session() as session:
        keys = session.execute(text(
            "SELECT key FROM reminder WHERE status = 'claimed' AND lease_owner = :owner"),
            {"owner": owner}).scalars().all()
    db.dispose()
    return {int(k.split(":")[1]) for k in keys}


def _wait(predicate, timeout: float, every: float = 0.05) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return predicate()


def _wait_all_marked_sent(db_url: str, timeout: float) -> bool:
    """Wait until every planted reminder is marked sent in the database. From then on none
    can be sent again: a sweeper posts only a row it holds claimed (renewing its lease while
    it sends), a sent row is never claimed again, and a row is marked only after Slack took
    its post, so every post there will be is already recorded. This replaces sleeping a lease
    and a sweep "for anything that would be sent twice": it holds as soon as the last orphan
    taken over, or the last mark kept while the database was away, is written."""
    db = Database(db_url)
    query = text("SELECT count(*) FROM reminder WHERE key LIKE 'fault:%' AND status <> 'sent'")

    def unsent() -> int:
        with db.session() as session:
            return session.execute(query).scalar_one()

    try:
        return _wait(lambda: unsent() == 0, timeout)
    finally:
        db.dispose()


def test_kill_9_mid_batch_loses_nothing_and_repeats_at_most_one(db_url, tmp_path) -> None:
    fake = FakeSlack(latency=0.05).start()
    replicas = [Replica(tmp_path, name, db_url, fake) for name in ("a", "b")]
    restarted = None
    try:
        for r in replicas:
            r.wait_up()
        # From 1 s ahead: both replicas have swept once and claim the rows as they fall due
        # (due at once, one replica's first sweep could take them all and the other hold
        # nothing to be killed with).
        _plan(db_url, 300, datetime.now(UTC) + timedelta(seconds=1), timedelta(seconds=2))
        victim = replicas[0]
        owner = re.search(r"started as (sweeper-\w+)", victim.text()).group(1)
        # Killed mid-batch: once delivery is well under way, at a moment the victim holds
        # claimed rows (how the two replicas share the rows is up to them and the machine).
        assert _wait(lambda: len(_delivered(fake)) >= 40 and bool(_claimed_by(db_url, owner)),
                     30), "the victim was never seen holding a batch"
        victim.kill()
        killed_at = time.monotonic()
        orphans = _claimed_by(db_url, owner)
        restarted = Replica(tmp_path, "a2", db_url, fake)
        assert _wait(lambda: len({n for n, _ in _delivered(fake)}) == 300, 60)
        done_at = max((t for n, t in _delivered(fake) if n in orphans), default=killed_at)
        # Anything that would be sent twice has been sent once every row is marked sent; the
        # replicas are then stopped (a post still in flight somewhere completes on SIGTERM)
        # before the posts are counted, so even one that broke that rule would be seen.
        assert _wait_all_marked_sent(db_url, 2 * LEASE), "rows left unmarked"
        _stop_all([*replicas, restarted])
        counts = Counter(n for n, _ in _delivered(fake))
        repeated = sum(c - 1 for c in counts.values())
        logs = replicas[1].text() + restarted.text()
    finally:
        _stop_all([*replicas, *([restarted] if restarted else [])])
        fake.stop()
    assert len(counts) == 300  # none lost
    assert repeated <= 1, f"{repeated} repeated: {[n for n, c in counts.items() if c > 1]}"
    assert orphans, "the killed replica held nothing"
    assert done_at - killed_at <= 2 * LEASE, f"orphans took {done_at - killed_at:.1f} s"
    takeover = re.findall(r"taking over from (sweeper-\w+)", logs)
    assert takeover, "no takeover was logged"
    print(f"\nkill -9 ({db_url.split(':')[0]}): lost 0, repeated {repeated}, "
          f"{len(orphans)} orphans out {done_at - killed_at:.1f} s after the kill "
          f"(lease {LEASE:g} s), takeovers logged: {len(takeover)}")


# -- a private PostgreSQL cluster, stopped and started ---------------------------------------


def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else None


def _as_postgres(args: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the postgres user then."""
    if os.geteuid() != 0:
        return args
    return ["runuser", "-u", "postgres", "--", *args]


@pytest.fixture
def private_pg(tmp_path):  # noqa: ANN001, ANN201
    """A PostgreSQL cluster of our own on its own port: stopping it touches no one else."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl or (os.geteuid() == 0 and not shutil.which("runuser")):
        pytest.skip("PostgreSQL server binaries are not installed")
    data = Path(f"/tmp/liaison-pg-{os.getpid()}-{time.monotonic_ns()}")
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    port = _free_port()
    subprocess.run(_as_postgres([initdb, "-D", str(data / "db"), "-A", "trust", "-U",
                                 "postgres"]), check=True, capture_output=True)
    start = _as_postgres([pg_ctl, "-D", str(data / "db"), "-w", "-l", str(data / "log"),
                          "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1",
                          "start"])
    stop = _as_postgres([pg_ctl, "-D", str(data / "db"), "-w", "-m", "fast", "stop"])
    subprocess.run(start, check=True, capture_output=True)
    try:  # from here on, whatever happens (Ctrl-C during the set-up too), the cluster stops
        admin = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres",
                              isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE liaison"))
        admin.dispose()
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/liaison"
        upgrade(url)
        yield url, (lambda: subprocess.run(stop, check=True, capture_output=True)), \
            (lambda: subprocess.run(start, check=True, capture_output=True))
    finally:
        subprocess.run(stop, capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


OUTAGE = 5.0  # seconds (30 s in the issue, scaled down)


# Slack's answer time in the outage test, scaled down with the outage. The 2 s bound is how soon
# delivery resumes after the database returns; one replica posts one message at a time (at most
# one repeat per killed process needs that), so the backlog it then clears, the 20 that fell
# due meanwhile and the 5 to 10 the outage interrupted, costs that many answer times: at 50 ms
# a call they alone took 1.5 s of the 2 s, and the bound measured the fake's latency.
OUTAGE_LATENCY = 0.02


def test_postgres_stopped_mid_delivery_loses_and_repeats_nothing(private_pg, tmp_path) -> None:
    url, stop_db, start_db = private_pg
    fake = FakeSlack(latency=OUTAGE_LATENCY).start()
    replica = Replica(tmp_path, "r", url, fake)
    try:
        replica.wait_up()
        assert replica.get("/readyz") == 200
        now = datetime.now(UTC)
        # 40 going out now, and 20 more that fall due while the database is away.
        _plan(url, 40, now, timedelta(seconds=1))
        assert _wait(lambda: len(_delivered(fake)) >= 30, 30), "nothing was being delivered"
        db = Database(url)
        with db.session() as session:
            for i in range(40, 60):
                due = datetime.now(UTC) + timedelta(seconds=1 + (OUTAGE - 2) * (i - 40) / 20)
                session.add(Reminder(
                    key=f"fault:{i}", kind="system.training", due_at=due, planned_at=due,
                    target_kind="channel", target_platform="slack", target_id=f"C{i:04d}",
                    payload={"quarter": f"#{i}#"}, snoozable=False))
        db.dispose()
        stop_db()
        stopped_at = time.monotonic()
        started = time.perf_counter()
        during = replica.get("/readyz")
        readyz_took = time.perf_counter() - started
        time.sleep(OUTAGE)
        start_db()
        back_at = time.monotonic()
        assert _wait(lambda: replica.get("/readyz") == 200, 10)
        assert _wait(lambda: len({n for n, _ in _delivered(fake)}) == 60, 30)
        late = max(t for n, t in _delivered(fake) if n >= 40) - back_at
        resumed = min(t for n, t in _delivered(fake) if n >= 40) - back_at  # the first of them
        assert _wait_all_marked_sent(url, 2 * LEASE), "rows left unmarked"
        alive = replica.proc.poll() is None
        replica.stop()  # a post still in flight completes first, and is counted
        counts = Counter(n for n, _ in _delivered(fake))
        log = replica.text()
    finally:
        replica.stop()
        fake.stop()
    assert alive, "the process did not survive the outage"
    assert during == 503 and readyz_took < 1.5
    assert len(counts) == 60 and set(counts.values()) == {1}, counts
    assert resumed < 1.0, f"the first post came {resumed:.1f} s after the database returned"
    assert late < 2.0, f"due reminders went out {late:.1f} s after the database returned"
    assert "database unavailable" in log and "database is back" in log
    assert log.count("database unavailable") <= 3, "one line per outage, not one per second"
    print(f"\nPostgreSQL down {OUTAGE:g} s (waited {back_at - stopped_at:.1f}): lost 0, "
          f"repeated 0, /readyz {during} in {readyz_took * 1000:.0f} ms, due ones out "
          f"{late:.2f} s after the return (the first {resumed:.2f} s after it)")
