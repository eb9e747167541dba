"""The DingTalk inbox, the dingtalk_inbox table, on both databases, alone and end to end through
the adapter. (Named so that it is not one of the SQLite-only test_dingtalk* modules.)"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlmodel import select

from bot.adapters.dingtalk import INBOX_GRACE, INBOX_MAX_AGE
from bot.adapters.dingtalk_inbox import TABLE, TableInbox
from bot.db import Database
from bot.errors import StorageError
from bot.models import DingTalkInbox
from tests.test_dingtalk import Talk, fake, make, outbox_drained, running  # noqa: F401


def message(msg_id: str, text: str = "/whoami") -> dict:
    return {"msgId": msg_id, "text": {"content": text}, "senderStaffId": "li"}


def pending(inbox: TableInbox) -> list[tuple[str, dict]]:
    """(msgId, data) of the messages recorded but not handled, oldest first."""
    with inbox.db.session() as session:
        rows = session.execute(select(TABLE.c.msg_id, TABLE.c.data).order_by(TABLE.c.id))
        return [(msg_id, data) for msg_id, data in rows]


def left(inbox: TableInbox, data: dict, age: timedelta = timedelta(minutes=2)) -> None:
    """A message acknowledged `age` ago and left in the inbox (the process died)."""
    inbox.record([(data["msgId"], data)])
    inbox.db.run(update(TABLE).where(TABLE.c.msg_id == data["msgId"])
                 .values(received_at=datetime.now(UTC) - age))


def test_a_message_is_kept_once_in_arrival_order_until_done(db_url) -> None:
    db = Database(db_url)
    inbox = TableInbox(db)
    try:
        async def arrive() -> None:  # as on the SDK's loop: several at once
            await asyncio.gather(*(inbox.write(f"m{i}", message(f"m{i}", f"第{i}条"))
                                   for i in range(5)))
            await inbox.write("m1", message("m1", "redelivered"))

        asyncio.run(arrive())
        assert [msg_id for msg_id, _ in pending(inbox)] == [f"m{i}" for i in range(5)]
        assert pending(inbox)[1][1]["text"]["content"] == "第1条"  # the first copy stays
        inbox.done("m0")
        with db.session() as session:
            inbox.done_in(session, "m1")  # in the transaction that answers it
        assert [msg_id for msg_id, _ in pending(inbox)] == ["m2", "m3", "m4"]
        # Another process (the next start) finds what this one left, in the database itself.
        inbox.close()
        db.dispose()
        db = Database(db_url)
        inbox = TableInbox(db)
        assert [msg_id for msg_id, _ in pending(inbox)] == ["m2", "m3", "m4"]
        with db.session() as session:
            assert sorted(session.exec(select(DingTalkInbox.msg_id)).all()) == ["m2", "m3", "m4"]
    finally:
        inbox.close()
        db.dispose()


def test_a_rolled_back_answer_leaves_the_message_in_the_table(db_url) -> None:
    db = Database(db_url)
    inbox = TableInbox(db)
    try:
        inbox.record([("m1", message("m1"))])
        try:
            with db.session() as session:
                inbox.done_in(session, "m1")
                raise RuntimeError("the answer failed")
        except RuntimeError:
            pass
        assert [msg_id for msg_id, _ in pending(inbox)] == ["m1"]
    finally:
        inbox.close()
        db.dispose()


def test_an_answered_message_leaves_the_inbox_on_either_database(
        db_url, tmp_path, fake) -> None:  # noqa: F811  (the fixture)
    app, adapter, _ = make(db_url, tmp_path, fake)
    data = fake.robot_message("/whoami", user="li", nick="李四")
    left(adapter.inbox, fake.robot_message("/whoami", user="wang", nick="王五",
                                           msg_id="left-by-a-crash"))
    with running(adapter, fake):
        frame = fake.push_callback(data)
        assert fake.wait_for(lambda: fake.ack_for(frame))["code"] == 200
        fake.wait_for(lambda: adapter.processed >= 2 and outbox_drained(app))
        assert pending(adapter.inbox) == []
    texts = fake.webhook_texts()
    assert len(texts) == 2 and any("李四" in t for t in texts) and any("王五" in t for t in texts)


def test_a_message_is_written_down_before_its_ack_and_forgotten_once_answered(
        db_url, tmp_path, fake, monkeypatch) -> None:  # noqa: F811  (the fixture)
    app, adapter, _ = make(db_url, tmp_path, fake)
    real_handle, gate = app.handle, threading.Event()

    def slow(inbound, **kw):  # noqa: ANN001, ANN003, ANN202
        assert gate.wait(10)
        return real_handle(inbound, **kw)

    monkeypatch.setattr(app, "handle", slow)
    with running(adapter, fake):
        data = fake.robot_message("/whoami", user="li", nick="李四")
        frame = fake.push_callback(data)
        assert fake.wait_for(lambda: fake.ack_for(frame))["code"] == 200
        # Acknowledged, not answered yet: a crash now must not lose it.
        assert [msg_id for msg_id, _ in pending(adapter.inbox)] == [data["msgId"]]
        gate.set()
        fake.wait_for(lambda: adapter.processed >= 1 and outbox_drained(adapter.app))
        assert pending(adapter.inbox) == []
    assert "李四" in fake.webhook_texts()[0]


def test_messages_acknowledged_before_a_crash_are_answered_at_the_next_start(
        db_url, tmp_path, fake) -> None:  # noqa: F811  (the fixture)
    app, adapter, _ = make(db_url, tmp_path, fake)
    data = fake.robot_message("/whoami", user="li", nick="李四")
    left(adapter.inbox, data)  # acknowledged, then the process died
    with running(adapter, fake):
        fake.wait_for(lambda: adapter.processed >= 1 and outbox_drained(adapter.app))
        assert pending(adapter.inbox) == []
        again = fake.push_callback(data)  # a late redelivery of it is not answered twice
        fake.wait_for(lambda: fake.ack_for(again))
        Talk(fake, adapter, "li", "李四").say("/whoami")
    texts = fake.webhook_texts()
    assert len(texts) == 2 and all("李四" in t for t in texts)


def test_a_message_the_database_cannot_take_is_answered_before_its_ack(
        db_url, tmp_path, fake, monkeypatch) -> None:  # noqa: F811  (the fixture)
    app, adapter, _ = make(db_url, tmp_path, fake)
    real_handle, acked_while_handling, frame = app.handle, [], "frame-not-written-down"

    def refused(messages):  # noqa: ANN001, ANN202
        raise StorageError("OperationalError", unavailable=True)

    def watched(inbound, **kw):  # noqa: ANN001, ANN003, ANN202
        acked_while_handling.append(bool(fake.ack_for(frame)))
        return real_handle(inbound, **kw)

    monkeypatch.setattr(adapter.inbox, "record", refused)
    monkeypatch.setattr(app, "handle", watched)
    with running(adapter, fake):
        data = fake.robot_message("/whoami", user="li", nick="李四")
        fake.push_callback(data, frame_id=frame)
        assert fake.wait_for(lambda: fake.ack_for(frame))["code"] == 200
        fake.wait_for(lambda: outbox_drained(adapter.app))
    assert acked_while_handling == [False]
    assert "李四" in fake.webhook_texts()[0]


def test_a_young_message_is_left_to_its_replica_and_an_old_one_claimed_once(db_url) -> None:
    db = Database(db_url)
    inbox, other = TableInbox(db), TableInbox(db)
    try:
        inbox.record([("m1", message("m1"))])
        now = datetime.now(UTC)
        # A replica starting now leaves it to the one answering it right now.
        assert other.claim(now, INBOX_GRACE) == []
        later = now + INBOX_GRACE + timedelta(seconds=1)
        assert [m for m, _, _ in other.claim(later, INBOX_GRACE)] == ["m1"]
        assert inbox.claim(later, INBOX_GRACE) == []  # claimed: nobody else takes it
        # Still there a grace period later: whoever claimed it died; it is taken again.
        again = later + INBOX_GRACE
        [(msg_id, _, recorded)] = inbox.claim(again, INBOX_GRACE)
        # Its age still counts from when it was recorded, whoever claimed it since.
        assert msg_id == "m1" and abs(recorded - now) < timedelta(seconds=5)
        if db.dialect == "postgresql":
            # Two replicas claiming at the same moment: the row one has locked is skipped.
            with db.session() as session:
                session.execute(select(TABLE.c.id).with_for_update())
                assert other.claim(again + INBOX_GRACE, INBOX_GRACE) == []
        assert [m for m, _ in pending(inbox)] == ["m1"]
    finally:
        inbox.close()
        other.close()
        db.dispose()


def test_the_recorder_fails_rather_than_hangs_once_closed(db_url) -> None:
    db = Database(db_url)
    inbox = TableInbox(db)
    try:
        inbox.close()

        async def arrive() -> None:
            for msg_id in ("m1", "m2"):  # the second one too: nothing is left stuck
                with pytest.raises(RuntimeError):
                    await asyncio.wait_for(inbox.write(msg_id, message(msg_id)), 5)

        asyncio.run(arrive())
    finally:
        db.dispose()


def test_the_recorder_recovers_from_a_writer_that_breaks(db_url, monkeypatch) -> None:
    db = Database(db_url)
    inbox = TableInbox(db)
    real_record = inbox.record

    class Broken(BaseException):
        pass

    def broken(messages):  # noqa: ANN001, ANN202
        raise Broken

    try:
        async def arrive() -> None:
            monkeypatch.setattr(inbox, "record", broken)
            with pytest.raises(Broken):
                await asyncio.wait_for(inbox.write("m1", message("m1")), 5)
            monkeypatch.setattr(inbox, "record", real_record)
            await asyncio.wait_for(inbox.write("m2", message("m2")), 5)

        asyncio.run(arrive())
        assert [m for m, _ in pending(inbox)] == ["m2"]
    finally:
        inbox.close()
        db.dispose()


def test_a_message_whose_answer_was_not_committed_is_not_replayed(
        db_url, tmp_path, fake, monkeypatch) -> None:  # noqa: F811  (the fixture)
    app, adapter, _ = make(db_url, tmp_path, fake)
    real_handle = app.handle

    def away_after_ack(inbound, **kw):  # noqa: ANN001, ANN003, ANN202
        prepare = kw["prepare"]

        def failing(session, inbound, outbounds):  # noqa: ANN001, ANN202
            outbounds = prepare(session, inbound, outbounds)
            raise StorageError("OperationalError", unavailable=True)  # the commit fails

        return real_handle(inbound, **{**kw, "prepare": failing})

    monkeypatch.setattr(app, "handle", away_after_ack)
    with running(adapter, fake):
        frame = fake.push_callback(fake.robot_message("/whoami", user="li", nick="李四"))
        assert fake.wait_for(lambda: fake.ack_for(frame))["code"] == 200
        fake.wait_for(lambda: adapter.processed >= 1)
        # The person got the apology (told to try again): nothing is left to answer later.
        assert pending(adapter.inbox) == []
        monkeypatch.setattr(app, "handle", real_handle)
        assert adapter.retry_inbox(datetime.now(UTC) + timedelta(minutes=2)) == 0
    texts = fake.webhook_texts()
    assert len(texts) == 1 and "李四" not in texts[0]


def test_a_message_apologised_for_is_not_answered_later_when_its_row_outlived_the_outage(
        db_url, tmp_path, fake, monkeypatch) -> None:  # noqa: F811  (the fixture)
    """The database went away after the ACK: the answer, the apology's queueing and the
    inbox's delete all failed. The person got the apology directly and was told to try again:
    when the database is back, the message leaves the inbox unanswered."""
    app, adapter, _ = make(db_url, tmp_path, fake)
    real_handle, real_done = app.handle, adapter.inbox.done
    # The core could not queue its apology either: it comes back for one direct try.
    monkeypatch.setattr(app, "handle", lambda inbound, **kw: [adapter._apology(inbound)])
    monkeypatch.setattr(adapter.inbox, "done", lambda msg_id: False)  # the database is away
    with running(adapter, fake):
        frame = fake.push_callback(fake.robot_message("/whoami", user="li", nick="李四"))
        assert fake.wait_for(lambda: fake.ack_for(frame))["code"] == 200
        fake.wait_for(lambda: adapter.processed >= 1)
        assert len(pending(adapter.inbox)) == 1  # its delete failed
        monkeypatch.setattr(app, "handle", real_handle)  # the database is back
        monkeypatch.setattr(adapter.inbox, "done", real_done)
        assert adapter.retry_inbox(datetime.now(UTC) + timedelta(minutes=2)) == 0
        assert pending(adapter.inbox) == []
    texts = fake.webhook_texts()
    assert len(texts) == 1 and "李四" not in texts[0]


def test_a_message_left_while_running_is_retried_after_the_grace_period(
        db_url, tmp_path, fake) -> None:  # noqa: F811  (the fixture)
    app, adapter, _ = make(db_url, tmp_path, fake)
    with running(adapter, fake):
        data = fake.robot_message("/whoami", user="li", nick="李四")
        adapter.inbox.record([(data["msgId"], data)])  # left by a replica that died just now
        assert adapter.retry_inbox() == 0  # maybe a live replica is answering it
        assert adapter.retry_inbox(datetime.now(UTC) + INBOX_GRACE) == 1  # the periodic look
        fake.wait_for(lambda: adapter.processed >= 1 and outbox_drained(app))
        assert pending(adapter.inbox) == []
    texts = fake.webhook_texts()
    assert len(texts) == 1 and "李四" in texts[0]


def test_a_message_too_old_to_answer_is_dropped_with_a_warning(
        db_url, tmp_path, fake, caplog) -> None:  # noqa: F811  (the fixture)
    app, adapter, _ = make(db_url, tmp_path, fake)
    expired = fake.robot_message("/whoami", user="wang", nick="王五", msg_id="expired")
    expired["sessionWebhookExpiredTime"] = int(datetime.now(UTC).timestamp() * 1000) - 1000
    no_webhook = message("no-webhook")  # no expiry, no createAt: the time it was recorded
    fresh = fake.robot_message("/whoami", user="li", nick="李四", msg_id="fresh")
    # Its session webhook still lives (about 1.5 hours), but it was sent too long ago.
    stale = fake.robot_message("/whoami", user="zhao", nick="赵六", msg_id="stale")
    stale["createAt"] = int((datetime.now(UTC) - INBOX_MAX_AGE).timestamp() * 1000) - 60_000
    stale["sessionWebhookExpiredTime"] = int(datetime.now(UTC).timestamp() * 1000) + 3_600_000
    left(adapter.inbox, expired)
    left(adapter.inbox, no_webhook, INBOX_MAX_AGE + timedelta(minutes=1))
    left(adapter.inbox, fresh)
    left(adapter.inbox, stale)
    with caplog.at_level(logging.WARNING, "bot.adapters.dingtalk"), running(adapter, fake):
        fake.wait_for(lambda: adapter.processed >= 1 and outbox_drained(app))
        assert pending(adapter.inbox) == []
    texts = fake.webhook_texts()
    assert len(texts) == 1 and "李四" in texts[0]
    dropped = [r.getMessage() for r in caplog.records if "too old" in r.getMessage()]
    assert len(dropped) == 3
    assert any("expired" in d for d in dropped) and any("no-webhook" in d for d in dropped)
    assert any("stale" in d for d in dropped)


def test_a_message_is_queued_for_its_answer_once_its_frame_is_acked_in_written_order(
        db_url, tmp_path, fake, monkeypatch) -> None:  # noqa: F811  (the fixture)
    """Within a frame of the stream (StreamClient._frame) a message written down waits for the
    SDK's ACK before a worker takes it (its step would take turns at the GIL with the loop
    sending the ACK); the messages then go in the order written down, whichever frame's ACK
    went out first, so one person's messages keep their order."""
    from bot.adapters import dingtalk as adapter_module

    app, adapter, _ = make(db_url, tmp_path, fake)
    sdk = adapter_module.load_sdk(fake.endpoint)
    queued: list[str] = []
    monkeypatch.setattr(adapter, "_submit", lambda message, msg_id: queued.append(msg_id))
    first = fake.robot_message("/whoami", user="li", nick="李四")
    second = fake.robot_message("/lang en", user="li", nick="李四")

    async def frames() -> tuple[list[str], list[str]]:
        async def one(data: dict) -> list[str]:
            written: list[str] = []
            adapter_module._AFTER_ACK.set(written)  # as StreamClient._frame does, per task
            await adapter.accept(data, sdk.ChatbotMessage)
            return written

        return tuple(await asyncio.gather(one(first), one(second)))  # type: ignore[return-value]

    try:
        mine, theirs = asyncio.run(frames())
        assert (mine, theirs) == ([first["msgId"]], [second["msgId"]])
        assert queued == []  # written down (below), but not queued before the ACKs
        assert [m for m, _ in pending(adapter.inbox)] == [first["msgId"], second["msgId"]]
        adapter.queue_written(second["msgId"])  # the second frame's ACK went out first
        assert queued == [first["msgId"], second["msgId"]]
        adapter.queue_written(first["msgId"])
        assert queued == [first["msgId"], second["msgId"]]
    finally:
        adapter.inbox.close()
        app.db.dispose()
    # Outside a frame (the inbox retry, a direct call) a message is queued at once.
    app, adapter, _ = make(db_url, tmp_path, fake)
    queued.clear()
    monkeypatch.setattr(adapter, "_submit", lambda message, msg_id: queued.append(msg_id))
    try:
        third = fake.robot_message("/whoami", user="wang", nick="王五")
        asyncio.run(adapter.accept(third, sdk.ChatbotMessage))
        assert queued == [third["msgId"]]
    finally:
        adapter.inbox.close()
        app.db.dispose()


def test_a_message_not_written_down_waits_for_those_written_before_it(
        db_url, tmp_path, fake, monkeypatch) -> None:  # noqa: F811  (the fixture)
    """One person's first message is written down, its frame's ACK still on its way; their
    next cannot be written down (the database is away) and is handled before its own ACK:
    the first is queued before it, as it would have been without the wait for the ACK."""
    from bot.adapters import dingtalk as adapter_module

    app, adapter, _ = make(db_url, tmp_path, fake)
    sdk = adapter_module.load_sdk(fake.endpoint)
    queued: list[str] = []

    def submit(message, msg_id):  # noqa: ANN001, ANN202
        queued.append(message.message_id)
        done = Future()
        done.set_result(None)
        return done

    monkeypatch.setattr(adapter, "_submit", submit)
    first = fake.robot_message("/complaint new", user="li", nick="李四")
    second = fake.robot_message("取消", user="li", nick="李四")
    write = adapter.inbox.write

    async def away_for_the_second(msg_id, data):  # noqa: ANN001, ANN202
        if msg_id == second["msgId"]:
            raise StorageError("OperationalError", unavailable=True, wrote=False)
        await write(msg_id, data)

    monkeypatch.setattr(adapter.inbox, "write", away_for_the_second)

    async def frames() -> list[str]:
        written: list[str] = []
        adapter_module._AFTER_ACK.set(written)  # the first frame: its ACK not sent yet
        await adapter.accept(first, sdk.ChatbotMessage)
        adapter_module._AFTER_ACK.set([])  # the second frame
        await adapter.accept(second, sdk.ChatbotMessage)
        return written

    try:
        written = asyncio.run(frames())
        assert queued == [first["msgId"], second["msgId"]]
        adapter.queue_written(written[0])  # the first frame's ACK, late: nothing twice
        assert queued == [first["msgId"], second["msgId"]]
    finally:
        adapter.inbox.close()
        app.db.dispose()


def test_the_inbox_retry_leaves_a_message_whose_ack_is_on_its_way(
        db_url, tmp_path, fake, monkeypatch) -> None:  # noqa: F811  (the fixture)
    """A message written down whose frame has not sent its ACK yet is this process's own: the
    inbox retry, even a minute on, does not queue it a second time."""
    from bot.adapters import dingtalk as adapter_module

    app, adapter, _ = make(db_url, tmp_path, fake)
    sdk = adapter_module.load_sdk(fake.endpoint)
    queued: list[str] = []
    monkeypatch.setattr(adapter._lanes, "submit",
                        lambda key, fn, message, msg_id: queued.append(msg_id))
    data = fake.robot_message("/whoami", user="li", nick="李四")

    async def frame() -> list[str]:
        written: list[str] = []
        adapter_module._AFTER_ACK.set(written)
        await adapter.accept(data, sdk.ChatbotMessage)
        return written

    try:
        written = asyncio.run(frame())
        later = datetime.now(UTC) + INBOX_GRACE + timedelta(seconds=1)
        assert adapter.retry_inbox(later) == 0
        for msg_id in written:
            adapter.queue_written(msg_id)
        assert queued == [data["msgId"]]
    finally:
        adapter.inbox.close()
        app.db.dispose()
