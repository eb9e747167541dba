"""The DingTalk inbox: robot messages written down before DingTalk gets their ACK.

DingTalk does not send an acknowledged message again, so a message is acknowledged only once it
is recorded here (one insert, de-duplicated by msgId: DingTalk redelivers what was not
acknowledged) or, when that fails, once it has been handled. A message leaves the inbox in the
transaction that answers it. What is left (a crash, or the database went away while answering)
is claimed by `claim` once it is older than a grace period, at start and periodically while
running (the adapter decides which of these it still answers). Handling a message twice is
harmless: the core's inbound-event table answers it once.

The inbox is the `dingtalk_inbox` table (migration 0019_dingtalk_inbox) of the database, on
SQLite as on PostgreSQL: one database, which its backups and copies cover, and any replica finds
what another left. Messages arriving together are written in one transaction by one writer
thread (`Recorder`), off the event loop. Each commit waits for what the database needs to make
it durable, which the ACK cannot skip: PostgreSQL's WAL flush; on SQLite, the write lock, which a
conversation step holds for its whole transaction (the insert waits for the step in progress;
bench/dingtalk.py gives the ACK's cost).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, or_, select, update
from sqlmodel import Session

from bot.db import Database, Direct, dialect_insert
from bot.errors import StorageError
from bot.models import DingTalkInbox

log = logging.getLogger(__name__)

TABLE = DingTalkInbox.__table__


class TableInbox:
    """The inbox: the dingtalk_inbox table of the database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._insert = dialect_insert(db.dialect)(TABLE).on_conflict_do_nothing(
            index_elements=["msg_id"])
        # The insert of one message and the delete, run for every message, on the driver's own
        # cursor (bot.db.Direct; SQLAlchemy's execution was most of their CPU, issue 22). One
        # message is inserted by a statement that commits by itself (Database.autocommit_rows:
        # no BEGIN and COMMIT around it, as durable), which returns its id (or nothing when
        # the msgId is there already).
        self._insert_one = Direct(self._insert.returning(TABLE.c.id),
                                  ["msg_id", "data", "received_at"])
        self._delete = Direct(delete(TABLE).where(TABLE.c.msg_id == bindparam("msg_id")))
        self._recorder = Recorder(self)

    async def write(self, msg_id: str, data: dict[str, Any]) -> None:
        """Record one message, with whatever else is waiting, on the writer thread."""
        await self._recorder.record(msg_id, data)

    def record(self, messages: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Write these (msgId, data) down in one transaction; a msgId already there is left as
        it is. Raises StorageError."""
        now = datetime.now(UTC)
        rows = [{"msg_id": msg_id, "data": data, "received_at": now} for msg_id, data in messages]
        if len(rows) == 1:
            self.db.autocommit_rows(self._insert_one, rows[0])
        else:
            self.db.run(self._insert, rows)  # type: ignore[arg-type]  (executemany)

    def done_in(self, session: Session, msg_id: str) -> None:
        """Forget a message, in the transaction that handled it."""
        self._delete.run(session.connection(), {"msg_id": msg_id})

    def done(self, msg_id: str) -> bool:
        """Forget a message in a transaction of its own (nothing was written for it); False
        when the database could not be reached."""
        try:
            self.db.run(self._delete, {"msg_id": msg_id})
        except StorageError:
            log.warning("DingTalk message %s stays in the inbox until the database is back",
                        msg_id)
            return False
        return True

    def claim(self, now: datetime, grace: timedelta,
              limit: int = 500) -> list[tuple[str, dict[str, Any], datetime]]:
        """(msgId, data, received_at) of the messages recorded at least `grace` before `now`
        and not handled, oldest first, claimed for this process: their claimed_at becomes
        `now` (received_at stays the time they were recorded, from which their age counts),
        so another replica (or this one's next round) leaves them alone for another grace
        period, and takes them again only if they are still there then (this process died).
        On PostgreSQL the rows are locked FOR UPDATE SKIP LOCKED in the claiming transaction,
        so two replicas claiming at once never take the same row; SQLite has one writer at a
        time anyway. Raises StorageError."""
        with self.db.session() as session:
            rows = session.execute(
                select(TABLE.c.id, TABLE.c.msg_id, TABLE.c.data, TABLE.c.received_at)
                .where(TABLE.c.received_at <= now - grace,
                       or_(TABLE.c.claimed_at.is_(None), TABLE.c.claimed_at <= now - grace))
                .order_by(TABLE.c.id).limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            if rows:
                session.execute(update(TABLE).where(TABLE.c.id.in_([row.id for row in rows]))
                                .values(claimed_at=now))
            return [(row.msg_id, row.data, row.received_at) for row in rows]

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
            try:
                self._thread.submit(self._write, loop)
            except BaseException as exc:  # shut down (close()): nobody will write these
                self._give_up([], exc)
        await future

    def _write(self, loop: asyncio.AbstractEventLoop) -> None:
        batch: list[tuple[str, dict[str, Any], asyncio.Future[None]]] = []
        try:
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
                futures, batch = [f for _, _, f in batch], []
                loop.call_soon_threadsafe(_settle, futures, error)
        except BaseException as exc:
            # Whatever went wrong (the loop closed, or worse), the next record() starts a
            # writer again and nobody waits for a batch that will not come.
            self._give_up(batch, exc)
            if not isinstance(exc, Exception):
                raise

    def _give_up(self, batch: list[tuple[str, dict[str, Any], asyncio.Future[None]]],
                 error: BaseException) -> None:
        """No writer any more: the next record() starts one; everything waiting fails with
        `error` (on its own loop, if that still runs)."""
        with self._lock:
            batch, self._waiting = batch + self._waiting, []
            self._writing = False
        for _, _, future in batch:
            try:
                future.get_loop().call_soon_threadsafe(_settle, [future], error)
            except RuntimeError:
                pass  # that loop is closed: nobody waits there any more

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
