"""A SQLite file's kept connection (bot.db `Database._connected`): every session and write of
the process's lock holder uses one connection, kept checked out. What a pool connection each
gave them still holds: a session inside another is not part of its transaction, a locked
database fails a write once, and nothing stays open after `dispose`."""

from __future__ import annotations

import gc
import os
import sqlite3
import weakref
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, text
from sqlmodel import select

from bot.adapters.http_guard import SlackHttpGuard
from bot.db import Database
from bot.errors import StorageError
from bot.models import Member


@pytest.fixture
def sqlite_file(db_url) -> Path:  # noqa: ANN001
    if not db_url.startswith("sqlite"):
        pytest.skip("the kept connection is a SQLite file's")
    return Path(db_url.removeprefix("sqlite:///"))


def _member(user: str) -> Member:
    return Member(platform="console", user_id=user, display_name=user,
                  created_at=datetime.now(UTC))


def _users(db: Database) -> set[str]:
    with db.session() as session:
        return set(session.exec(select(Member.user_id)).all())


def test_a_session_inside_another_is_not_part_of_its_transaction(sqlite_file) -> None:  # noqa: ANN001
    """As with a connection from the pool each: the inner session cannot join the outer one's
    transaction (seeing, or committing, its change), it waits for SQLite's lock and fails."""
    db = Database(f"sqlite:///{sqlite_file}", statement_timeout=0.05)
    try:
        with pytest.raises(RuntimeError), db.session() as outer:
            outer.add(_member("outer"))
            outer.flush()  # written in the outer transaction, not committed
            with pytest.raises(StorageError), db.session() as inner:
                inner.exec(select(Member).where(Member.user_id == "outer")).first()
            raise RuntimeError("the outer change fails after the inner session ended")
        assert "outer" not in _users(db)
        with db.session() as outer, db.session() as inner:  # the outer one has not begun
            inner.add(_member("inner"))
        assert _users(db) == {"inner"}
    finally:
        db.dispose()


def test_a_locked_database_fails_the_replay_record_once_and_then_it_works(sqlite_file) -> None:  # noqa: ANN001
    """The earlier kept connection's fault (issue 22): a locked database cost two busy
    timeouts, the INSERT tried again on a fresh connection. Every connection's statements
    are counted: one INSERT while another process holds the write lock."""
    db = Database(f"sqlite:///{sqlite_file}", statement_timeout=0.05)
    sent: list[str] = []
    event.listen(db.engine, "connect",
                 lambda dbapi, _record: dbapi.set_trace_callback(sent.append))
    guard = SlackHttpGuard(lambda _environ, _start: [], db, "secret")
    other = sqlite3.connect(sqlite_file, isolation_level=None)
    try:
        assert guard._replayed("v0=first") is False
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        sent.clear()
        # Not refused (the request goes on, Bolt's timestamp check still applies), and the
        # INSERT was tried once.
        assert guard._replayed("v0=second") is False
        assert [s.split()[0] for s in sent] == ["INSERT"]
        other.execute("ROLLBACK")
        assert guard._replayed("v0=third") is False
        assert guard._replayed("v0=third") is True  # remembered: a replay is refused
    finally:
        other.close()
        db.dispose()


def _open_files(path: Path) -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(path)):
            found.append(target)
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads /proc/self/fd (Linux)")
def test_nothing_stays_open_after_dispose(sqlite_file) -> None:  # noqa: ANN001
    db = Database(f"sqlite:///{sqlite_file}")
    with db.session() as session:
        session.add(_member("someone"))
    assert _open_files(sqlite_file)
    db.dispose()
    assert _open_files(sqlite_file) == []


def test_a_commit_that_sqlite_refuses_leaves_no_transaction_open(tmp_path) -> None:  # noqa: ANN001
    """A COMMIT that SQLite refuses and leaves open (a deferred foreign key violated) fails
    that change alone: the next change goes in, and another process gets the write lock."""
    path = tmp_path / "deferred.db"
    setup = sqlite3.connect(path)
    setup.executescript(
        "CREATE TABLE p(id INTEGER PRIMARY KEY);"
        "CREATE TABLE c(id INTEGER PRIMARY KEY,"
        " p INTEGER REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED);")
    setup.close()
    db = Database(f"sqlite:///{path}", statement_timeout=0.2)
    try:
        with db.session() as session:
            session.exec(text("PRAGMA foreign_keys=ON"))
        with pytest.raises(StorageError), db.session() as session:
            session.exec(text("INSERT INTO c(p) VALUES (42)"))  # refused only at COMMIT
        with db.session() as session:
            session.exec(text("INSERT INTO p(id) VALUES (1)"))
        assert db.run(text("INSERT INTO p(id) VALUES (2)")) == 1
        other = sqlite3.connect(path, timeout=0.2)
        try:
            other.execute("BEGIN IMMEDIATE")  # raises "database is locked" if one stayed open
            other.rollback()
            assert other.execute("SELECT id FROM p ORDER BY id").fetchall() == [(1,), (2,)]
        finally:
            other.close()
    finally:
        db.dispose()


def test_engines_replaced_many_times_are_not_kept_alive(sqlite_file) -> None:  # noqa: ANN001
    """Each new kept connection replaces the last one's close-at-exit: the engines of the old
    ones are freed, not held for the Database's lifetime."""
    db = Database(f"sqlite:///{sqlite_file}")
    healthy = db.engine

    def swap() -> weakref.ref:
        other = create_engine(f"sqlite:///{sqlite_file}")
        db.engine = other
        with db.session() as session:
            session.exec(text("SELECT 1"))
        other.dispose()
        db.engine = healthy
        with db.session() as session:
            session.exec(text("SELECT 1"))
        return weakref.ref(other)

    try:
        engines = [swap() for _ in range(20)]
        gc.collect()
        assert [e for e in engines if e() is not None] == []
    finally:
        db.dispose()
