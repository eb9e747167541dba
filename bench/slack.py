"""Slash commands over HTTP: Liaison's Slack endpoint beside a bare slack-bolt app.

Signed `/liaison help` requests go over HTTP (keep-alive, a few client threads in a separate
process) to each server on 127.0.0.1, all served by waitress the same way: Liaison (a database
transaction, the help text rendered and returned in the ack body), a bare Bolt app whose
handler only acks with `process_before_response=True` (how Liaison runs Bolt), and the same
bare app in Bolt's default mode. Prints requests per second and p50 / p99 time to the ack,
and the ratios.

    .venv/bin/python bench/slack.py [requests per server, default 2000] [client threads, 4]
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
    threading.Thread(target=server.run, daemon=True).start()
    return int(server.effective_port), server


def stop(server) -> None:  # noqa: ANN001
    def close_all() -> None:
        for channel in list(server._map.values()):
            channel.close()

    server.trigger.pull_trigger(close_all)
    server.task_dispatcher.shutdown(timeout=5)


def request_body(n: int) -> str:
    return urlencode({
        "team_id": "T0001", "channel_id": "CBENCH", "channel_name": "bench",
        "user_id": f"UBENCH{n % 20}", "command": "/liaison", "text": "help",
        "response_url": "", "trigger_id": f"t{n}", "api_app_id": "A1",
    })


def load(port: int, total: int, threads: int) -> tuple[float, list[float], int]:
    verifier = SignatureVerifier(SECRET)
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(total))
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
            body = request_body(n)
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
    began = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - began, latencies, errors


def figures(name: str, port: int, total: int, threads: int) -> dict[str, float]:
    # The client runs in its own process, so it does not share the server's interpreter lock.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as client:
        client.submit(load, port, min(200, total), threads).result()  # warm up
        wall, latencies, errors = client.submit(load, port, total, threads).result()
    latencies.sort()
    row = {
        "rps": len(latencies) / wall,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "n": len(latencies),
        "errors": errors,
    }
    print(f"{name:<44} {row['rps']:>9.0f} {row['p50']:>9.2f} {row['p99']:>9.2f} "
          f"{row['n']:>7} {errors:>6}")
    return row


def main() -> None:
    # Bolt warns, once per app, that the client's token is unused when `authorize` is given.
    logging.getLogger("slack_bolt").setLevel(logging.ERROR)
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    fake = FakeSlack().start()
    for n in range(20):
        fake.add_user(f"UBENCH{n}", f"Bench {n}", tz="Asia/Shanghai", locale="en-US")
    with tempfile.TemporaryDirectory() as tmp:
        # LIAISON_BENCH_DATABASE_URL: an empty PostgreSQL database to run on instead of SQLite.
        url = os.environ.get("LIAISON_BENCH_DATABASE_URL") or f"sqlite:///{tmp}/bench.db"
        settings = Settings(_env_file=None, database_url=url,
                            slack_bot_token="xoxb-bench", slack_signing_secret=SECRET,
                            slack_api_url=fake.api_url)
        app = build(settings)
        adapter = SlackAdapter(app, settings, host="127.0.0.1")
        adapter.port = 0
        liaison_port = adapter.listen()
        runner = threading.Thread(target=adapter.run, daemon=True)
        runner.start()
        fast_port, fast = serve(SlackRequestHandler(bare_bolt(fake.api_url, True)))
        slow_port, slow = serve(SlackRequestHandler(bare_bolt(fake.api_url, False)))

        print(f"{total} signed `/liaison help` requests per server, {threads} client threads, "
              f"keep-alive, waitress with 8 threads, {app.db.dialect}\n")
        print(f"{'server':<44} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'n':>7} {'errors':>6}")
        liaison = figures("Liaison (help rendered into the ack)", liaison_port, total, threads)
        bare = figures("bare Bolt, ack only, process_before_response", fast_port, total,
                       threads)
        default = figures("bare Bolt, ack only, Bolt default mode", slow_port, total, threads)
        print()
        print(f"Liaison / bare Bolt (same mode):    throughput x{liaison['rps'] / bare['rps']:.2f},"
              f" p50 x{liaison['p50'] / bare['p50']:.1f}, p99 x{liaison['p99'] / bare['p99']:.1f}")
        print(f"Liaison / bare Bolt (default mode): throughput x"
              f"{liaison['rps'] / default['rps']:.2f}, p50 x{liaison['p50'] / default['p50']:.1f},"
              f" p99 x{liaison['p99'] / default['p99']:.1f}")
        adapter.stop()
        runner.join(timeout=10)
        for server in (fast, slow):
            stop(server)
        app.db.dispose()
    fake.stop()


if __name__ == "__main__":
    main()
