"""Complaints: filing under contention, and listing a large table.

1. Filing: N threads, each a different member, confirm prefilled `/complaint new` flows as
   fast as they can, through `Liaison.handle` (the whole message: flow, id upsert, reminder
   planning, rendering). Prints complaints per second and the confirm latency, and checks that
   the ids came out unique and consecutive.
2. Listing: `/complaint list open|overdue` and `/complaint show` with many complaints in the
   table, as an agent in a DM (full rows) and in another channel (limited rows).

On SQLite (a file) and on PostgreSQL (a temporary database, when reachable).

    .venv/bin/python bench/complaints.py [--threads 8] [--each 25] [--rows 5000]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import _common  # noqa: F401
from _common import seed_complaints, summary_ms, temporary_postgres
from sqlmodel import select

from bot.config import Settings
from bot.core import Liaison
from bot.db import Database, upgrade
from bot.messages import Inbound
from handlers.complaints.models import Complaint

FILE = ('/complaint new customer=ACME contact=x channel=email summary="bench {n}" details=d '
        'severity=high received=now owner=me')


def _app(url: str) -> Liaison:
    upgrade(url)
    settings = Settings(_env_file=None, database_url=url, admins="console:admin")
    return Liaison(settings, Database(url))


def _say(app: Liaison, user: str, text: str, channel: str = "console",
         direct: bool = True) -> str:
    out = app.handle(Inbound(platform="console", channel=channel, user=user, text=text,
                             direct=direct, user_name=user))
    return "\n".join(o.message.text for o in out)


def bench_filing(url: str, threads: int, each: int) -> None:
    app = _app(url)
    latencies: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(threads + 1)

    def member(i: int) -> None:
        user = f"agent{i}"
        start.wait()
        for n in range(each):
            _say(app, user, FILE.format(n=n))
            began = time.perf_counter()
            out = _say(app, user, "confirm")
            took = time.perf_counter() - began
            assert "C-" in out, out
            with lock:
                latencies.append(took)

    workers = [threading.Thread(target=member, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    start.wait()
    began = time.perf_counter()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - began
    with app.db.session() as s:
        seqs = sorted(s.exec(select(Complaint.seq)).all())
    ok = seqs == list(range(1, threads * each + 1))
    print(f"  filing, {threads} threads x {each}: {threads * each / elapsed:.0f} complaints/s "
          f"(wall {elapsed:.2f} s, incl. the prefill messages); confirm {summary_ms(latencies)}; "
          f"ids unique and consecutive: {ok}")
    app.db.dispose()


def bench_listing(url: str, rows: int) -> None:
    app = _app(url)
    _say(app, "bob", "/whoami")
    _say(app, "admin", "/role grant @bob agent")
    seed_complaints(app.db, rows, platform="console", reporter="alice",
                    owner_of=lambda n: "bob" if n % 3 else "carol")
    for label, text, direct, channel in (
        ("list open, agent DM (full)", "/complaint list open", True, "console"),
        ("list overdue, agent DM", "/complaint list overdue", True, "console"),
        ("list all, other channel (limited)", "/complaint list all", False, "C-GENERAL"),
        ("show, agent DM", f"/complaint show C-2026-{rows // 2:04d}", True, "console"),
    ):
        samples = []
        for _ in range(50):
            began = time.perf_counter()
            _say(app, "bob", text, channel=channel, direct=direct)
            samples.append(time.perf_counter() - began)
        print(f"  {label}, {rows} complaints: {summary_ms(samples)}")
    app.db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--each", type=int, default=25)
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print("SQLite")
        bench_filing(f"sqlite:///{Path(tmp) / 'filing.db'}", args.threads, args.each)
        bench_listing(f"sqlite:///{Path(tmp) / 'listing.db'}", args.rows)
    for label, runner, extra in (("filing", bench_filing, (args.threads, args.each)),
                                 ("listing", bench_listing, (args.rows,))):
        with temporary_postgres() as url:
            if url is None:
                break
            if label == "filing":
                print("PostgreSQL")
            runner(url, *extra)


if __name__ == "__main__":
    main()
