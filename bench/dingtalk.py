"""DingTalk: the time to the ACK of a robot message, and how fast a burst is answered.

Liaison's DingTalk adapter (the unmodified dingtalk-stream SDK, Stream mode, against the
fake DingTalk of the tests on 127.0.0.1) beside bare SDK clients on the same fake, in the same
run: one whose handler only acknowledges (the anchor for the ACK), and one that answers each
message through its session webhook with `reply_text` (the anchor for the burst). Liaison
answers `/help`-style `/whoami` with a database transaction and the outbox; its ACK waits until
the message is written to the inbox (bot/adapters/dingtalk_inbox.py, a table of the database),
so that a crash after the ACK loses nothing; on SQLite that insert waits for the write lock,
which the conversation step of the message before may still hold. Everything runs in this one
process: the fake's threads, the bare clients and Liaison's workers share the GIL, so a worker
busy with one message delays the ACK of the next by more than it would delay DingTalk's. Goals
(issue 22):
ACK p50 <= 1.5x the bare ack-only handler; a burst of 200 answered at >= 0.8x the bare
replying handler's rate.

    .venv/bin/python bench/dingtalk.py [--acks 300] [--burst 200]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

import _common  # noqa: F401
from _common import percentile

from bot.db import upgrade
from tests.fakes.dingtalk_server import ROBOT_TOPIC, shared
from tests.support import build_app


def frame(data: dict) -> tuple[str, str]:
    frame_id = uuid.uuid4().hex
    return frame_id, json.dumps({
        "specVersion": "1.0", "type": "CALLBACK",
        "headers": {"appId": "app", "connectionId": "conn", "contentType": "application/json",
                    "messageId": frame_id, "time": str(int(time.time() * 1000)),
                    "topic": ROBOT_TOPIC},
        "data": json.dumps(data, ensure_ascii=False),
    }, ensure_ascii=False)


def acks(fake, socket, count: int) -> list[float]:  # noqa: ANN001
    """Messages one at a time: the time from sending each to its ACK."""
    samples = []
    for i in range(count):
        data = fake.robot_message("/whoami", user=f"ackuser{i % 20}", nick=f"用户{i % 20}")
        frame_id, raw = frame(data)
        began = time.perf_counter()
        socket.send(raw)
        fake.wait_for(lambda fid=frame_id: fake.ack_for(fid))
        samples.append(time.perf_counter() - began)
    return samples


def burst(fake, socket, count: int) -> float:  # noqa: ANN001
    """`count` messages from `count` people at once: seconds until every one is answered."""
    before = len(fake.calls_to("/robot/sendBySession"))
    raws = [frame(fake.robot_message("/whoami", user=f"burst{uuid.uuid4().hex[:6]}",
                                     nick="用户"))[1] for _ in range(count)]
    began = time.perf_counter()
    for raw in raws:
        socket.send(raw)
    fake.wait_for(lambda: len(fake.calls_to("/robot/sendBySession")) >= before + count,
                  timeout=120)
    return time.perf_counter() - began


def bare_client(fake, reply: bool):  # noqa: ANN001, ANN201
    """A bare SDK client whose handler only acknowledges, or answers first with reply_text."""
    import dingtalk_stream

    class Handler(dingtalk_stream.ChatbotHandler):
        async def process(self, callback):  # noqa: ANN001, ANN202
            if reply:
                incoming = dingtalk_stream.ChatbotMessage.from_dict(callback.data)
                self.reply_text("ok", incoming)
            return dingtalk_stream.AckMessage.STATUS_OK, "OK"

    client = dingtalk_stream.DingTalkStreamClient(
        dingtalk_stream.Credential(fake.client_id, fake.client_secret))
    client.register_callback_handler(ROBOT_TOPIC, Handler())
    threading.Thread(target=client.start_forever, daemon=True).start()
    return client


def newest_socket(fake, known: list):  # noqa: ANN001, ANN201
    fake.wait_for(lambda: [s for s in fake.sockets if s not in known])
    socket = next(s for s in fake.sockets if s not in known)
    known.append(socket)
    return socket


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--acks", type=int, default=300)
    parser.add_argument("--burst", type=int, default=200)
    args = parser.parse_args()
    import logging

    logging.getLogger("dingtalk_stream").setLevel(logging.ERROR)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # "skipped: already running"
    fake = shared()
    fake.reset()
    os.environ["DINGTALK_OPENAPI_ENDPOINT"] = fake.endpoint
    from bot.adapters.dingtalk import DingTalkAdapter
    from schedules.scheduler import ReminderScheduler

    known: list = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)  # build_app expects a migrated database (the test fixtures hand those out)
        app, _ = build_app(url, Path(tmp),
                           dingtalk_client_id=fake.client_id,
                           dingtalk_client_secret=fake.client_secret,
                           dingtalk_openapi_endpoint=fake.endpoint)
        adapter = DingTalkAdapter(app, app.settings)
        runner = threading.Thread(target=adapter.run, daemon=True)
        runner.start()
        outbox = ReminderScheduler(app, {"dingtalk": adapter})
        outbox.start()
        liaison = newest_socket(fake, known)
        bare_ack = newest_socket(fake, known) if bare_client(fake, False) else None
        bare_reply = newest_socket(fake, known) if bare_client(fake, True) else None
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"DingTalk Stream, fake DingTalk on 127.0.0.1, SQLite file; load average {load}")
        acks(fake, liaison, 20)
        acks(fake, bare_ack, 20)  # warm-up
        samples: dict[str, list[float]] = {"liaison": [], "bare": []}
        for _ in range(5):  # interleaved rounds
            samples["liaison"] += acks(fake, liaison, args.acks // 5)
            samples["bare"] += acks(fake, bare_ack, args.acks // 5)
        print(f"{'ACK of one message':<36} {'p50 ms':>8} {'p99 ms':>8} {'n':>6}")
        for name, label in (("liaison", "Liaison"), ("bare", "bare SDK, ack only")):
            ms = [s * 1000 for s in samples[name]]
            print(f"{label:<36} {statistics.median(ms):>8.2f} {percentile(ms, 99):>8.2f} "
                  f"{len(ms):>6}")
        ratio = statistics.median(samples["liaison"]) / statistics.median(samples["bare"])
        print(f"Liaison / bare: ACK p50 x{ratio:.2f} (goal <= 1.5)")
        walls: dict[str, list[float]] = {"liaison": [], "bare": []}
        for _ in range(2):
            walls["liaison"].append(burst(fake, liaison, args.burst))
            walls["bare"].append(burst(fake, bare_reply, args.burst))
        print(f"\n{'burst of ' + str(args.burst) + ', all answered':<36} {'best s':>8} "
              f"{'msg/s':>8}")
        for name, label in (("liaison", "Liaison"), ("bare", "bare SDK, reply_text")):
            best = min(walls[name])
            print(f"{label:<36} {best:>8.2f} {args.burst / best:>8.0f}")
        print(f"Liaison / bare: burst rate x{min(walls['bare']) / min(walls['liaison']):.2f} "
              f"(goal >= 0.8)")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        outbox.stop()
        adapter.stop()
        runner.join(timeout=10)
        app.db.dispose()


if __name__ == "__main__":
    main()
