"""Slash commands over HTTP: Liaison's Slack endpoint beside a bare slack-bolt app.

Signed `/liaison help` and `/liaison complaint list` requests go over HTTP (keep-alive, a
few client threads in a separate process) to each server on 127.0.0.1, all served by waitress
the same way: Liaison (a database transaction, the answer rendered and returned in the ack
body), a bare Bolt app whose handler only acks with `process_before_response=True` (how
Liaison runs Bolt), and (with --default) the same bare app in Bolt's default mode. Liaison and
the bare app take turns, per command and client-thread count, in the same run. Prints
requests per second and p50 / p99 time to the ack, and the ratios against the goals of
issue 22 (p50 <= 1.5x, throughput >= 0.5x, p99 <= 2x).

Also the server's CPU per request, and `busy`: the cores it kept busy (requests per second
times CPU per request). Each server is one Python process, whose Python code runs on one core
at a time (the interpreter lock): at `busy` near 1.0 it is the ceiling, and more client
threads cannot add throughput, only CPU per request (`ceil`: 1000 / CPU ms, the requests per
second of one core spent on nothing else). `client`: the client process's CPU per request
(its threads share one interpreter lock as well; a bare app that costs less than the client
is measured against the client).

With --by-thread, each server's CPU per request is also split by the threads that spent it
(Linux): `waitress` (the server's worker threads: the guard, the endpoint, the wait for the
answer), `slack-work` (the adapter's pool: the command's work), `http loop` (waitress's
socket loop), with the voluntary context switches per request of each in brackets.

    .venv/bin/python bench/slack.py [--requests 2000] [--threads 4,1]
        [--commands "help,complaint list"] [--default] [--by-thread]

LIAISON_BENCH_DATABASE_URL: an empty PostgreSQL database to run Liaison on instead of SQLite.
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import logging  # noqa: E402

from slack_bolt import App  # noqa: E402
from slack_bolt.adapter.wsgi import SlackRequestHandler  # noqa: E402
from slack_bolt.authorization import AuthorizeResult  # noqa: E402
from slack_sdk import WebClient  # noqa: E402
from slack_sdk.signature import SignatureVerifier  # noqa: E402
from waitress import create_server  # noqa: E402

from bot.adapters.slack import SlackAdapter  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.runtime import build  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402

SECRET = "bench-secret"
TIME_LIMIT = 120.0  # seconds per server, whatever the request count


def bare_bolt(api_url: str, process_before_response: bool) -> App:
    quiet = logging.getLogger("bench.bolt")
    quiet.setLevel(logging.ERROR)
    app = App(
        logger=quiet,
        client=WebClient(token="xoxb-bench", base_url=api_url),
        signing_secret=SECRET,
        authorize=lambda enterprise_id, team_id: AuthorizeResult(
            enterprise_id=enterprise_id, team_id=team_id, bot_token="xoxb-bench",
            bot_user_id="UBOT", bot_id="BBOT"),
        process_before_response=process_before_response,
    )

    @app.command(re.compile(r"^/.+"))
    def only_ack(ack):  # noqa: ANN001, ANN202
        ack()

    return app


def serve(wsgi_app) -> tuple[int, object]:  # noqa: ANN001
    server = create_server(wsgi_app, host="127.0.0.1", port=0, threads=8)
    threading.Thread(target=server.run, name="http loop", daemon=True).start()
    return int(server.effective_port), server


def stop(server) -> None:  # noqa: ANN001
    def close_all() -> None:
        for channel in list(server._map.values()):
            channel.close()

    server.trigger.pull_trigger(close_all)
    server.task_dispatcher.shutdown(timeout=5)


def request_body(n: int, text: str = "help", run: str = "") -> str:
    return urlencode({
        "team_id": "T0001", "channel_id": "CBENCH", "channel_name": "bench",
        "user_id": f"UBENCH{n % 20}", "command": "/liaison", "text": text,
        "response_url": "", "trigger_id": f"t{run}{n}", "api_app_id": "A1",
    })


def load(port: int, total: int, threads: int,
         text: str = "help") -> tuple[float, list[float], int, float]:
    """(wall seconds, each request's seconds to its answer, errors, this client process's CPU
    seconds)."""
    verifier = SignatureVerifier(SECRET)
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(total))
    # Each request unique: the same body signed in the same second is a replay, refused.
    run = f"{os.getpid()}-{time.monotonic_ns()}-"
    deadline = time.monotonic() + TIME_LIMIT

    def client() -> None:
        nonlocal errors
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine: list[float] = []
        bad = 0
        while time.monotonic() < deadline:
            with lock:
                n = next(counter, None)
            if n is None:
                break
            body = request_body(n, text, run)
            ts = str(int(time.time()))
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": verifier.generate_signature(timestamp=ts, body=body),
            }
            start = time.perf_counter()
            conn.request("POST", "/slack/events", body=body, headers=headers)
            response = response_read = conn.getresponse()
            response_read.read()
            mine.append(time.perf_counter() - start)
            if response.status != 200:
                bad += 1
        conn.close()
        with lock:
            latencies.extend(mine)
            errors += bad

    workers = [threading.Thread(target=client) for _ in range(threads)]
    began, cpu = time.perf_counter(), time.process_time()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - began, latencies, errors, time.process_time() - cpu


def by_thread() -> dict[int, tuple[str, float, int]]:
    """This process's threads: id -> (name without its number, CPU seconds, voluntary
    context switches), from /proc (empty where there is none)."""
    names = {t.native_id: re.sub(r"[-_ ]?\d+$", "", t.name) for t in threading.enumerate()}
    found = {}
    tick = os.sysconf("SC_CLK_TCK")
    for tid in (os.listdir("/proc/self/task") if os.path.isdir("/proc/self/task") else []):
        try:
            with open(f"/proc/self/task/{tid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            with open(f"/proc/self/task/{tid}/status") as status:
                switches = re.search(r"^voluntary_ctxt_switches:\s+(\d+)", status.read(), re.M)
        except OSError:
            continue  # ended meanwhile
        found[int(tid)] = (names.get(int(tid), "other"), (int(fields[11]) + int(fields[12])) / tick,
                           int(switches.group(1)) if switches else 0)
    return found


def thread_split(before: dict, after: dict, requests: int) -> str:
    spent: dict[str, list[float]] = {}
    for tid, (name, cpu, switches) in after.items():
        _, cpu0, switches0 = before.get(tid, (name, 0.0, 0))
        total = spent.setdefault(name, [0.0, 0.0])
        total[0] += cpu - cpu0
        total[1] += switches - switches0
    return ", ".join(f"{name} {cpu / requests * 1000:.2f} ({switches / requests:.1f})"
                     for name, (cpu, switches) in sorted(spent.items(), key=lambda x: -x[1][0])
                     if cpu > 0)


def figures(name: str, port: int, total: int, threads: int,
            text: str = "help", split: bool = False) -> dict[str, float]:
    # The client runs in its own process, so it does not share the server's interpreter lock.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as client:
        client.submit(load, port, min(200, total), threads, text).result()  # warm up
        cpu = time.process_time()  # this process's threads: the servers (the client is apart)
        before = by_thread() if split else {}
        wall, latencies, errors, client_cpu = client.submit(
            load, port, total, threads, text).result()
        cpu = time.process_time() - cpu
        after = by_thread() if split else {}
    latencies.sort()
    row = {
        "rps": len(latencies) / wall,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "n": len(latencies),
        "errors": errors,
        # Server CPU per request: what the figures above come to on an idle core, and far
        # less noisy than them on a shared machine.
        "cpu": cpu / max(1, len(latencies)) * 1000,
    }
    row["busy"] = row["rps"] * row["cpu"] / 1000
    # The client's own CPU per request: its threads share one interpreter lock too, so at
    # `client` near 1000 / req/s it, not the server, is the ceiling.
    row["client"] = client_cpu / max(1, len(latencies)) * 1000
    print(f"{name:<44} {row['rps']:>9.0f} {row['p50']:>9.2f} {row['p99']:>9.2f} "
          f"{row['n']:>7} {errors:>6} {row['cpu']:>7.2f} {row['busy']:>5.2f} "
          f"{row['client']:>7.2f}", flush=True)
    if split:
        print(f"  by thread, CPU ms per request (voluntary switches): "
              f"{thread_split(before, after, max(1, len(latencies)))}", flush=True)
    return row


def seed_complaints(app, rows: int = 300) -> None:  # noqa: ANN001
    """Complaints for `/complaint list` to show (the bench users are agents)."""
    from _common import seed_complaints as seed

    seed(app.db, rows, platform="slack", reporter="UBENCH1", owner_of=lambda n: f"UBENCH{n % 20}")


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--threads", default="4,1")
    parser.add_argument("--commands", default="help,complaint list")
    parser.add_argument("--default", action="store_true",
                        help="also the bare app in Bolt's default mode (10 ms ack polling)")
    parser.add_argument("--by-thread", action="store_true",
                        help="each server's CPU per request by the threads that spent it")
    args = parser.parse_args()
    # Bolt warns, once per app, that the client's token is unused when `authorize` is given.
    logging.getLogger("slack_bolt").setLevel(logging.ERROR)
    total = args.requests
    thread_counts = [int(t) for t in args.threads.split(",")]
    commands = [c.strip() for c in args.commands.split(",") if c.strip()]
    fake = FakeSlack().start()
    for n in range(20):
        fake.add_user(f"UBENCH{n}", f"Bench {n}", tz="Asia/Shanghai", locale="en-US")
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("LIAISON_BENCH_DATABASE_URL") or f"sqlite:///{tmp}/bench.db"
        admins = ",".join(f"slack:UBENCH{n}" for n in range(20))
        settings = Settings(_env_file=None, database_url=url, admins=admins,
                            slack_bot_token="xoxb-bench", slack_signing_secret=SECRET,
                            slack_api_url=fake.api_url)
        app = build(settings)
        seed_complaints(app)
        adapter = SlackAdapter(app, settings, host="127.0.0.1")
        adapter.port = 0
        liaison_port = adapter.listen()
        runner = threading.Thread(target=adapter.run, name="http loop", daemon=True)
        runner.start()
        fast_port, fast = serve(SlackRequestHandler(bare_bolt(fake.api_url, True)))
        slow_port, slow = serve(SlackRequestHandler(bare_bolt(fake.api_url, False)))

        print(f"{total} signed requests per server and case, keep-alive, waitress with 8 "
              f"threads, {app.db.dialect}, {len(os.sched_getaffinity(0))} cores; "
              f"load average before: {load_average()}\n")
        results = []
        for text in commands:
            for threads in thread_counts:
                print(f"`/liaison {text}`, {threads} client thread(s)")
                print(f"{'server':<44} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'n':>7} "
                      f"{'errors':>6} {'cpu ms':>7} {'busy':>5} {'client':>7}")
                split = args.by_thread
                liaison = figures("Liaison (answer rendered into the ack)", liaison_port,
                                  total, threads, text, split)
                bare = figures("bare Bolt, ack only, process_before_response", fast_port,
                               total, threads, text, split)
                if args.default:
                    figures("bare Bolt, ack only, Bolt default mode", slow_port, total,
                            threads, text, split)
                ratio = (liaison["rps"] / bare["rps"], liaison["p50"] / bare["p50"],
                         liaison["p99"] / bare["p99"], liaison["cpu"] / bare["cpu"])
                results.append((text, threads, liaison, ratio))
                print(f"Liaison / bare Bolt: throughput x{ratio[0]:.2f} (goal >= 0.5), "
                      f"p50 x{ratio[1]:.2f} (goal <= 1.5), p99 x{ratio[2]:.2f} (goal <= 2); "
                      f"server CPU per request x{ratio[3]:.2f}\n", flush=True)
        print("summary (Liaison / bare Bolt, same mode)")
        print(f"{'command':<16} {'threads':>7} {'req/s':>8} {'thr x':>7} {'p50 x':>7} "
              f"{'p99 x':>7} {'cpu ms':>7} {'cpu x':>7} {'busy':>5} {'ceil':>6}")
        for text, threads, liaison, ratio in results:
            print(f"{text:<16} {threads:>7} {liaison['rps']:>8.0f} {ratio[0]:>7.2f} "
                  f"{ratio[1]:>7.2f} {ratio[2]:>7.2f} {liaison['cpu']:>7.2f} {ratio[3]:>7.2f} "
                  f"{liaison['busy']:>5.2f} {1000 / max(liaison['cpu'], 1e-9):>6.0f}")
        print(f"load average after: {load_average()}")
        adapter.stop()
        runner.join(timeout=10)
        for server in (fast, slow):
            stop(server)
        app.db.dispose()
    fake.stop()


if __name__ == "__main__":
    main()
