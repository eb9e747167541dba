"""bot.db.Direct.pipelined (PostgreSQL): several Direct statements in one psycopg pipeline give
the rows each gives alone (columns converted by their types as SQLAlchemy converts them, a
textual statement's rows as the driver's tuples), SQL sent before and after them holds for
them only, and a failure leaves as SQLAlchemy's own error with the transaction aborted for
the caller's rollback."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import DateTime, Integer, String, bindparam, column, text
from sqlalchemy.exc import DBAPIError

from bot.db import Database, Direct


@pytest.fixture
def pg(db_url):  # noqa: ANN001, ANN201
    if not db_url.startswith("postgresql"):
        pytest.skip("a psycopg pipeline: PostgreSQL only")
    db = Database(db_url)
    yield db
    db.dispose()


WHEN = DateTime(timezone=True)
TYPED = text("SELECT CAST(:n AS integer) + 1 AS n, CAST(:s AS text) AS s, "
             "CAST(:at AS timestamptz) AS at, current_setting('enable_seqscan') AS seqscan"
             ).bindparams(bindparam("at", type_=WHEN)).columns(
    column("n", Integer), column("s", String), column("at", WHEN), column("seqscan", String))
PLAIN = text("SELECT 'a', CAST(:n AS integer)")


def test_each_statement_gives_what_it_gives_alone(pg) -> None:  # noqa: ANN001
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    typed, plain = Direct(TYPED, prepare=False), Direct(PLAIN)
    values = {"n": 41, "s": "x%_\\", "at": at}
    with pg.session() as s:
        conn = s.connection()
        alone = [typed.rows(conn, values), plain.rows(conn, values)]
        expected = [dict(r._mapping) for r in s.execute(TYPED, values)]
        assert alone[0] == expected
        assert alone[1] == [("a", 41)]
        together = Direct.pipelined(conn, [(typed, values), (plain, values)],
                                    before=("SET LOCAL enable_seqscan = off",),
                                    after=("SET LOCAL enable_seqscan TO DEFAULT",))
        assert together == [[{**expected[0], "seqscan": "off"}], alone[1]]
        assert conn.exec_driver_sql("SHOW enable_seqscan").scalar() == "on"


def test_a_failure_leaves_as_sqlalchemys_error_and_the_rollback_restores_the_session(pg) -> None:  # noqa: ANN001
    failing = Direct(text("SELECT 1 / CAST(:n AS integer)"))
    with pg.session() as s:
        conn = s.connection()
        with pytest.raises(DBAPIError) as raised:
            Direct.pipelined(conn, [(failing, {"n": 0})],
                             before=("SET LOCAL enable_seqscan = off",),
                             after=("SET LOCAL enable_seqscan TO DEFAULT",))
        assert "division by zero" in str(raised.value)
        assert not raised.value.connection_invalidated
        s.rollback()
        conn = s.connection()
        assert conn.exec_driver_sql("SHOW enable_seqscan").scalar() == "on"
        assert Direct.pipelined(conn, [(failing, {"n": 1})]) == [[(1,)]]
