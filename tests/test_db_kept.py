"""A SQLite file's kept connection (bot.db `Database._connected`): every session and write of
the process's lock holder uses one connection, kept checked out. What a pool connection each
gave them still holds: a session inside another is not part of its transaction, a locked
database fails a write once, and nothing stays open after `dispose`."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event
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
