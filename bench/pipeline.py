"""Messages per second and latency of handling chat messages in-process: router, conversation
engine, storage (a SQLite file) and rendering, stepping 1,000 conversations through a
five-question flow (plus its start, a list step and the confirmation).

    .venv/bin/python bench/pipeline.py [--conversations 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401  (puts the project on sys.path)
from _common import summary_ms

from tests.support import Chat, build_app

SCRIPT = ["/visit new", "ACME 公司", "2", "4", "我", "明天下午3点", "完成", "确认"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        app, saved = build_app(url, Path(tmp))
        chats = [Chat(app, f"user{i}") for i in range(args.conversations)]
        for chat in chats[:20]:  # warm-up: template compilation, the date parser's tables
            chat("/whoami")
        latencies: dict[str, list[float]] = {"all": [], "start": [], "answer": [],
                                             "confirm": []}
        started = time.perf_counter()
        # Interleave the conversations step by step, as many people would.
        for step, text in enumerate(SCRIPT):
            kind = "start" if step == 0 else "confirm" if step == len(SCRIPT) - 1 else "answer"
            for chat in chats:
                t0 = time.perf_counter()
                out = chat.say(text)
                elapsed = time.perf_counter() - t0
                assert out, (step, text)
                latencies["all"].append(elapsed)
                latencies[kind].append(elapsed)
        total = time.perf_counter() - started
        assert len(saved) == args.conversations, len(saved)
        messages = len(latencies["all"])
        print(f"pipeline (SQLite file, {args.conversations} conversations, "
              f"{len(SCRIPT)} messages each)")
        print(f"  messages: {messages} in {total:.2f} s = {messages / total:,.0f} messages/s")
        for kind, samples in latencies.items():
            print(f"  {kind:8s} {summary_ms(samples)}")
        app.db.dispose()


if __name__ == "__main__":
    main()
