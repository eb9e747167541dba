"""The DingTalk inbox: robot messages written down before DingTalk gets their ACK.

DingTalk does not send an acknowledged message again, so a message is acknowledged only once it
is recorded here (one insert, de-duplicated by msgId: DingTalk redelivers what was not
acknowledged) or, when that fails, once it has been handled. A message leaves the inbox when it
has been handled; what a crash left behind is handled at the next start. Handling a message
twice is harmless: the core's inbound-event table answers it once.

Where it is kept depends on the database:
- SQLite (`FileInbox`): a SQLite file of its own beside the database (`liaison.db` ->
  `liaison-dingtalk-inbox.db`), written through the standard library's sqlite3 on the SDK's
  event loop, with the database's own durability (WAL, synchronous=NORMAL). A SQLite database
  has one writer at a time, and a conversation step holds the write lock for its whole
  transaction: an insert into the database itself waited for the step before it, and the ACK
  with it (bench/dingtalk.py: ACK p50 2.7 ms against 0.2 ms for a bare SDK handler). This file
  has no other writer; a raw insert is 0.03 ms where SQLAlchemy's takes 0.19 ms, which under a
  busy worker thread is time spent waiting for the GIL.
- PostgreSQL (`TableInbox`): the `dingtalk_inbox` table (migration 0019_dingtalk_inbox), so
  that any replica finds what another left; messages arriving together are written in one
  transaction by one writer thread (`Recorder`), off the event loop, and a message leaves the
  table in the transaction that answers it. A commit waits for PostgreSQL's WAL flush (2.4 ms
  on the benchmark machine), which the ACK cannot skip.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url
from sqlmodel import Session

from bot.db import Database
from bot.errors import StorageError
from bot.models import DingTalkInbox

log = logging.getLogger(__name__)

TABLE = DingTalkInbox.__table__
FILE_SUFFIX = "-dingtalk-inbox"


def open_inbox(db: Database) -> FileInbox | TableInbox:
    """The inbox for this database (see the module's docstring)."""
    if db.dialect == "sqlite":
        return FileInbox(inbox_path(db.url))
    return TableInbox(db)


def inbox_path(url: str) -> str:
    """The inbox file beside a SQLite database file; in memory for an in-memory database."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return ":memory:"
    path = Path(database)
    return str(path.with_name(f"{path.stem}{FILE_SUFFIX}{path.suffix or '.db'}"))


def _gone(msg_id: str) -> None:
    log.warning("DingTalk message %s stays in the inbox; it is handled again at the next start "
                "(the core answers it once)", msg_id)


class FileInbox:
    """The inbox in a SQLite file of its own; one connection, used under a lock."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                         timeout=10.0)
            if path != ":memory:":
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            # The file holds this one table and nothing else refers to it; a change of shape
            # would take a new file name rather than a migration.
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS dingtalk_inbox (id INTEGER PRIMARY KEY, "
                "msg_id TEXT NOT NULL UNIQUE, data TEXT NOT NULL, received_at TEXT NOT NULL)")
        except sqlite3.Error as exc:
            raise StorageError(f"DingTalk inbox {path}: {exc}", unavailable=True) from exc

    async def write(self, msg_id: str, data: dict[str, Any]) -> None:
        """Record one message, on the event loop: an autocommit insert, no thread hop."""
        self.record([(msg_id, data)])

    def record(self, messages: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Write these (msgId, data) down; a msgId already there is left as it is. Raises
        StorageError."""
        now = datetime.now(UTC).isoformat()
        rows = [(msg_id, json.dumps(data, ensure_ascii=False), now) for msg_id, data in messages]
        try:
            with self._lock:
                self._conn.executemany(
                    "INSERT INTO dingtalk_inbox (msg_id, data, received_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (msg_id) DO NOTHING", rows)
        except sqlite3.Error as exc:
            raise StorageError(f"DingTalk inbox: {exc}", unavailable=True) from exc

    def done_in(self, session: Session, msg_id: str) -> bool:
        """Another database: the message is forgotten after its transaction (`done`)."""
        return False

    def done(self, msg_id: str) -> None:
        try:
            with self._lock:
                self._conn.execute("DELETE FROM dingtalk_inbox WHERE msg_id = ?", (msg_id,))
        except sqlite3.Error:
            _gone(msg_id)

    def pending(self) -> list[tuple[str, dict[str, Any]]]:
        """(msgId, data) of the messages recorded but not handled, oldest first."""
        try:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT msg_id, data FROM dingtalk_inbox ORDER BY id").fetchall()
        except sqlite3.Error as exc:
            raise StorageError(f"DingTalk inbox: {exc}", unavailable=True) from exc
        return [(msg_id, json.loads(data)) for msg_id, data in rows]

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class TableInbox:
    """The inbox as a table of the database (PostgreSQL)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._insert = postgresql.insert(TABLE).on_conflict_do_nothing(
            index_elements=["msg_id"])
        self._delete = delete(TABLE).where(TABLE.c.msg_id == bindparam("msg_id"))
        self._recorder = Recorder(self)

    async def write(self, msg_id: str, data: dict[str, Any]) -> None:
        """Record one message, with whatever else is waiting, on the writer thread."""
        await self._recorder.record(msg_id, data)

    def record(self, messages: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Write these (msgId, data) down in one transaction; a msgId already there is left as
        it is. Raises StorageError."""
        now = datetime.now(UTC)
        self.db.run(self._insert, [  # type: ignore[arg-type]  (executemany)
            {"msg_id": msg_id, "data": data, "received_at": now} for msg_id, data in messages])

    def done_in(self, session: Session, msg_id: str) -> bool:
        """Forget a message, in the transaction that handled it."""
        session.execute(self._delete, {"msg_id": msg_id})
        return True

    def done(self, msg_id: str) -> None:
        """Forget a message in a transaction of its own (nothing was written for it)."""
        try:
            self.db.run(self._delete, {"msg_id": msg_id})
        except StorageError:
            _gone(msg_id)

    def pending(self) -> list[tuple[str, dict[str, Any]]]:
        """(msgId, data) of the messages recorded but not handled, oldest first."""
        with self.db.session() as session:
            rows = session.execute(select(TABLE.c.msg_id, TABLE.c.data).order_by(TABLE.c.id))
            return [(msg_id, data) for msg_id, data in rows]

    def close(self) -> None:
        self._recorder.shutdown()


class Recorder:
    """Records messages on one thread of its own, as many as are waiting in one transaction;
    `record` is awaited on the event loop and raises StorageError when the write failed."""

    def __init__(self, inbox: TableInbox) -> None:
        self.inbox = inbox
        self._lock = threading.Lock()
        self._waiting: list[tuple[str, dict[str, Any], asyncio.Future[None]]] = []
        self._writing = False
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="dingtalk-inbox")

    async def record(self, msg_id: str, data: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            self._waiting.append((msg_id, data, future))
            start, self._writing = not self._writing, True
        if start:
            self._thread.submit(self._write, loop)
        await future

    def _write(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            with self._lock:
                batch, self._waiting = self._waiting, []
                if not batch:
                    self._writing = False
                    return
            error: BaseException | None = None
            try:
                self.inbox.record([(msg_id, data) for msg_id, data, _ in batch])
            except Exception as exc:  # StorageError, or a bug: either way, not recorded
                error = exc
            try:
                loop.call_soon_threadsafe(_settle, [f for _, _, f in batch], error)
            except RuntimeError:
                return  # the loop is closed: nobody waits any more

    def shutdown(self) -> None:
        self._thread.shutdown(wait=True)


def _settle(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for future in futures:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
