"""Shared bits for the benchmarks: percentiles and a temporary PostgreSQL database."""

from __future__ import annotations

import os
import statistics
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_URL = os.environ.get(
    "LIAISON_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary_ms(samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return (f"p50 {percentile(ms, 50):.2f} ms  p99 {percentile(ms, 99):.2f} ms  "
            f"mean {statistics.fmean(ms):.2f} ms  n={len(ms)}")


@contextmanager
def temporary_postgres():
    """A fresh database on the local PostgreSQL; yields its URL, or None when unreachable."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"liaison_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        print(f"(PostgreSQL not reachable at {PG_URL}: {exc.__class__.__name__}; skipped)")
        yield None
        return
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed_complaints(db, rows: int, *, platform: str, reporter: str,  # noqa: ANN001
                    owner_of) -> None:  # noqa: ANN001
    """`rows` complaints, one every 7 minutes back from now, in every status, with the
    per-year counter after them: what a list command reads. `owner_of(n)` names the owner."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert

    from bot.models import RecordCounter
    from handlers.complaints.models import Complaint

    now = datetime.now(UTC)
    statuses = ("new", "responded", "solution", "followed_up", "resolved", "closed")
    batch = []
    for n in range(1, rows + 1):
        received = now - timedelta(minutes=n * 7)
        batch.append(dict(
            ref=f"C-2026-{n:04d}", year=2026, seq=n, customer=f"Customer {n}", contact="x",
            channel="phone", summary=f"summary {n}", details="d" * 200, severity="normal",
            status=statuses[n % len(statuses)], received_at=received,
            due_at=received + timedelta(hours=24), reporter_platform=platform,
            reporter_id=reporter, reporter_name=reporter, owner_platform=platform,
            owner_id=owner_of(n), owner_name=owner_of(n), created_at=received,
            updated_at=received, response="", pause_reason="", paused_seconds=0,
            clock_round=0, solution="", followup_nags=0, followup="", satisfaction_comment="",
            close_reason="",
        ))
    with db.session() as s:
        s.execute(insert(Complaint), batch)
        s.execute(insert(RecordCounter), [{"prefix": "C", "year": 2026, "last": rows}])
