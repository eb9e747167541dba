"""The PostgreSQL pool's ping (bot.db `_ping_when_in_doubt`): a connection given back moments
ago is used again without one, and a connection the server ended while it sat in the pool is
replaced before anyone uses it, as with pool_pre_ping."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, text

from bot.db import _SOUND_SINCE, PING_AFTER_IDLE, Database


@pytest.fixture
def pg_db(db_url):  # noqa: ANN001, ANN201
    if not db_url.startswith("postgresql"):
        pytest.skip("the pool's ping is PostgreSQL's (SQLite has no pool to ping)")
    db = Database(db_url)
    pings: list[object] = []
    ping = db.engine.dialect.do_ping

    def counted(dbapi_connection):  # noqa: ANN001, ANN202
        pings.append(dbapi_connection)
        return ping(dbapi_connection)

    db.engine.dialect.do_ping = counted
    yield db, pings
    db.dispose()


def _pid(db: Database) -> int:
    with db.session() as session:
        return session.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _terminate(url: str, pids: list[int]) -> None:
    admin = create_engine(url)
    with admin.begin() as conn:
        for pid in pids:
            assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
    admin.dispose()


def test_a_connection_given_back_moments_ago_is_not_pinged(pg_db) -> None:  # noqa: ANN001
    db, pings = pg_db
    first = _pid(db)  # a fresh connection: not pinged either
    assert _pid(db) == first and _pid(db) == first
    assert pings == []
    # Idle longer than the threshold: pinged, then used again.
    for entry in list(db.engine.pool._pool.queue):
        entry.info[_SOUND_SINCE] -= PING_AFTER_IDLE + 1
    assert _pid(db) == first
    assert len(pings) == 1


def test_a_connection_the_server_ended_while_idle_is_replaced_unseen(pg_db, db_url) -> None:  # noqa: ANN001
    """Within the threshold, the connection ended under it (a restart, an administrator): the
    server's goodbye on the socket is noticed at checkout, the ping fails, and the pool opens a
    new connection; the request never sees the dead one."""
    db, pings = pg_db
    first = _pid(db)
    _terminate(db_url, [first])
    time.sleep(0.1)  # the server's FATAL and FIN reach the client's socket
    started = time.monotonic()
    second = _pid(db)  # no StorageError
    assert second != first
    assert len(pings) == 1
    assert time.monotonic() - started < PING_AFTER_IDLE  # the threshold did not do it


def test_every_connection_ended_while_idle_is_replaced(pg_db, db_url) -> None:  # noqa: ANN001
    """Three connections in the pool, all ended (a server restart ends every one): three
    requests, none fails."""
    db, pings = pg_db
    sessions = [db.session() for _ in range(3)]
    pids = [s.__enter__().execute(
        text("SELECT pg_backend_pid()")).scalar_one() for s in sessions]
    for s in sessions:
        s.__exit__(None, None, None)
    assert len(set(pids)) == 3
    _terminate(db_url, pids)
    time.sleep(0.1)
    after = [_pid(db) for _ in range(3)]
    assert not set(after) & set(pids)
    # One ping found the link gone and renewed the whole pool (InvalidatePoolError): the
    # other two connections were replaced unpinged, as pool_pre_ping would have them.
    assert len(pings) == 1
