"""Where a Slack slash command's time goes: cProfile over signed requests to Liaison's WSGI app.

The same app as bench/slack.py (guard, Flask, Bolt, the adapter, the core, SQLite or
LIAISON_BENCH_DATABASE_URL), called in-process without waitress or a socket, so the profile
holds only the request path. The adapter's hand-off to its worker pool is made synchronous,
because cProfile sees one thread: what the worker does is profiled where the ack waits for
it. Prints CPU per request without the profiler, then the top functions by cumulative time.

With --split, instead of the profile: the CPU per request of each layer, timed without the
profiler (each layer's own, its callees below it taken out): the guard (signature, body,
replay record), Bolt, the adapter, and the core's transaction (member and roles, the command,
the answers rendered and queued, the rest: opening and committing it). What waitress and the
hand-off to the adapter's worker thread add is not here (bench/slack.py measures it over HTTP).

    .venv/bin/python bench/slack_profile.py [--command "complaint list"] [--requests 2000]
        [--top 15] [--sort cumulative|tottime] [--split]
"""

from __future__ import annotations

import cProfile
import io
import logging
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from slack import SECRET, Inline, request_body, seed_complaints  # noqa: E402
from slack_sdk.signature import SignatureVerifier  # noqa: E402

from bot.adapters.slack import SlackAdapter  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.runtime import build  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402


class _Split:
    """CPU time (this thread's) spent in wrapped callables, by label."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    def wrap(self, owner: Any, name: str, label: str) -> None:  # noqa: ANN401
        inner = getattr(owner, name)
        spent = self.spent
        spent[label] = 0.0

        def timed(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
            start = time.thread_time()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[label] += time.thread_time() - start

        setattr(owner, name, timed)

    def report(self, requests: int, total: float, layers: list[tuple[str, str, list[str]]]
               ) -> None:
        """Each layer's own CPU per request: `(label, shown as, labels of its callees)`."""
        for label, shown, callees in layers:
            own = (total if label == "" else self.spent[label]) - sum(
                self.spent[c] for c in callees)
            print(f"  {shown:<58} {own / requests * 1000:7.3f} ms")


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--command", default="help")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--split", action="store_true",
                        help="CPU per request of each layer instead of the profile")
    args = parser.parse_args()
    logging.getLogger("slack_bolt").setLevel(logging.ERROR)
    fake = FakeSlack().start()
    for n in range(20):
        fake.add_user(f"UBENCH{n}", f"Bench {n}", tz="Asia/Shanghai", locale="en-US")
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("LIAISON_BENCH_DATABASE_URL") or f"sqlite:///{tmp}/bench.db"
        settings = Settings(_env_file=None, database_url=url,
                            admins=",".join(f"slack:UBENCH{n}" for n in range(20)),
                            slack_bot_token="xoxb-bench", slack_signing_secret=SECRET,
                            slack_api_url=fake.api_url)
        app = build(settings)
        seed_complaints(app)
        adapter = SlackAdapter(app, settings, host="127.0.0.1")
        adapter._serial = Inline()  # type: ignore[assignment]
        wsgi = adapter.wsgi()
        verifier = SignatureVerifier(SECRET)

        def call(n: int) -> None:
            body = request_body(n, args.command, "profile").encode()
            ts = str(int(time.time()))
            environ = {
                "REQUEST_METHOD": "POST", "PATH_INFO": "/slack/events", "QUERY_STRING": "",
                "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
                "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
                "CONTENT_TYPE": "application/x-www-form-urlencoded",
                "CONTENT_LENGTH": str(len(body)), "HTTP_X_SLACK_REQUEST_TIMESTAMP": ts,
                "HTTP_X_SLACK_SIGNATURE": verifier.generate_signature(
                    timestamp=ts, body=body.decode()),
            }
            status: list[str] = []
            b"".join(wsgi(environ, lambda s, _h, _e=None: status.append(s)))
            if not status[0].startswith("200"):
                raise SystemExit(f"request refused: {status[0]}")

        for n in range(200):  # warm up: members, caches, compiled statements
            call(n)
        if args.split:
            split(wsgi, adapter, app, call, args.requests, args.command)
            app.db.dispose()
            fake.stop()
            return
        cpu = time.process_time()
        for n in range(args.requests):
            call(10_000 + n)
        cpu = (time.process_time() - cpu) / args.requests * 1000
        print(f"`/liaison {args.command}`: {cpu:.3f} ms CPU per request without the profiler "
              f"({app.db.dialect}, in-process, no HTTP server)\n")
        profile = cProfile.Profile()
        profile.enable()
        for n in range(args.requests):
            call(100_000 + n)
        profile.disable()
        stats = pstats.Stats(profile, stream=sys.stdout)
        stats.strip_dirs().sort_stats(args.sort).print_stats(args.top)
        app.db.dispose()
    fake.stop()


def split(wsgi: Any, adapter: SlackAdapter, app: Any, call: Any,  # noqa: ANN401
          requests: int, command: str) -> None:
    """Time each layer of `requests` calls (see the module's doc, --split)."""
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    timer = _Split()
    timer.wrap(wsgi, "_replayed", "replay")
    timer.wrap(SlackRequestHandler, "__call__", "bolt")
    timer.wrap(adapter, "_on_command", "listener")
    timer.wrap(adapter, "_command_work", "work")
    timer.wrap(app, "handle", "handle")
    timer.wrap(app, "_context", "context")
    timer.wrap(app, "_dispatch", "dispatch")
    timer.wrap(app, "_resolved", "resolved")
    start = time.thread_time()
    for n in range(requests):
        call(200_000 + n)
    total = time.thread_time() - start
    print(f"`/liaison {command}`: {total / requests * 1000:.3f} ms CPU per request in all "
          f"({app.db.dialect}, in-process, no HTTP server; with the bench's signing), "
          "of which:")
    timer.report(requests, total, [
        ("", "the bench's request, and the guard's signature and body checks",
         ["replay", "bolt"]),
        ("replay", "the guard's replay record (one INSERT, committed)", []),
        ("bolt", "Bolt (parsing, middleware, listener matching, the ack)", ["listener"]),
        ("listener", "the adapter: hand-off, and the ack's wait", ["work"]),
        ("work", "the adapter: the command's inbound, preparing its answers", ["handle"]),
        ("handle", "the core: the transaction (opening, committing), logs, metrics",
         ["context", "dispatch", "resolved"]),
        ("context", "the core: member (members.touch) and roles", []),
        ("dispatch", "the core: the conversation, the command's handler", []),
        ("resolved", "the core: answers rendered, the adapter's preparing, the outbox", []),
    ])


if __name__ == "__main__":
    main()
