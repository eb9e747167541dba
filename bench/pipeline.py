"""Messages per second and latency of handling chat messages in-process: router, conversation
engine, storage and rendering, stepping 1,000 conversations through a five-question flow
(plus its start, a list step and the confirmation), on a SQLite file and on PostgreSQL (a
temporary database, when reachable). Beside it, the anchor: one raw SELECT + INSERT
transaction on the same database through the driver. Goals (issue 22): >= 2,000 msg/s with
p99 < 2 ms on SQLite, >= 800 msg/s on PostgreSQL.

    .venv/bin/python bench/pipeline.py [--conversations 1000] [--databases sqlite,pg]
                                       [--event-ids]

With --event-ids every message carries a platform event id, as Slack's and DingTalk's do, so
each step also notes it for de-duplication (one row per message, bot.core `_seen`).

On PostgreSQL it also counts round trips per message, after the timed run (untimed): 50 more
conversations on a fresh pool whose connections libpq traces (PQtrace, through psycopg's
`PGconn.trace`). A round trip is a message after which the client waits for the server's
ReadyForQuery: a simple-protocol Query (BEGIN, COMMIT, the pool's ping) or an extended-protocol
Sync (each statement run with parameters, or the first Parse of a prepared one).
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import _common  # noqa: F401  (puts the project on sys.path)
from _common import summary_ms, temporary_postgres

from bot.db import upgrade
from tests.support import Chat, build_app

SCRIPT = ["/visit new", "ACME 公司", "2", "4", "我", "明天下午3点", "完成", "确认"]


def raw_anchor(app, count: int = 2000) -> list[float]:  # noqa: ANN001
    """One SELECT + INSERT transaction through the driver (no ORM), the floor of a step."""
    samples = []
    with app.db.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        cur = raw.cursor()
        cur.execute("CREATE TABLE IF NOT EXISTS bench_anchor (id INTEGER PRIMARY KEY, "
                    "k TEXT, v TEXT)")
        if app.db.dialect == "postgresql":
            raw.commit()
        mark = "?" if app.db.dialect == "sqlite" else "%s"
        for i in range(count):
            t0 = time.perf_counter()
            if app.db.dialect == "sqlite":
                cur.execute("BEGIN IMMEDIATE")
            cur.execute(f"SELECT id FROM member WHERE platform = {mark} AND user_id = {mark}",
                        ("console", f"user{i % 1000}"))
            cur.fetchall()
            cur.execute(f"INSERT INTO bench_anchor (id, k, v) VALUES ({mark}, {mark}, {mark})",
                        (i, "k", "v"))
            if app.db.dialect == "sqlite":
                cur.execute("COMMIT")
            else:
                raw.commit()
            samples.append(time.perf_counter() - t0)
        cur.close()
    return samples


def server_cpu(app) -> dict[int, int]:  # noqa: ANN001
    """CPU clock ticks used so far by each PostgreSQL backend serving this database, by pid:
    the server's share of a message (the local server only: read from /proc; {} elsewhere)."""
    if app.db.dialect != "postgresql":
        return {}
    with app.db.engine.connect() as conn:
        pids = conn.exec_driver_sql("SELECT pid FROM pg_stat_activity "
                                    "WHERE datname = current_database()").scalars().all()
    ticks = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return {}  # not this machine's server, or not ours to read
        ticks[pid] = int(fields[11]) + int(fields[12])  # utime + stime
    return ticks


def round_trips(app, tmp: Path, event_ids: bool, conversations: int = 50) -> None:  # noqa: ANN001
    """Round trips per message on PostgreSQL (see the module's docstring), by kind."""
    from sqlalchemy import event

    tmp.mkdir(parents=True, exist_ok=True)
    trace = (tmp / "libpq.trace").open("w")

    def traced(dbapi_connection, _record) -> None:  # noqa: ANN001
        from psycopg.pq import Trace

        dbapi_connection.pgconn.trace(trace.fileno())
        dbapi_connection.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS)

    app.db.engine.dispose()  # every connection from here on is a new, traced one
    event.listen(app.db.engine.pool, "connect", traced)
    chats = [Chat(app, f"trips{i}") for i in range(conversations)]
    chats[0]("/whoami")  # the first connection's set-up, not counted
    trace.flush()
    start = os.path.getsize(trace.name)
    messages = 0
    for step, text in enumerate(SCRIPT):
        for n, chat in enumerate(chats):
            fields = {"event_id": f"Trips{step}-{n}"} if event_ids else {}
            assert chat.say(text, **fields), text
            messages += 1
    trace.flush()
    event.remove(app.db.engine.pool, "connect", traced)
    app.db.engine.dispose()
    kinds: Counter[str] = Counter()
    with open(trace.name, encoding="utf-8", errors="replace") as lines:
        lines.seek(start)
        pending = "statement"
        for line in lines:
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 3 or fields[0] != "F":
                continue
            if fields[2] == "Query":  # simple protocol: BEGIN, COMMIT, ROLLBACK, the ping
                sql = fields[3].strip().strip('"').strip()
                kinds[sql.split(" ")[0].upper() if sql != ";" else "ping (;)"] += 1
            elif fields[2] == "Parse":  # psycopg names the statements it prepares (_pg3_<n>)
                pending = "prepare" if not fields[3].strip().startswith('""') else "statement"
            elif fields[2] == "Sync":
                kinds[pending] += 1
                pending = "statement"
    trace.close()
    total = sum(kinds.values())
    detail = ", ".join(f"{kind} {count / messages:.2f}" for kind, count in kinds.most_common())
    print(f"  round trips: {total / messages:.2f} per message ({detail}; {messages} messages)")


def run(url: str, label: str, tmp: Path, conversations: int, event_ids: bool = False) -> None:
    upgrade(url)  # build_app expects a migrated database (the test fixtures hand those out)
    app, saved = build_app(url, tmp)
    chats = [Chat(app, f"user{i}") for i in range(conversations)]
    for chat in chats[:20]:  # warm-up: template compilation, the date parser's tables
        chat("/whoami")
    # As bot.runtime.serve does once the bot is ready: what start-up made stays, and later
    # collections need not scan it (without this, collections were a sixth of the CPU here).
    gc.freeze()
    latencies: dict[str, list[float]] = {"all": [], "start": [], "answer": [], "confirm": []}
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    server = server_cpu(app)
    started, cpu = time.perf_counter(), time.process_time()
    # Interleave the conversations step by step, as many people would.
    for step, text in enumerate(SCRIPT):
        kind = "start" if step == 0 else "confirm" if step == len(SCRIPT) - 1 else "answer"
        for n, chat in enumerate(chats):
            fields = {"event_id": f"Ev{step}-{n}"} if event_ids else {}
            t0 = time.perf_counter()
            out = chat.say(text, **fields)
            elapsed = time.perf_counter() - t0
            assert out, (step, text)
            latencies["all"].append(elapsed)
            latencies[kind].append(elapsed)
    total, cpu = time.perf_counter() - started, time.process_time() - cpu
    server_after = server_cpu(app)
    assert len(saved) == conversations, len(saved)
    anchor = raw_anchor(app)
    messages = len(latencies["all"])
    goal = "2,000 msg/s, p99 < 2 ms" if app.db.dialect == "sqlite" else "800 msg/s"
    print(f"pipeline ({label}, {conversations} conversations, {len(SCRIPT)} messages each"
          f"{', with event ids' if event_ids else ''}; load average {load})")
    print(f"  messages: {messages} in {total:.2f} s = {messages / total:,.0f} messages/s "
          f"(goal >= {goal})")
    # CPU per message: what the rate comes to on an idle core (one thread; on PostgreSQL the
    # server's own work is not counted), and far steadier than it on a shared machine.
    print(f"  CPU: {cpu / messages * 1000:.3f} ms per message = {messages / cpu:,.0f} messages "
          f"per CPU second")
    if server and server_after:  # backends that ended meanwhile would be missed: none do here
        ticks = sum(t - server.get(pid, 0) for pid, t in server_after.items())
        print(f"  server CPU: {ticks / os.sysconf('SC_CLK_TCK') / messages * 1000:.3f} ms per "
              f"message (its backends, from /proc)")
    for kind, samples in latencies.items():
        print(f"  {kind:8s} {summary_ms(samples)}")
    print(f"  anchor: raw SELECT + INSERT transaction {summary_ms(anchor)}")
    if app.db.dialect == "postgresql":
        round_trips(app, tmp, event_ids)
    app.db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--databases", default="sqlite,pg")
    parser.add_argument("--event-ids", action="store_true",
                        help="give every message a platform event id (de-duplicated)")
    args = parser.parse_args()
    wanted = args.databases.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in wanted:
            run(f"sqlite:///{Path(tmp) / 'bench.db'}", "SQLite file", Path(tmp) / "s",
                args.conversations, args.event_ids)
        if "pg" in wanted:
            with temporary_postgres() as url:
                if url:
                    run(url, "PostgreSQL", Path(tmp) / "p", args.conversations,
                        args.event_ids)


if __name__ == "__main__":
    main()
