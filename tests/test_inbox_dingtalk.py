"""The DingTalk inbox on both databases: a SQLite file of its own beside a SQLite database, the
dingtalk_inbox table on PostgreSQL. (Named so that it is not one of the SQLite-only
test_dingtalk* modules; the end-to-end tests are in test_dingtalk.py.)"""

from __future__ import annotations

import asyncio

from bot.adapters.dingtalk_inbox import FileInbox, TableInbox, inbox_path, open_inbox
from bot.db import Database
from tests.test_dingtalk import fake, make, outbox_drained, running  # noqa: F401


def message(msg_id: str, text: str = "/whoami") -> dict:
    return {"msgId": msg_id, "text": {"content": text}, "senderStaffId": "li"}


def test_a_message_is_kept_once_in_arrival_order_until_done(db_url) -> None:
    db = Database(db_url)
    inbox = open_inbox(db)
    try:
        assert isinstance(inbox, FileInbox if db.dialect == "sqlite" else TableInbox)

        async def arrive() -> None:  # as on the SDK's loop: several at once
            await asyncio.gather(*(inbox.write(f"m{i}", message(f"m{i}", f"第{i}条"))
                                   for i in range(5)))
            await inbox.write("m1", message("m1", "redelivered"))

        asyncio.run(arrive())
        assert [msg_id for msg_id, _ in inbox.pending()] == [f"m{i}" for i in range(5)]
        assert inbox.pending()[1][1]["text"]["content"] == "第1条"  # the first copy stays
        inbox.done("m0")
        with db.session() as session:
            if not inbox.done_in(session, "m1"):  # in the transaction that answers it
                inbox.done("m1")  # the inbox is a file of its own
        assert [msg_id for msg_id, _ in inbox.pending()] == ["m2", "m3", "m4"]
        # Another process (the next start) finds what this one left.
        inbox.close()
        inbox = open_inbox(db)
        assert [msg_id for msg_id, _ in inbox.pending()] == ["m2", "m3", "m4"]
    finally:
        inbox.close()
        db.dispose()


def test_a_rolled_back_answer_leaves_the_message_in_the_table(db_url) -> None:
    db = Database(db_url)
    inbox = open_inbox(db)
    try:
        inbox.record([("m1", message("m1"))])
        try:
            with db.session() as session:
                kept_there = inbox.done_in(session, "m1")
                raise RuntimeError("the answer failed")
        except RuntimeError:
            pass
        assert [msg_id for msg_id, _ in inbox.pending()] == ["m1"]
        assert kept_there == (db.dialect != "sqlite")
    finally:
        inbox.close()
        db.dispose()


def test_the_inbox_file_sits_beside_the_sqlite_database() -> None:
    assert inbox_path("sqlite:////var/lib/liaison/liaison.db") == \
        "/var/lib/liaison/liaison-dingtalk-inbox.db"
    assert inbox_path("sqlite:///data/bot") == "data/bot-dingtalk-inbox.db"
    assert inbox_path("sqlite://") == ":memory:"


def test_an_answered_message_leaves_the_inbox_on_either_database(
        db_url, tmp_path, fake) -> None:  # noqa: F811  (the fixture)
    app, adapter, _ = make(db_url, tmp_path, fake)
    data = fake.robot_message("/whoami", user="li", nick="李四")
    adapter.inbox.record([("left-by-a-crash", fake.robot_message("/whoami", user="wang",
                                                                  nick="王五"))])
    with running(adapter, fake):
        frame = fake.push_callback(data)
        assert fake.wait_for(lambda: fake.ack_for(frame))["code"] == 200
        fake.wait_for(lambda: adapter.processed >= 2 and outbox_drained(app))
        assert adapter.inbox.pending() == []
    texts = fake.webhook_texts()
    assert len(texts) == 2 and any("李四" in t for t in texts) and any("王五" in t for t in texts)
