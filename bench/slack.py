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

With --gap, after the tables: where the CPU per request that HTTP adds goes, one client
thread, in the same process (median of three interleaved rounds): each app also called in this
thread without a socket or waitress (signed requests built beforehand), bare Bolt answering
Liaison's own ack body over HTTP (the answer's bytes), and Liaison with the hand-off to the
adapter's pool made synchronous (what the hand-off costs; never how Liaison runs).

With --pin (Linux, two cores or more), the servers' threads run on the first core and the
client on the second: no server thread crosses cores, and a core's noise is the only noise.

    .venv/bin/python bench/slack.py [--requests 2000] [--threads 4,1]
        [--commands "help,complaint list"] [--default] [--by-thread] [--gap] [--pin]

LIAISON_BENCH_DATABASE_URL: an empty PostgreSQL database to run Liaison on instead of SQLite.
"""

from __future__ import annotations

import http.client
import io
import multiprocessing
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import logging  # noqa: E402

from slack_bolt import App  # noqa: E402
from slack_bolt.adapter.wsgi import SlackRequestHandler  # noqa: E402
from slack_bolt.authorization import AuthorizeResult  # noqa: E402
from slack_bolt.response import BoltResponse  # noqa: E402
from slack_sdk import WebClient  # noqa: E402
from slack_sdk.signature import SignatureVerifier  # noqa: E402
from waitress import create_server  # noqa: E402

from bot.adapters.slack import SlackAdapter  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.runtime import build  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402

SECRET = "bench-secret"
TIME_LIMIT = 120.0  # seconds per server, whatever the request count


def bare_bolt(api_url: str, process_before_response: bool, answer: str | None = None) -> App:
    """A Bolt app whose command listener only acks, or (`answer`) acks with this body."""
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
        if answer is not None:
            return BoltResponse(status=200, body=answer)
        ack()
        return None

    return app


class Inline:
    """SerialByKey's interface, running each task at once in the caller's thread: the
    adapter's hand-off made synchronous, to measure it (never how Liaison runs)."""

    def submit(self, _key, fn, *args) -> Future:  # noqa: ANN001
        future: Future = Future()
        future.set_result(fn(*args))
        return future


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


def load(port: int, total: int, threads: int, text: str = "help",
         cpu: int | None = None) -> tuple[float, list[float], int, float]:
    """(wall seconds, each request's seconds to its answer, errors, this client process's CPU
    seconds). `cpu`: the core its threads run on (--pin)."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})  # this thread, and the client threads it starts
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


CLIENT_CPU: int | None = None  # --pin: the client's core


def figures(name: str, port: int, total: int, threads: int,
            text: str = "help", split: bool = False, show: bool = True) -> dict[str, float]:
    # The client runs in its own process, so it does not share the server's interpreter lock.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as client:
        client.submit(load, port, min(200, total), threads, text, CLIENT_CPU).result()  # warm up
        cpu = time.process_time()  # this process's threads: the servers (the client is apart)
        before = by_thread() if split else {}
        wall, latencies, errors, client_cpu = client.submit(
            load, port, total, threads, text, CLIENT_CPU).result()
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
    if not show:
        return row
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


def in_process(wsgi_app, total: int, text: str, run: str) -> tuple[float, bytes]:  # noqa: ANN001
    """CPU ms per request of this process (every thread: the adapter's pool too) calling the
    WSGI app from this thread, with signed requests built beforehand (no socket, waitress or
    client); and the last answer's body."""
    verifier = SignatureVerifier(SECRET)
    environs = []
    for n in range(total):
        body = request_body(n, text, run).encode()
        ts = str(int(time.time()))
        environs.append({
            "REQUEST_METHOD": "POST", "PATH_INFO": "/slack/events", "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "CONTENT_LENGTH": str(len(body)), "HTTP_X_SLACK_REQUEST_TIMESTAMP": ts,
            "HTTP_X_SLACK_SIGNATURE": verifier.generate_signature(timestamp=ts,
                                                                  body=body.decode()),
        })
    answer = b""
    status: list[str] = []

    def start_response(line: str, _headers: list, _exc_info: object = None) -> None:
        status.append(line)

    cpu = time.process_time()
    for environ in environs:
        answer = b"".join(wsgi_app(environ, start_response))
        if not status[-1].startswith("200"):
            raise SystemExit(f"in-process request refused: {status[-1]}")
    return (time.process_time() - cpu) / total * 1000, answer


def gap(adapter: SlackAdapter, liaison_port: int, api_url: str, total: int, text: str,
        rounds: int = 3) -> None:
    """What HTTP adds to the CPU per request, one client thread (see the module's doc)."""
    served = adapter.wsgi()  # the same guard, Bolt app, adapter and core that the server runs
    _, answer = in_process(served, 1, text, "gap-probe")
    bare = SlackRequestHandler(bare_bolt(api_url, True))
    sized = SlackRequestHandler(bare_bolt(api_url, True, answer=answer.decode()))
    bare_port, bare_server = serve(bare)
    sized_port, sized_server = serve(sized)
    pool = adapter._serial
    found: dict[str, list[float]] = {}
    for r in range(rounds):
        tag = f"gap{r}-{time.monotonic_ns()}-"
        found.setdefault("bare in", []).append(in_process(bare, total, text, tag)[0])
        found.setdefault("bare http", []).append(figures("", bare_port, total, 1, text,
                                                         show=False)["cpu"])
        found.setdefault("sized http", []).append(figures("", sized_port, total, 1, text,
                                                          show=False)["cpu"])
        adapter._serial = Inline()  # type: ignore[assignment]
        try:
            found.setdefault("inline in", []).append(in_process(served, total, text,
                                                                tag + "i")[0])
        finally:
            adapter._serial = pool
        found.setdefault("liaison in", []).append(in_process(served, total, text, tag + "s")[0])
        found.setdefault("liaison http", []).append(figures("", liaison_port, total, 1, text,
                                                            show=False)["cpu"])
    for server in (bare_server, sized_server):
        stop(server)
    m = {k: statistics.median(v) for k, v in found.items()}
    print(f"where HTTP's CPU per request goes, `/liaison {text}`, 1 client thread, median of "
          f"{rounds} rounds (ms; load average {load_average()})")
    lines = [
        ("bare Bolt, in-process", "bare in", None),
        ("bare Bolt, over HTTP", "bare http", ("waitress and the socket", "bare in")),
        (f"bare Bolt acking with Liaison's answer ({len(answer):,} bytes), over HTTP",
         "sized http", ("the answer's bytes", "bare http")),
        ("Liaison, in-process, hand-off made synchronous", "inline in", None),
        ("Liaison, in-process, as served (hand-off to the pool)", "liaison in",
         ("the hand-off", "inline in")),
        ("Liaison, over HTTP", "liaison http", ("HTTP", "liaison in")),
    ]
    for shown, key, delta in lines:
        extra = f"   {delta[0]}: {m[key] - m[delta[1]]:+.3f}" if delta else ""
        print(f"  {shown:<68} {m[key]:6.3f}{extra}")
    rest = (m["liaison http"] - m["liaison in"]) - (m["sized http"] - m["bare in"])
    print(f"  Liaison's HTTP beyond bare Bolt's with the same answer (threads: the hand-off "
          f"over HTTP, contention): {rest:+.3f}\n")


def pin_servers() -> int:
    """--pin: this process's threads (and those they start) on the first core; returns the
    core for the client."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        raise SystemExit("--pin needs two cores")
    for tid in os.listdir("/proc/self/task"):
        os.sched_setaffinity(int(tid), {cores[0]})
    return cores[1]


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
    parser.add_argument("--gap", action="store_true",
                        help="where the CPU per request that HTTP adds goes (1 client thread)")
    parser.add_argument("--pin", action="store_true",
                        help="the servers on the first core, the client on the second")
    args = parser.parse_args()
    global CLIENT_CPU
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
        cores = len(os.sched_getaffinity(0))
        if args.pin:
            CLIENT_CPU = pin_servers()

        print(f"{total} signed requests per server and case, keep-alive, waitress with 8 "
              f"threads, {app.db.dialect}, {cores} cores"
              f"{' (servers on one, the client on another)' if args.pin else ''}; "
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
        print(f"load average after: {load_average()}\n")
        if args.gap:
            for text in commands:
                gap(adapter, liaison_port, fake.api_url, total, text)
        adapter.stop()
        runner.join(timeout=10)
        for server in (fast, slow):
            stop(server)
        app.db.dispose()
    fake.stop()


if __name__ == "__main__":
    main()
