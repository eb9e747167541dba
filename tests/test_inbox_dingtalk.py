"""The DingTalk inbox on both databases: a SQLite file of its own beside a SQLite database, the
dingtalk_inbox table on PostgreSQL. (Named so that it is not one of the SQLite-only
test_dingtalk* modules; the end-to-end tests are in test_dingtalk.py.)"""

from __future__ import annotations

import asyncio

from bot.adapters.dingtalk_inbox import FileInbox, TableInbox, inbox_path, open_inbox
from bot.db import Database


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
        assert [m["msgId"] for m in inbox.pending()] == [f"m{i}" for i in range(5)]
        assert inbox.pending()[1]["text"]["content"] == "第1条"  # the first copy stays
        inbox.done("m0")
        with db.session() as session:
            if not inbox.done_in(session, "m1"):  # in the transaction that answers it
                inbox.done("m1")  # the inbox is a file of its own
        assert [m["msgId"] for m in inbox.pending()] == ["m2", "m3", "m4"]
        # Another process (the next start) finds what this one left.
        inbox.close()
        inbox = open_inbox(db)
        assert [m["msgId"] for m in inbox.pending()] == ["m2", "m3", "m4"]
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
        assert [m["msgId"] for m in inbox.pending()] == ["m1"]
        assert kept_there == (db.dialect != "sqlite")
    finally:
        inbox.close()
        db.dispose()


def test_the_inbox_file_sits_beside_the_sqlite_database() -> None:
    assert inbox_path("sqlite:////var/lib/liaison/liaison.db") == \
        "/var/lib/liaison/liaison-dingtalk-inbox.db"
    assert inbox_path("sqlite:///data/bot") == "data/bot-dingtalk-inbox.db"
    assert inbox_path("sqlite://") == ":memory:"
