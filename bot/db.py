"""The database: engine, sessions that commit whole or not at all, and migrations."""

from __future__ import annotations

import ast
import logging
import re
import select
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from functools import lru_cache
from importlib import import_module
from importlib.resources import files
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    InvalidatePoolError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import configure_mappers, make_transient_to_detached
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlmodel import Session, SQLModel, create_engine

from bot import metrics
from bot.cache import Cache
from bot.cache import snapshot as cache_snapshot
from bot.errors import LiaisonError, StorageError

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)
M = TypeVar("M", bound=SQLModel)


BIGRAMS = "liaison_bigrams"


def bigram_tokens(text: str | None) -> str:
    """Every two-character substring of `text`, once each, as a word an FTS5 index can hold
    (the UTF-8 bytes in hex: `退款` -> `e98080e6acbe`), space separated. A two-character word
    occurs in a text exactly when its one token is among these."""
    if not text:
        return ""
    return " ".join(sorted({text[i:i + 2].encode("utf-8").hex()
                            for i in range(len(text) - 1)}))


GRAMS = "liaison_grams"  # PostgreSQL (migration 0018)
PLACE_TOKENS = "liaison_place_tokens"  # SQLite (migration 0018)
# Where a gram was found, as the first letter of an index token.
PLACE_PREFIXES = {"topic": "t", "question": "q", "tags": "g", "search_text": "x"}


def grams(text: str | None) -> list[str]:
    """Every two- and three-character substring of `text`, once each. A word of two characters
    occurs in a text only if it is among them, a longer one only if each of its own
    three-character substrings is (`word_grams`): a test an index answers, nearly exact."""
    if not text:
        return []
    return sorted({text[i:i + n] for n in (2, 3) for i in range(len(text) - n + 1)})


def word_grams(word: str) -> list[str]:
    """The grams of `grams` that every text holding `word` (two characters or more) holds."""
    if len(word) == 2:
        return [word]
    return sorted({word[i:i + 3] for i in range(len(word) - 2)})


def place_token(place: str, language: str, gram: str) -> str:
    """`gram` found in a point's `place` (topic, question, tags, search_text) of a point in
    `language`, as one word an FTS5 index can hold: `tzh` + the UTF-8 in hex."""
    return f"{PLACE_PREFIXES[place]}{language}{gram.encode('utf-8').hex()}"


def place_tokens(language: str | None, topic: str | None, question: str | None,
                 tags: str | None, search_text: str | None) -> str:
    """Every gram of a point's topic, question, tags and folded text, as `place_token`s. The
    ASCII letters lower-cased (and only those), as SQLite's LIKE compares them."""
    values = {"topic": topic, "question": question, "tags": tags, "search_text": search_text}
    return " ".join(
        place_token(place, language or "", gram) for place, value in values.items()
        for gram in grams((value or "").encode("utf-8").lower().decode("utf-8")))


def make_engine(url: str, *, connect_timeout: float = 5.0,
                statement_timeout: float = 10.0) -> Engine:
    """The engine, with bounded waits: a connect timeout, and a statement timeout
    (PostgreSQL's statement_timeout; SQLite's busy timeout, how long a writer waits for the
    lock), so a hung database gives an error in seconds instead of holding threads."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        busy_ms = int(statement_timeout * 1000)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": statement_timeout}
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001
            # We issue BEGIN ourselves (below), so the driver must not.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            if parsed.database not in (None, "", ":memory:"):
                # WAL lets readers go on while one writer commits.
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            cursor.close()
            # For substring indexes over words too short for trigrams (talking points):
            # the triggers that keep such an index call it.
            dbapi_connection.create_function(BIGRAMS, 1, bigram_tokens, deterministic=True)
            dbapi_connection.create_function(PLACE_TOKENS, 5, place_tokens, deterministic=True)

        @event.listens_for(engine, "begin")
        def _begin_immediate(connection) -> None:  # noqa: ANN001
            # A deferred transaction that reads, then writes, fails at once with "database is
            # locked" when another writer got there first; taking the write lock up front makes
            # writers queue on busy_timeout instead. A read-only one (Database.read_session,
            # whose connection refuses writes) is deferred: it takes no write lock.
            # Sent to the driver itself: through exec_driver_sql it cost a fifth of opening,
            # and committing, a session (issue 22). An error leaves as SQLAlchemy's own would
            # (OperationalError: database is locked), for bot.db.unavailable to read.
            sql = ("BEGIN" if connection.get_execution_options().get(READ_ONLY)
                   else "BEGIN IMMEDIATE")
            try:
                connection.connection.driver_connection.execute(sql)
            except sqlite3.Error as exc:
                raise DBAPIError.instance(sql, (), exc, sqlite3.Error,
                                          dialect=connection.dialect) from exc

        _driver_savepoints(engine)
        return engine
    engine = create_engine(
        # The pool's ping is `_ping_when_in_doubt`'s (below), not pool_pre_ping's.
        url, pool_size=10, max_overflow=10,
        pool_timeout=connect_timeout,
        connect_args={
            "connect_timeout": max(1, round(connect_timeout)),
            "options": f"-c statement_timeout={int(statement_timeout * 1000)}",
            # A server whose host dies or is cut off cannot enforce statement_timeout: the
            # client gives up on the silent connection itself (libpq's tcp_user_timeout and
            # keepalives) instead of holding the thread until TCP does, minutes later.
            "tcp_user_timeout": int((statement_timeout + connect_timeout) * 1000),
            "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
            "keepalives_count": 3,
            # psycopg prepares a statement on the server from its sixth run, and PostgreSQL
            # may then keep one generic plan for it: for a talking-point search that plan
            # reads the whole table (81 ms -> 626 ms at 100,000 points). Unprepared, each
            # run is planned for its own values: no statement reaches this many runs, and
            # only those marked PREPARED are prepared (`_execute`, below). (psycopg's None
            # here would refuse to prepare even those.) psycopg's executemany prepares
            # whatever this says: multi-row INSERTs and ORM writes by key, whose plans do not
            # depend on the values.
            "prepare_threshold": 2**62,
        },
    )

    @event.listens_for(engine, "do_execute")
    def _execute(cursor, statement, parameters, context) -> bool:  # noqa: ANN001
        # The few statements run on nearly every message (PREPARED) are prepared once per
        # connection: each run then skips the server's parse and plan (the conversation's
        # read: 0.24 -> 0.15 ms) and the client's reading of the row's description (issue
        # 22). Lookups and writes by a unique key, whose plan does not depend on the values.
        cursor.execute(statement, parameters,
                       prepare=bool(context.execution_options.get(PREPARED)))
        return True

    _driver_savepoints(engine)
    _ping_when_in_doubt(engine)
    return engine


# A PostgreSQL connection given back to the pool in working order less than this long ago, and
# on which nothing arrived since, is handed out again without a ping (`_ping_when_in_doubt`).
PING_AFTER_IDLE = 1.0  # seconds
_SOUND_SINCE = "liaison_sound_since"  # its pool entry's `info` key: when it was last known sound


def _ping_when_in_doubt(engine: Engine, idle: float = PING_AFTER_IDLE) -> None:
    """Pessimistic disconnect handling that pings only a connection in doubt. pool_pre_ping
    pinged on every checkout: a round trip (`;`) in each of a step's five (issue 22), on a
    connection that was, under load, given back a few milliseconds earlier.

    A connection skips the ping when all of these hold: it was given back to the pool (or
    opened) less than `idle` seconds ago; it came back idle, out of any transaction, with the
    driver's link sound (psycopg's transaction status IDLE, read after the pool's reset: a
    statement that failed left it sound if its rollback went through; a lost link reads
    UNKNOWN, and a connection whose reset failed is invalidated and comes back as None); and
    nothing has arrived on its socket since (a `poll` with no wait, no round trip). A server
    that goes away ends its connections with a message and a close (a restart, a stop,
    pg_terminate_backend: FATAL 57P01, then FIN), and a peer the keepalives (make_engine:
    idle 5 s) find dead leaves a socket error: each makes the socket readable, so such a
    connection is pinged, found dead and replaced before anyone uses it, as pool_pre_ping
    did. What this cannot see is a link that broke without a word within `idle` of its last
    use: the first statement on it then fails, and its request with it (StorageError,
    unavailable). pool_pre_ping would have mended one case of that: a peer that answers the
    ping at once with a reset (a server host back at the same address within the second);
    a link that drops silently held its ping as long as it now holds the statement.

    Everything else is pool_pre_ping's: a fresh connection is not pinged; a ping that finds
    the link gone raises InvalidatePoolError, so the pool replaces this connection and every
    other one opened before now (each reconnected on its next checkout), and tries again
    (SQLAlchemy's `_ConnectionFairy._checkout` does the same for its own ping); a ping that
    fails otherwise raises. SQLAlchemy documents a checkout listener as the place for a
    custom ping ("Disconnect Handling - Pessimistic",
    https://docs.sqlalchemy.org/en/20/core/pooling.html#disconnect-handling-pessimistic) and
    that a DisconnectionError raised there makes the pool dispose of the connection and
    check out a fresh one (PoolEvents.checkout,
    https://docs.sqlalchemy.org/en/20/core/events.html#sqlalchemy.events.PoolEvents.checkout).
    """
    dialect = engine.dialect
    from psycopg.pq import TransactionStatus

    sound_status = TransactionStatus.IDLE

    @event.listens_for(engine, "connect")
    def _opened(_dbapi_connection, record) -> None:  # noqa: ANN001
        record.info[_SOUND_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection, record) -> None:  # noqa: ANN001
        if dbapi_connection is None:  # invalidated: the pool opens a new one
            return
        if dbapi_connection.info.transaction_status == sound_status:
            record.info[_SOUND_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection, record, _proxy) -> None:  # noqa: ANN001
        since = record.info.pop(_SOUND_SINCE, None)
        if since is not None and time.monotonic() - since < idle and _quiet(dbapi_connection):
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_connection, None):
                raise InvalidatePoolError(f"ping failed: {exc}") from exc
            raise


def _quiet(dbapi_connection) -> bool:  # noqa: ANN001
    """Whether nothing is waiting to be read on an idle connection's socket (no message from
    the server, no end of stream, no error): polled without waiting."""
    try:
        poller = select.poll()
        poller.register(dbapi_connection.fileno(), select.POLLIN)
        return not poller.poll(0)
    except (OSError, ValueError, dbapi_connection.Error):  # closed: ping (and fail) to know
        return False


def _driver_savepoints(engine: Engine) -> None:
    """SAVEPOINT, RELEASE and ROLLBACK TO sent to the driver itself, for this engine's dialect
    only. SQLAlchemy's own (`DefaultDialect.do_savepoint`) compile a new clause and run it
    through the whole execution path each time: a `begin_nested` that was released cost
    about 0.23 ms, a quarter of a confirming step, against microseconds for the statements
    (issue 22). Connection events for savepoints still fire (SQLAlchemy's Connection calls
    them before these); the names are SQLAlchemy's own (`sa_savepoint_<n>`), never user text.
    An error leaves as SQLAlchemy's would (DBAPIError, a lost connection invalidated)."""
    dialect = engine.dialect

    def send(connection: Connection, sql: str) -> None:
        raw = connection.connection.driver_connection
        try:
            raw.execute(sql)
        except dialect.loaded_dbapi.Error as exc:
            lost = dialect.is_disconnect(exc, raw, None)
            if lost:
                connection.invalidate(exc)
            raise DBAPIError.instance(sql, (), exc, dialect.loaded_dbapi.Error,
                                      dialect=dialect, connection_invalidated=lost) from exc

    quote = dialect.identifier_preparer.quote
    dialect.do_savepoint = lambda connection, name: send(connection, f"SAVEPOINT {quote(name)}")
    dialect.do_release_savepoint = lambda connection, name: send(
        connection, f"RELEASE SAVEPOINT {quote(name)}")
    dialect.do_rollback_to_savepoint = lambda connection, name: send(
        connection, f"ROLLBACK TO SAVEPOINT {quote(name)}")


# Execution option: run this statement as a prepared one on PostgreSQL (see `make_engine`).
PREPARED = "liaison_prepared"
# How long `Database.dispose` waits for a session on the kept SQLite connection to end.
DISPOSE_WAIT = 5.0  # seconds

# Execution option of Database.read_session's connections on SQLite: a deferred BEGIN.
READ_ONLY = "liaison_read_only"


def dialect_insert(dialect: str):  # noqa: ANN201
    """The dialect's own INSERT, the one with ON CONFLICT (`sqlalchemy.dialects.<name>`), with
    only that dialect's module imported: PostgreSQL's is a tenth of a second of start-up on
    SQLite, where nothing else loads it."""
    return import_module(f"sqlalchemy.dialects.{dialect}").insert


class Direct:
    """A Core statement for the few run on (nearly) every message: the conversation's read
    and write, the inbound event's id, the audit entry, a sender the members cache does not
    hold. Run on the driver's own cursor on the session's connection: compiled once per
    dialect, its parameters and columns converted by the column types' own processors, as
    SQLAlchemy's execution converts them; that execution cost eight times the driver's call
    around it (issue 22: 40 µs against 5 for the conversation's read on SQLite). Driver
    errors leave as SQLAlchemy's (DBAPIError), a lost connection invalidated, as they would.
    Prepared on PostgreSQL (PREPARED) unless `prepare` is False (a statement whose best plan
    depends on its values: the talking-point search's). No statement events (nothing
    listens to these), and every parameter is given: a statement needing a column default
    computed in Python, or parameters SQLAlchemy expands, is refused. No autoflush either:
    a caller that must see its session's unflushed changes flushes first.

    `column_keys`: the columns an INSERT or UPDATE sets (SQLAlchemy infers them from the
    parameters of each execution; here they are fixed). A textual statement without declared
    columns (`text()` without `.columns()`) gives the driver's rows, tuples, as they are.

    Several statements can go out in one psycopg pipeline (`pipelined`)."""

    def __init__(self, statement, column_keys: list[str] | None = None, *,  # noqa: ANN001
                 prepare: bool = True) -> None:
        self.statement = statement
        self.column_keys = column_keys
        self.prepare = prepare
        self._forms: dict[str, tuple] = {}

    def _form(self, dialect) -> tuple:  # noqa: ANN001
        found = self._forms.get(dialect.name)
        if found is None:
            compiled = self.statement.compile(dialect=dialect, column_keys=self.column_keys)
            if (compiled.post_compile_params or compiled.escaped_bind_names
                    or compiled.insert_prefetch or compiled.update_prefetch):
                raise NotImplementedError(
                    "Direct runs statements whose parameters are given as they are: none that "
                    "SQLAlchemy expands or escapes, no column default computed in Python")
            names = list(compiled.positiontup) if dialect.positional else list(compiled.binds)
            binds = [(name, compiled.binds[name].type._cached_bind_processor(dialect))
                     for name in names]
            # A SELECT's columns, or those an INSERT or UPDATE returns (None: the driver's
            # rows as they are).
            columns = getattr(self.statement, "exported_columns", None)
            columns = None if columns is None else tuple(columns)
            found = self._forms[dialect.name] = (str(compiled), binds, columns, {})
        return found

    def rows(self, connection, params: dict) -> list[dict]:  # noqa: ANN001
        """The rows, each a dict by column key (a SELECT, or what a statement returns)."""
        return self._run(connection, params, fetch=True)

    def run(self, connection, params: dict) -> int:  # noqa: ANN001
        """Run it; the rows it changed (an INSERT, UPDATE or DELETE)."""
        return self._run(connection, params, fetch=False)

    def _args(self, dialect, params: dict) -> tuple:  # noqa: ANN001
        sql, binds, columns, results = self._form(dialect)
        if dialect.positional:
            args = tuple(params[name] if process is None else process(params[name])
                         for name, process in binds)
        else:
            args = {name: params[name] if process is None else process(params[name])
                    for name, process in binds}
        return sql, args, columns, results

    def _run(self, connection, params: dict, fetch: bool) -> list[dict] | int:  # noqa: ANN001
        dialect = connection.dialect
        sql, args, columns, results = self._args(dialect, params)
        raw = connection.connection.driver_connection
        cursor = None
        try:
            cursor = raw.cursor()
            if dialect.name == "postgresql":
                cursor.execute(sql, args, prepare=self.prepare)
            else:
                cursor.execute(sql, args)
            if not fetch:
                return cursor.rowcount
            return _fetched(cursor, dialect, columns, results)
        except dialect.loaded_dbapi.Error as exc:
            raise _driver_error(connection, exc, cursor, sql, args) from exc
        finally:
            if cursor is not None:
                cursor.close()

    @staticmethod
    def pipelined(connection, batch: list[tuple[Direct, dict]], *,  # noqa: ANN001
                  before: tuple[str, ...] = (), after: tuple[str, ...] = ()) -> list[list]:
        """PostgreSQL (psycopg): the rows of each (statement, parameters) of `batch`, as
        `rows` gives them, all sent in one pipeline (one Sync: one round trip instead of one
        each), in order, in the connection's transaction; the SQL of `before` (and `after`)
        sent first (and last), without parameters: a SET LOCAL for these statements and
        one putting it back. An error leaves as `rows`'s would; the transaction is then
        aborted (the statements after the failed one were not run, `after` neither), for
        the caller's rollback, as after a failed statement run alone."""
        dialect = connection.dialect
        sent = [(direct, *direct._args(dialect, params)) for direct, params in batch]
        raw = connection.connection.driver_connection
        try:
            cursors = []
            with raw.pipeline():
                for setting in before:
                    raw.execute(setting)
                for direct, sql, args, columns, results in sent:
                    cursors.append((raw.execute(sql, args, prepare=direct.prepare), columns,
                                    results))
                for setting in after:
                    raw.execute(setting)
            return [_fetched(cursor, dialect, columns, results)
                    for cursor, columns, results in cursors]
        except dialect.loaded_dbapi.Error as exc:
            # (Which statement failed, the driver does not say: the first one is named.)
            raise _driver_error(connection, exc, None, sent[0][1], sent[0][2]) from exc


def _fetched(cursor, dialect, columns: tuple | None, results: dict) -> list:  # noqa: ANN001
    """A Direct statement's rows from its cursor: dicts by column key, the values converted by
    the columns' types (or, without declared columns, the driver's rows)."""
    found = cursor.fetchall()
    if columns is None:
        return found
    if found and not results:
        # Built whole, then published in one step: another thread running this
        # statement for the first time must not read a half-filled dict (rows with
        # columns missing).
        results.update({column.key: (position, column.type._cached_result_processor(
            dialect, cursor.description[position][1]))
            for position, column in enumerate(columns)})
    return [{key: row[i] if process is None else process(row[i])
             for key, (i, process) in results.items()} for row in found]


def _driver_error(connection, exc: Exception, cursor, sql: str, args) -> DBAPIError:  # noqa: ANN001
    """A driver's error as SQLAlchemy's execution raises it: a lost connection invalidated."""
    dialect = connection.dialect
    lost = dialect.is_disconnect(exc, connection.connection.driver_connection, cursor)
    if lost:
        connection.invalidate(exc)
    return DBAPIError.instance(sql, args, exc, dialect.loaded_dbapi.Error, dialect=dialect,
                               connection_invalidated=lost)


def unavailable(exc: BaseException) -> bool:
    """The database could not be reached or did not answer in time, as opposed to refusing
    a statement (a duplicate key, a bug)."""
    if isinstance(exc, DisconnectionError | InterfaceError | PoolTimeout):
        return True
    if isinstance(exc, OperationalError):
        if getattr(exc, "connection_invalidated", False):
            return True
        message = str(exc.orig).lower()
        if "sqlite" in type(exc.orig).__module__:
            return "locked" in message or "busy" in message or "unable to open" in message
        return True  # PostgreSQL: connection failures, timeouts, shutdown
    return False


def loaded(model: type[M], values: dict) -> M:
    """A detached `model` holding `values` (every column) as loaded ones, built as the ORM
    builds a row it reads: for rows read or written with Core statements. A fifth of the
    cost of `model(**values)`, which runs the model's constructor (issue 22)."""
    if not model.__mapper__.configured:  # no ORM query has run in this process yet
        configure_mappers()
    row = manager_of_class(model).new_instance()
    row.__dict__.update(values)
    make_transient_to_detached(row)
    return row


def attached(session: Session, model: type[M], values: dict) -> M:
    """A row read with Core (`values`, every column, its key `id`), as an ORM query in
    `session` would give it: the session's own copy when it holds the row (with whatever
    change it has), else the row built as loaded (`loaded`) and joined to the session, clean:
    nothing to flush."""
    held = session.identity_map
    present = held.get(session.identity_key(model, values["id"])) if held else None
    if present is not None:
        return present
    row = loaded(model, values)
    session.add(row)
    return row


def fresh(model: type[M], values: dict) -> M:
    """A new (transient) `model` holding `values`, every column but a generated key given,
    built without the model's constructor: for rows the caller writes with Core statements
    (the conversation engine). The constructor validates nothing for a table model, and
    cost 67 µs of a starting step, against 4 (issue 22)."""
    row = manager_of_class(model).new_instance()
    row.__dict__.update(values)
    return row


class _Session(Session):
    """The project's sessions: a flush notes that the transaction wrote (for StorageError's
    `wrote`). One listener for the class, not one registered per session (0.5 ms each)."""


@event.listens_for(_Session, "before_flush")
def _note_write(session: Session, _context: object, _instances: object) -> None:
    session.info["wrote"] = True


class Database:
    """Owns the engine. `session()` commits on success and rolls the whole change back on any
    error; driver errors leave as StorageError."""

    def __init__(self, url: str, *, connect_timeout: float = 5.0,
                 statement_timeout: float = 10.0) -> None:
        self.url = url
        self.engine = make_engine(url, connect_timeout=connect_timeout,
                                  statement_timeout=statement_timeout)
        # Called with a due time after a commit that planned a reminder (the scheduler).
        self.wakers: list[Callable[[datetime], None]] = []
        # Called with a domain job's name after a commit that asked for it to run now.
        self.job_wakers: list[Callable[[str], None]] = []
        # SQLite has one writer at a time, and its busy handler waits in sleeps of up to
        # 100 ms; queueing this process's threads on a lock instead turns that tail latency
        # into a short, fair wait. Other processes still queue on busy_timeout.
        self._sqlite_lock = threading.RLock() if self.dialect == "sqlite" else nullcontext()
        # A SQLite file is in WAL mode (make_engine), where a reader and the writer do not wait
        # for each other: read_session takes no lock there.
        self._wal = self.dialect == "sqlite" and make_url(url).database not in (
            None, "", ":memory:")
        self._reader = self.engine.execution_options(**{READ_ONLY: True})
        # SQLite file: one connection kept checked out for the holder of the process's lock
        # (`_connected`), which every session and write here holds anyway: taking a pool
        # connection and giving it back, and SQLAlchemy's Connection around it, were a third
        # of a read-only message's transaction (issue 22: 48 -> 32 us a session). Closed by
        # `dispose`, or when the Database is collected or the process ends (`_close_kept`).
        self._kept: Connection | None = None
        self._kept_busy = False  # in use (a session opened inside another takes the pool's)
        self._kept_finalizer: weakref.finalize | None = None
        self._away = False  # the last attempt found the database unreachable (logged once)
        self._caches: dict[str, Cache] = {}  # bot/cache.py: rows read on every message

    def cached(self, name: str, watches: tuple[type, ...], keys_of=None) -> Cache:  # noqa: ANN001
        """This database's cache `name` (made on first use; see bot/cache.py)."""
        found = self._caches.get(name)
        if found is None:
            found = self._caches.setdefault(name, Cache(watches, keys_of))
        return found

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        if not self._wal:
            with self._sqlite_lock:
                yield from self._session()
            return
        with self._sqlite_lock, self._connected(wrote=False) as connection:
            yield from self._session(connection)

    @contextmanager
    def _connected(self, *, wrote: bool) -> Iterator[Connection]:
        """A SQLite file's connection for the holder of the process's lock (held by the
        caller): the kept one, opened on first use, or, inside a block that uses it already
        (a session opened in another), one from the pool. The kept one is closed, and the next
        use opens another, after an error in the block, when it is still in a transaction or
        invalidated, and when `engine` was replaced. Failing to open one raises StorageError
        (`wrote`)."""
        if self._kept_busy:
            try:
                pooled = self.engine.connect()
            except SQLAlchemyError as exc:
                raise self._failed(exc, wrote=wrote) from exc
            with pooled:
                yield pooled
            return
        kept = self._kept
        if kept is None or kept.closed or kept.invalidated or kept.engine is not self.engine:
            if kept is not None:
                self._drop_kept()
            try:
                kept = self.engine.connect()
            except SQLAlchemyError as exc:
                raise self._failed(exc, wrote=wrote) from exc
            self._kept = kept
            self._kept_finalizer = weakref.finalize(self, _close_kept, kept)
        self._kept_busy = True
        failed = True
        try:
            yield kept
            failed = False
        finally:
            self._kept_busy = False
            # Kept only when the block ended cleanly and the driver itself is out of any
            # transaction. After an error (a COMMIT that SQLite refused and left open, a BEGIN
            # that failed half-way, an interrupt) SQLAlchemy's view of the connection may
            # differ from SQLite's: closed, it goes back to the pool, whose rollback ends
            # whatever is open, and the next use opens another.
            if (failed or kept.invalidated or kept.in_transaction()
                    or _driver_in_transaction(kept)):
                self._drop_kept()

    def _drop_kept(self) -> None:
        """Close the kept connection, and forget its finalizer (which held it, and its
        engine, for as long as this Database lives)."""
        kept, self._kept = self._kept, None
        if self._kept_finalizer is not None:
            self._kept_finalizer.detach()
            self._kept_finalizer = None
        if kept is not None:
            _close_kept(kept)

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session for reading only (the sweep's read of the reminders it renders). On a
        SQLite file it takes neither the process's write lock nor SQLite's: a deferred
        transaction reads one snapshot while this process's writers go on, instead of holding
        them (Slack acks) for as long as it reads (WAL: a reader and the writer do not wait
        for each other). Its connection refuses writes meanwhile (PRAGMA query_only), so a
        write in it fails at once, as StorageError, rather than taking SQLite's lock outside
        the process's queue. Elsewhere (PostgreSQL, an in-memory SQLite) it is `session()`."""
        if not self._wal:
            with self.session() as session:
                yield session
            return
        try:
            connection = self._reader.connect()
        except SQLAlchemyError as exc:
            raise self._failed(exc, wrote=False) from exc
        with connection, cache_snapshot():
            raw = connection.connection.driver_connection
            raw.execute("PRAGMA query_only = ON")
            try:
                yield from self._session(connection)
            finally:
                try:
                    raw.execute("PRAGMA query_only = OFF")
                except sqlite3.Error:
                    # Not back to the pool as a read-only connection: a new one replaces it.
                    connection.invalidate()

    def _session(self, bind: Engine | Connection | None = None) -> Iterator[Session]:
        session = _Session(bind if bind is not None else self.engine, expire_on_commit=False)
        session.info["database"] = self
        try:
            yield session
            session.commit()
            if self._away:
                self._away = False
                log.warning("database reachable again")
            # Work that must wait until the change is durable (waking the reminder scheduler).
            for callback in session.info.pop("after_commit", []):
                callback()
        except SQLAlchemyError as exc:
            wrote = bool(session.info.get("wrote") or session.new or session.dirty
                         or session.deleted)
            try:
                session.rollback()
            except SQLAlchemyError:
                pass  # the connection is gone; nothing was committed
            raise self._failed(exc, wrote) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def _failed(self, exc: SQLAlchemyError, wrote: bool) -> StorageError:
        down = unavailable(exc)
        metrics.database_error(down)
        if down:
            # One line when it goes away, not a traceback per request while it is away.
            if not self._away:
                log.warning("database unavailable: %s", _first_line(exc))
            self._away = True
        else:
            log.exception("database error, change rolled back", exc_info=exc)
        return StorageError(exc.__class__.__name__, unavailable=down, wrote=wrote)

    def run(self, statement, params: dict | None = None, *,  # noqa: ANN001
            connection: Connection | None = None) -> int:
        """One Core statement (or a Direct one) in a transaction of its own, without an ORM
        session (cheaper, for a statement run before every request); its row count. Errors as
        in `session`.
        `connection`: one that the caller keeps for many such statements (the sweep's marks),
        rather than one taken from the pool and given back each time; its errors leave as
        SQLAlchemy's, neither logged nor counted: that caller retries on a fresh connection,
        which reports its own."""
        with self._sqlite_lock:
            try:
                with (nullcontext(connection) if connection is not None
                      else self._connection(wrote=True)) as conn, conn.begin():
                    count = (statement.run(conn, params or {}) if isinstance(statement, Direct)
                             else conn.execute(statement, params or {}).rowcount)
            except SQLAlchemyError as exc:
                if connection is not None:
                    raise
                raise self._failed(exc, wrote=True) from exc
        if self._away:
            self._away = False
            log.warning("database reachable again")
        return count

    def _connection(self, *, wrote: bool) -> AbstractContextManager[Connection]:
        """A connection for one statement's use by the holder of the process's lock: the kept
        one on a SQLite file (`_connected`), else one from the pool."""
        return self._connected(wrote=wrote) if self._wal else self.engine.connect()

    def write_lock(self) -> AbstractContextManager[Any]:
        """The process's SQLite write lock, which every write here holds (a no-op context on
        PostgreSQL): for a statement run in the driver's autocommit on a connection of the
        caller's own (the sweep's marks)."""
        return self._sqlite_lock

    def autocommit_rows(self, statement: Direct, params: dict) -> list[dict]:
        """One Direct statement that commits by itself, with no BEGIN and COMMIT around it:
        the rows it returns (the Slack guard's replay record, before every command: the
        transaction around it and SQLAlchemy's execution were half its cost). SQLite: the
        driver is in autocommit mode (`_sqlite_pragmas`: BEGIN is issued by the engine, and
        not here), so the statement is its own transaction. PostgreSQL: the connection is in
        autocommit for this statement (SQLAlchemy resets it when the connection goes back to
        the pool). Errors as in `run`: logged (once while the database is away), counted, and
        raised as StorageError."""
        with self._sqlite_lock:
            try:
                with self._connection(wrote=True) as conn:
                    if conn.dialect.name != "sqlite":
                        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                    rows = statement.rows(conn, params)
            except SQLAlchemyError as exc:
                raise self._failed(exc, wrote=True) from exc
        if self._away:
            self._away = False
            log.warning("database reachable again")
        return rows

    def ready(self) -> bool:
        """Whether the database answers a trivial query now (for /readyz)."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError as exc:
            if not self._away:
                log.warning("readiness check: database unavailable: %s", _first_line(exc))
            self._away = True
            return False

    @staticmethod
    def after_commit(session: Session, callback: Callable[[], None]) -> None:
        session.info.setdefault("after_commit", []).append(callback)

    def upgrade(self) -> None:
        upgrade(self.url, engine=self.engine)

    def dispose(self) -> None:
        # The kept connection is closed by the lock's holder, once any session on it ended;
        # a session that holds the lock longer than this (a stuck call) keeps it until the
        # process ends (`_close_kept`'s finalizer), rather than holding up the shutdown.
        if self._wal and self._sqlite_lock.acquire(timeout=DISPOSE_WAIT):
            try:
                self._drop_kept()
            finally:
                self._sqlite_lock.release()
        self.engine.dispose()


def _driver_in_transaction(connection: Connection) -> bool:
    """Whether SQLite itself has a transaction open on this connection (sqlite3's own flag;
    SQLAlchemy's can say otherwise after a failed COMMIT)."""
    try:
        return bool(connection.connection.driver_connection.in_transaction)
    except (SQLAlchemyError, AttributeError):
        return True  # cannot tell: not kept


def _close_kept(connection: Connection) -> None:
    """Close a kept connection (back to its pool, or discarded once invalidated); a second
    close, or one whose database is gone, does nothing."""
    try:
        connection.close()
    except SQLAlchemyError:
        pass


def first_line(exc: BaseException) -> str:
    """The first line of what the driver said, fit for one log or answer line."""
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0] if lines else ""


def _first_line(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {first_line(exc)}"


def safe_url(url: str) -> str:
    """A database URL fit to show: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(files("bot") / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@lru_cache(maxsize=1)
def script_heads() -> frozenset[str]:
    """The head revisions of the migration scripts, read from their `revision` and
    `down_revision` lines without importing Alembic (whose import is a third of start-up)."""
    revisions: set[str] = set()
    below: set[str] = set()
    for path in (files("bot") / "migrations" / "versions").iterdir():
        if not path.name.endswith(".py") or path.name.startswith("__"):
            continue
        for node in _revision_statements(path.read_text(encoding="utf-8")):
            if isinstance(node, ast.AnnAssign | ast.Assign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = {t.id for t in targets if isinstance(t, ast.Name)}
                value = ast.literal_eval(node.value) if names & {
                    "revision", "down_revision"} else None
                if "revision" in names:
                    revisions.add(value)
                elif "down_revision" in names and value:
                    below.update([value] if isinstance(value, str) else value)
    return frozenset(revisions - below)


_REVISION_LINE = re.compile(r"^(?:down_)?revision\s*[:=]", re.MULTILINE)


def _revision_statements(source: str) -> Iterator[ast.stmt]:
    """The top-level statements of a migration that start with `revision` or `down_revision`,
    each parsed alone (parsing the whole file, upgrade and downgrade included, was most of
    the schema check at start-up): from its first line to the first line it ends on."""
    lines = source.splitlines()
    for match in _REVISION_LINE.finditer(source):
        first = source.count("\n", 0, match.start())
        for last in range(first + 1, len(lines) + 1):
            try:
                body = ast.parse("\n".join(lines[first:last])).body
            except SyntaxError:
                continue  # a statement over several lines: read one more
            yield from body[:1]
            break


def is_current(engine: Engine) -> bool:
    """Whether the database is at every head already (then there is nothing to migrate)."""
    try:
        with engine.connect() as connection:
            stamped = {row[0] for row in connection.execute(
                text("SELECT version_num FROM alembic_version"))}
    except SQLAlchemyError:
        return False  # no schema yet, or unreadable: Alembic decides
    return bool(stamped) and stamped == set(script_heads())


def upgrade(url: str, engine: Engine | None = None) -> None:
    """Bring the schema to the newest revision of every branch (domains add their own)."""
    if engine is not None and is_current(engine):
        return
    from alembic import command

    config = alembic_config(url)
    try:
        if engine is not None:
            with engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    # The bot's per-statement limit is for chat, not for building an index over
                    # a filled table; for this transaction only. Waiting for a table's lock
                    # stays limited: a replica's long transaction would otherwise hold the
                    # start, and every write queued behind the migration's lock with it.
                    connection.exec_driver_sql(
                        "SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = '10s'")
                config.attributes["connection"] = connection
                command.upgrade(config, "heads")
        else:
            command.upgrade(config, "heads")
    except SQLAlchemyError as exc:
        raise StorageError(f"migration failed: {exc.__class__.__name__}: {exc}") from exc


__all__ = ["Database", "LiaisonError", "upgrade", "alembic_config"]
