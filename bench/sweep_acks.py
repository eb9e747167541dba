"""Slack acks while the reminder sweep runs (issue 22: "during a 3,000-reminder sweep, Slack
ack p99 within 1.3x of idle").

The real Liaison Slack HTTP app (SlackAdapter: waitress, the request guard, Bolt) and its
ReminderScheduler, in this process, on a SQLite file and then on a fresh PostgreSQL database;
the fake Slack (tests/fakes/slack_api.py, no added latency) in a process of its own, and the
client, one thread sending signed `/liaison help` back to back over keep-alive, in another.
First the idle acks, with the scheduler running and nothing due; then --due reminders (3,000)
are planted due now, one per channel so that Slack's pace of one post a second per channel
holds none back, the scheduler is woken as a commit would wake it, and the acks are timed
until the last of them is delivered (--render-chunks 20,4: the same with the sweeper reading
20, then 4, reminders per render transaction, before and after in one run). Prints p50 / p99 /
max idle and during, the ratio of the p99s against the goal, the sweep's time, the load
average, and Python's full garbage collections during the sweep (each pauses every thread).

    .venv/bin/python bench/sweep_acks.py [--due 3000] [--idle 1500] [--sqlite-only]
"""

from __future__ import annotations

import argparse
import gc
import http.client
import logging
import multiprocessing
import os
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import _common  # noqa: F401
from _common import percentile, temporary_postgres
from slack import SECRET, load_average, request_body
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import insert

from bot.adapters.slack import SlackAdapter
from bot.config import Settings
from bot.runtime import build
from schedules.models import Reminder, Status
from schedules.scheduler import ReminderScheduler

USERS = 20
GOAL = 1.3


# -- the processes apart from the app ----------------------------------------------------------

def fake_slack(conn) -> None:  # noqa: ANN001
    """The fake Slack in its own process (its threads would otherwise share the app's
    interpreter lock): sends its URL, serves until told to stop."""
    from tests.fakes.slack_api import FakeSlack

    fake = FakeSlack().start()
    for n in range(USERS):
        fake.add_user(f"UBENCH{n}", f"Bench {n}", tz="Asia/Shanghai", locale="en-US")
    conn.send(fake.api_url)
    conn.recv()
    conn.send(len(fake.calls("chat.postMessage")))
    fake.stop()


def client(port: int, stop, out, limit: int) -> None:  # noqa: ANN001
    """One thread of signed `/liaison help` requests, back to back, until `limit` are done or
    `stop` is set; puts (wall-clock start, seconds to the ack, status) per request."""
    verifier = SignatureVerifier(SECRET)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    run = f"{os.getpid()}-{time.monotonic_ns()}-"
    samples = []
    n = 0
    while n < limit and not stop.is_set():
        body = request_body(n, "help", run)
        ts = str(int(time.time()))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": verifier.generate_signature(timestamp=ts, body=body),
        }
        began, start = time.time(), time.perf_counter()
        conn.request("POST", "/slack/events", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        samples.append((began, time.perf_counter() - start, response.status))
        n += 1
    conn.close()
    out.put(samples)


def timed(port: int, limit: int, stop=None) -> tuple:  # noqa: ANN001
    context = multiprocessing.get_context("spawn")
    stop = stop or context.Event()
    out = context.Queue()
    process = context.Process(target=client, args=(port, stop, out, limit), daemon=True)
    process.start()
    return process, out, stop  # the Event kept alive until the child has it


def collect(process, out, _stop=None) -> list[tuple[float, float, int]]:  # noqa: ANN001
    while True:
        try:
            samples = out.get(timeout=1)
            break
        except Exception:  # noqa: BLE001  (queue.Empty)
            if not process.is_alive():
                raise RuntimeError("the client process died") from None
    process.join(timeout=30)
    return samples


# -- the app -----------------------------------------------------------------------------------

class Counting:
    """The Slack adapter, counting what it delivered; everything else passes through."""

    def __init__(self, inner: SlackAdapter, expected: int) -> None:
        self.inner = inner
        self.expected = expected
        self.sent = 0
        self.done = threading.Event()
        self.last_at = 0.0

    def send(self, outbound):  # noqa: ANN001, ANN201
        found = self.inner.send(outbound)
        self.sent += 1
        if self.sent >= self.expected:
            self.last_at = time.time()
            self.done.set()
        return found

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self.inner, name)


def plant(app, due: int, now: datetime) -> None:  # noqa: ANN001
    """`due` reminders due now, each into a channel of its own, written directly."""
    rows = [{
        "key": f"bench:{i}", "kind": "system.training", "record_type": "bench",
        "record_id": str(i), "due_at": now - timedelta(seconds=1), "planned_at": now,
        "target_kind": "channel", "target_platform": "slack", "target_id": f"CSWEEP{i:05d}",
        "status": Status.PENDING, "attempts": 0, "snoozable": True,
        "payload": {"quarter": "2026-Q4"}, "created_at": now,
    } for i in range(due)]
    with app.db.session() as session:
        session.execute(insert(Reminder.__table__), rows)


class FullCollections:
    """Python's full (generation 2) garbage collections in this process, with their pauses:
    every thread waits while one runs (tens of milliseconds over the app's heap), which is
    what a sweep's `max` often is."""

    def __init__(self) -> None:
        self.pauses: list[tuple[float, float]] = []  # (wall-clock start, seconds)
        self._began = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.pauses.append((time.time(), time.perf_counter() - self._began))

    def within(self, began: float, ended: float) -> tuple[int, float]:
        found = [p for at, p in self.pauses if began <= at <= ended]
        return len(found), max(found, default=0.0)


def figures(samples: list[float]) -> tuple[float, float, float]:
    ms = [s * 1000 for s in samples]
    return percentile(ms, 50), percentile(ms, 99), max(ms)


def run(url: str, label: str, api_url: str, due: int, idle: int,
        chunk: int | None = None) -> dict[str, object]:
    admins = ",".join(f"slack:UBENCH{n}" for n in range(USERS))
    settings = Settings(_env_file=None, database_url=url, admins=admins,
                        slack_bot_token="xoxb-bench", slack_signing_secret=SECRET,
                        slack_api_url=api_url)
    app = build(settings)
    adapter = SlackAdapter(app, settings, host="127.0.0.1")
    adapter.port = 0
    port = adapter.listen()
    runner = threading.Thread(target=adapter.run, daemon=True)
    runner.start()
    counting = Counting(adapter, due)
    scheduler = ReminderScheduler(app, {"slack": counting})
    if chunk:
        scheduler.sweeper.render_chunk = chunk
    label = f"{label}, {scheduler.sweeper.render_chunk}"
    scheduler.start()
    # As `liaison run` does (bot.runtime.serve): what start-up made, and the domains' code
    # when the first request imports it, are frozen out of the garbage collector's scans.
    gc.freeze()
    app.registry.after_load(gc.freeze)
    try:
        collect(*timed(port, 200))  # warm up
        time.sleep(0.5)  # the scheduler's first sweep and jobs, on an empty outbox
        print(f"{label}: load average before {load_average()}", flush=True)
        idle_samples = collect(*timed(port, idle))
        assert all(s[2] == 200 for s in idle_samples), "idle requests failed"

        context = multiprocessing.get_context("spawn")
        stop = context.Event()
        process, out, _ = timed(port, 10**9, stop)
        time.sleep(0.5)  # the client is sending
        now = datetime.now(UTC)
        plant(app, due, now)
        collections = FullCollections()
        gc.callbacks.append(collections)
        began = time.time()
        scheduler.wake(datetime.now(UTC))
        if not counting.done.wait(timeout=300):
            stop.set()
            raise RuntimeError(f"only {counting.sent} of {due} delivered in 300 s")
        ended = counting.last_at
        gc.callbacks.remove(collections)
        stop.set()
        samples = collect(process, out)
        load = load_average()
        during = [s for s in samples if began <= s[0] <= ended]
        assert all(s[2] == 200 for s in during), "requests during the sweep failed"
        return {
            "label": label, "idle": figures([s[1] for s in idle_samples]),
            "during": figures([s[1] for s in during]), "n_idle": len(idle_samples),
            "n_during": len(during), "sweep": ended - began, "load": load,
            "dialect": app.db.dialect, "full_gc": collections.within(began, ended),
        }
    finally:
        scheduler.stop()
        adapter.stop()
        runner.join(timeout=10)
        app.db.dispose()


def report(rows: list[dict[str, object]], due: int) -> None:
    print(f"\nSlack `/liaison help` acks, one client thread, idle and during a sweep of "
          f"{due:,} due reminders (goal: p99 during <= {GOAL}x idle)")
    print(f"{'database, chunk':<16} {'phase':<7} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
          f" {'p99 x':>6} {'sweep s':>8} {'per rem ms':>10}  load average after")
    for row in rows:
        idle, during = row["idle"], row["during"]
        ratio = during[1] / idle[1]
        print(f"{row['label']:<16} {'idle':<7} {row['n_idle']:>6} {idle[0]:>8.2f} "
              f"{idle[1]:>8.2f} {idle[2]:>8.2f}")
        print(f"{'':<16} {'during':<7} {row['n_during']:>6} {during[0]:>8.2f} "
              f"{during[1]:>8.2f} {during[2]:>8.2f} {ratio:>6.2f} {row['sweep']:>8.2f} "
              f"{row['sweep'] / due * 1000:>10.3f}  {row['load']}"
              f"{'' if ratio <= GOAL else '  (goal not met)'}")
        count, longest = row["full_gc"]
        print(f"{'':<16} full garbage collections during the sweep: {count}"
              + (f", the longest {longest * 1000:.1f} ms (every thread waits)" if count else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--due", type=int, default=3000)
    parser.add_argument("--idle", type=int, default=1500, help="idle requests timed")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--render-chunks", default="",
                        help="comma-separated reminders rendered per read, each run in turn "
                             "(default: the sweeper's own per database)")
    args = parser.parse_args()
    logging.getLogger("slack_bolt").setLevel(logging.ERROR)
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    fake = context.Process(target=fake_slack, args=(theirs,), daemon=True)
    fake.start()
    api_url = ours.recv()
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            chunks = [int(c) for c in args.render_chunks.split(",") if c] or [None]
            for n, chunk in enumerate(chunks):
                rows.append(run(f"sqlite:///{Path(tmp) / f'ack{n}.db'}", "SQLite", api_url,
                                args.due, args.idle, chunk))
            if not args.sqlite_only:
                for chunk in chunks:
                    with temporary_postgres() as pg:
                        if pg:
                            rows.append(run(pg, "PostgreSQL", api_url, args.due, args.idle,
                                            chunk))
    finally:
        ours.send("stop")
        posted = ours.recv()
        fake.join(timeout=10)
    report(rows, args.due)
    print(f"(the fake Slack took {posted:,} chat.postMessage calls)")


if __name__ == "__main__":
    main()
