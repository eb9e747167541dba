"""Where a Slack slash command's time goes: cProfile over signed requests to Liaison's WSGI app.

The same app as bench/slack.py (guard, Flask, Bolt, the adapter, the core, SQLite or
LIAISON_BENCH_DATABASE_URL), called in-process without waitress or a socket, so the profile
holds only the request path. The adapter's hand-off to its worker pool is made synchronous,
because cProfile sees one thread: what the worker does is profiled where the ack waits for
it. Prints CPU per request without the profiler, then the top functions by cumulative time.

    .venv/bin/python bench/slack_profile.py [--command "complaint list"] [--requests 2000]
        [--top 15] [--sort cumulative|tottime]
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
from concurrent.futures import Future
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from slack import SECRET, request_body, seed_complaints  # noqa: E402
from slack_sdk.signature import SignatureVerifier  # noqa: E402

from bot.adapters.slack import SlackAdapter  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.runtime import build  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402


class _Inline:
    """SerialByKey's interface, running each task at once in the caller's thread."""

    def submit(self, _key: Any, fn: Any, *args: Any) -> Future:  # noqa: ANN401
        future: Future = Future()
        future.set_result(fn(*args))
        return future


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--command", default="help")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--sort", default="cumulative")
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
        adapter._serial = _Inline()  # type: ignore[assignment]
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


if __name__ == "__main__":
    main()
