"""DingTalk: the time to the ACK of a robot message, and how fast a burst is answered.

Liaison's DingTalk adapter (the unmodified dingtalk-stream SDK, Stream mode, against the
fake DingTalk of the tests on 127.0.0.1) beside bare SDK clients on the same fake, in the same
run: one whose handler only acknowledges (the anchor for the ACK), and one that answers each
message through its session webhook with `reply_text` (the anchor for the burst). Liaison
answers `/whoami` with a database transaction and the outbox; its ACK waits until the message
is written to the inbox (bot/adapters/dingtalk_inbox.py, a table of the database), so that a
crash after the ACK loses nothing; on SQLite that insert waits for the write lock, which the
conversation step of the message before may still hold.

Each client runs in a process of its own, as it would against DingTalk, whose servers do not
share its interpreter: in one process the fake's threads (its WebSocket reader, which records
the ACKs, and one HTTP thread per webhook answer) took turns at the GIL with the client they
timed. Liaison's own workers still share its GIL: the answer to one message (about 2.5 ms of
CPU when messages come one at a time: the step, the sweep's claim, read and mark, the webhook
call) runs while the next one's ACK is on its way, and each hop of that ACK (the loop, the
inbox writer, the loop again) waits its turn at the GIL. "CPU ms/msg" is the client process's
CPU time over the messages (for Liaison, the ACK and the whole answer). A third client,
Liaison that only writes each message down before its ACK and answers nothing, shows the floor
durability puts on the ACK (an insert committed, and two thread hops; on PostgreSQL the
commit waits for the WAL flush). Goals (issue 22): ACK p50 <= 1.5x the bare ack-only
handler; a burst of 200 answered at >= 0.8x the bare replying handler's rate.

The burst is timed --bursts times for each of the two, interleaved; the ratio is taken of the
best and of the median burst (the bare client's single thread swings most with the machine's
load). "CPU by thread" splits Liaison's CPU in the bursts between its threads: the SDK's event
loop (frames, ACKs), the inbox writer, the conversation steps (the adapter's workers) and the
delivery worker (APScheduler's thread: the outbox claim, render, webhook call and mark).

    .venv/bin/python bench/dingtalk.py [--acks 300] [--burst 200] [--bursts 5] [--postgres]
                                       [--one-process]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import _common  # noqa: F401
from _common import percentile, temporary_postgres

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


def bare_client(endpoint: str, client_id: str, secret: str, reply: bool) -> None:
    """A bare SDK client whose handler only acknowledges, or answers first with reply_text."""
    import dingtalk_stream

    class Handler(dingtalk_stream.ChatbotHandler):
        async def process(self, callback):  # noqa: ANN001, ANN202
            if reply:
                incoming = dingtalk_stream.ChatbotMessage.from_dict(callback.data)
                self.reply_text("ok", incoming)
            return dingtalk_stream.AckMessage.STATUS_OK, "OK"

    client = dingtalk_stream.DingTalkStreamClient(dingtalk_stream.Credential(client_id, secret))
    client.register_callback_handler(ROBOT_TOPIC, Handler())
    threading.Thread(target=client.start_forever, daemon=True).start()


def liaison(endpoint: str, client_id: str, secret: str, tmp: str,
            url: str | None, answer: bool = True) -> Callable[[], None]:
    """Liaison's DingTalk adapter and its delivery worker on `url` (or a fresh SQLite file);
    returns what stops them. Without `answer`, the adapter only writes each message down
    before its ACK (the inbox) and answers nothing: the floor durability puts on the ACK."""
    from bot.adapters.dingtalk import DingTalkAdapter
    from schedules.scheduler import ReminderScheduler

    url = url or f"sqlite:///{Path(tmp) / 'bench.db'}"
    upgrade(url)  # build_app expects a migrated database (the test fixtures hand those out)
    app, _ = build_app(url, Path(tmp), dingtalk_client_id=client_id,
                       dingtalk_client_secret=secret, dingtalk_openapi_endpoint=endpoint)
    adapter = DingTalkAdapter(app, app.settings)
    if not answer:
        def written_down_only(message, msg_id) -> None:  # noqa: ANN001
            with adapter._lock:
                adapter._inflight.discard(msg_id)

        adapter._process = written_down_only  # type: ignore[method-assign]
    runner = threading.Thread(target=adapter.run, name="dingtalk-loop", daemon=True)
    runner.start()
    outbox = ReminderScheduler(app, {"dingtalk": adapter})
    outbox.start()

    def stop() -> None:
        outbox.stop()
        adapter.stop()
        runner.join(timeout=10)
        app.db.dispose()

    return stop


def client_process(kind: str, endpoint: str, client_id: str, secret: str, url: str | None,
                   pipe) -> None:  # noqa: ANN001
    """A client in a process of its own (DingTalk's servers do not share its interpreter):
    answers "cpu" with its CPU seconds so far, ends on "stop"."""
    import logging

    os.environ["DINGTALK_OPENAPI_ENDPOINT"] = endpoint  # the SDK reads it at import
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("dingtalk_stream").setLevel(logging.ERROR)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # "skipped: already running"
    with tempfile.TemporaryDirectory() as tmp:
        stop = None
        if kind in ("liaison", "inbox"):
            stop = liaison(endpoint, client_id, secret, tmp, url, answer=kind == "liaison")
        else:
            bare_client(endpoint, client_id, secret, reply=kind == "reply")
        while (command := pipe.recv()) != "stop":
            pipe.send(time.process_time() if command == "cpu" else
                      thread_cpu() if command == "threads" else None)
        if stop is not None:
            stop()
        pipe.send(None)


# The threads of Liaison's client, by the start of their names.
THREADS = (("dingtalk-loop", "event loop (frames, ACKs)"), ("dingtalk-inbox", "inbox writer"),
           ("dingtalk-open", "connections/open"), ("dingtalk", "conversation steps (workers)"),
           ("ThreadPoolExecutor", "delivery (outbox sweep, webhook)"))


def thread_cpu() -> dict[str, float]:
    """CPU seconds so far of each of this process's threads, summed by the names of THREADS
    (Linux: /proc/self/task); empty elsewhere."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[str, float] = {}
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        name = names.get(int(tid), "")
        label = next((label for prefix, label in THREADS if name.startswith(prefix)), "other")
        found[label] = found.get(label, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return found


class Client:
    """A client process and its connection to the fake."""

    def __init__(self, kind: str, fake, known: list, url: str | None = None) -> None:  # noqa: ANN001
        self.pipe, theirs = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("spawn").Process(
            target=client_process,
            args=(kind, fake.endpoint, fake.client_id, fake.client_secret, url, theirs),
            daemon=True)
        self.process.start()
        self.socket = newest_socket(fake, known)

    def cpu(self) -> float:
        self.pipe.send("cpu")
        return self.pipe.recv()

    def threads(self) -> dict[str, float]:
        self.pipe.send("threads")
        return self.pipe.recv()

    def stop(self) -> None:
        self.pipe.send("stop")
        self.pipe.recv()
        self.process.join(timeout=10)


class LocalClient:
    """A client in this process, beside the fake (--one-process, how this bench ran before):
    its CPU is the whole process's."""

    def __init__(self, kind: str, fake, known: list, url: str | None, tmp: str) -> None:  # noqa: ANN001
        os.environ["DINGTALK_OPENAPI_ENDPOINT"] = fake.endpoint  # the SDK reads it at import
        self._stop = None
        if kind in ("liaison", "inbox"):
            self._stop = liaison(fake.endpoint, fake.client_id, fake.client_secret, tmp, url,
                                 answer=kind == "liaison")
        else:
            bare_client(fake.endpoint, fake.client_id, fake.client_secret, reply=kind == "reply")
        self.socket = newest_socket(fake, known)

    def cpu(self) -> float:
        return time.process_time()

    def threads(self) -> dict[str, float]:
        return {}  # one process: the fake's threads would be counted too

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()


def newest_socket(fake, known: list):  # noqa: ANN001, ANN201
    fake.wait_for(lambda: [s for s in fake.sockets if s not in known], timeout=60)
    socket = next(s for s in fake.sockets if s not in known)
    known.append(socket)
    return socket


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--acks", type=int, default=300)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--bursts", type=int, default=5,
                        help="bursts timed for Liaison and for the bare client, interleaved")
    parser.add_argument("--postgres", action="store_true",
                        help="Liaison on a fresh PostgreSQL database (LIAISON_TEST_DATABASE_URL's "
                             "server) rather than a SQLite file")
    parser.add_argument("--one-process", action="store_true",
                        help="every client in this process, beside the fake, as this bench ran "
                             "before (their CPU figures are then the whole process's)")
    args = parser.parse_args()
    with temporary_postgres() if args.postgres else nullcontext(None) as url:
        if args.postgres and url is None:
            return
        run(args, url)


def run(args: argparse.Namespace, url: str | None) -> None:
    import logging

    logging.getLogger("dingtalk_stream").setLevel(logging.ERROR)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    fake = shared()
    fake.reset()
    known: list = []
    with tempfile.TemporaryDirectory() as tmp:
        kinds = (("liaison", "liaison"), ("inbox", "inbox"), ("bare", "ack"), ("reply", "reply"))
        if args.one_process:
            clients = {name: LocalClient(kind, fake, known, url, tmp) for name, kind in kinds}
        else:
            clients = {name: Client(kind, fake, known, url) for name, kind in kinds}
        measure(args, url, fake, clients)
        for client in clients.values():
            client.stop()


def measure(args: argparse.Namespace, url: str | None, fake, clients: dict) -> None:  # noqa: ANN001
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    where = "PostgreSQL" if url else "SQLite file"
    how = "one process" if args.one_process else "each client in a process of its own"
    print(f"DingTalk Stream, fake DingTalk on 127.0.0.1, {where}, {how}; load average {load}")
    named = ("liaison", "inbox", "bare")
    for name in named:
        acks(fake, clients[name].socket, 20)  # warm-up
    samples: dict[str, list[float]] = {name: [] for name in named}
    cpu = dict.fromkeys(named, 0.0)
    for _ in range(5):  # interleaved rounds
        for name in named:
            before = clients[name].cpu()
            samples[name] += acks(fake, clients[name].socket, args.acks // 5)
            time.sleep(0.05)  # the last message's answer (Liaison) is counted too
            cpu[name] += clients[name].cpu() - before
    print(f"{'ACK of one message':<36} {'p50 ms':>8} {'p99 ms':>8} {'n':>6} {'CPU ms/msg':>11}")
    for name, label in (("liaison", "Liaison (ack, answer)"),
                        ("inbox", "Liaison, written down, no answer"),
                        ("bare", "bare SDK, ack only")):
        ms = [s * 1000 for s in samples[name]]
        print(f"{label:<36} {statistics.median(ms):>8.2f} {percentile(ms, 99):>8.2f} "
              f"{len(ms):>6} {cpu[name] * 1000 / len(ms):>11.2f}")
    ratio = statistics.median(samples["liaison"]) / statistics.median(samples["bare"])
    floor = statistics.median(samples["inbox"]) / statistics.median(samples["bare"])
    print(f"Liaison / bare: ACK p50 x{ratio:.2f} (goal <= 1.5); written down only: "
          f"x{floor:.2f} (the floor durability puts on it here)")
    walls: dict[str, list[float]] = {"liaison": [], "reply": []}
    burst_cpu: dict[str, list[float]] = {"liaison": [], "reply": []}
    by_thread: dict[str, float] = {}
    for _ in range(args.bursts):
        for name in ("liaison", "reply"):
            threads = clients[name].threads() if name == "liaison" else {}
            before = clients[name].cpu()
            walls[name].append(burst(fake, clients[name].socket, args.burst))
            burst_cpu[name].append(clients[name].cpu() - before)
            if name == "liaison":
                for label, seconds in clients[name].threads().items():
                    by_thread[label] = by_thread.get(label, 0.0) + seconds - threads.get(label, 0.0)
    print(f"\n{'burst of ' + str(args.burst) + ', all answered':<36} {'best s':>8} "
          f"{'median s':>8} {'msg/s':>8} {'CPU ms/msg':>11}")
    for name, label in (("liaison", "Liaison"), ("reply", "bare SDK, reply_text")):
        best = min(walls[name])
        print(f"{label:<36} {best:>8.3f} {statistics.median(walls[name]):>8.3f} "
              f"{args.burst / best:>8.0f} "
              f"{statistics.median(burst_cpu[name]) * 1000 / args.burst:>11.2f}")
    print(f"Liaison / bare: burst rate x{min(walls['reply']) / min(walls['liaison']):.2f} best, "
          f"x{statistics.median(walls['reply']) / statistics.median(walls['liaison']):.2f} "
          f"median (goal >= 0.8)")
    if by_thread:
        messages = args.burst * args.bursts
        print("Liaison's CPU by thread in the bursts, ms/msg: " + ", ".join(
            f"{label} {seconds * 1000 / messages:.2f}"
            for label, seconds in sorted(by_thread.items(), key=lambda item: -item[1])
            if seconds > 0))
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
