"""The Alembic migrations build exactly the tables the models describe, on both databases."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

import bot.models  # noqa: F401
import handlers  # noqa: F401
from bot.db import alembic_config


# SQLAlchemy cannot read back an index on an expression from SQLite (lower(topic), migration
# 0017); PostgreSQL's is compared.
@pytest.mark.filterwarnings(
    "ignore:Skipped unsupported reflection of expression-based index:sqlalchemy.exc.SAWarning")
def test_migrations_match_the_models(db_url: str) -> None:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        unmanaged = SQLModel.metadata.info.get("unmanaged", ())  # as in bot/migrations/env.py
        context = MigrationContext.configure(conn, opts={
            "compare_type": True,
            "include_object": lambda obj, name, *rest: name not in unmanaged,
        })
        diff = compare_metadata(context, SQLModel.metadata)
    engine.dispose()
    assert diff == [], "a model changed without a migration: " + repr(diff[:5])


def test_the_three_id_counters_carry_over_into_one(tmp_path) -> None:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = alembic_config(url)
    for revision in ("0004_complaints", "0005_meetings", "0006_comm"):  # before 0007
        command.upgrade(config, revision)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO complaint_counter (year, last) VALUES (2026, 7)"))
        conn.execute(text("INSERT INTO comm_counter (year, last) VALUES (2026, 3)"))
        conn.execute(text("INSERT INTO meeting_counter (prefix, year, value) "
                          "VALUES ('M', 2026, 5), ('A', 2026, 2)"))
    command.upgrade(config, "heads")
    with engine.connect() as conn:
        rows = set(conn.execute(text("SELECT prefix, year, last FROM record_counter")))
    engine.dispose()
    assert rows == {("C", 2026, 7), ("K", 2026, 3), ("M", 2026, 5), ("A", 2026, 2)}


def test_meeting_action_items_name_their_meeting_after_0012(tmp_path) -> None:  # noqa: ANN001
    """Action items from before training follow-ups joined them keep their meeting."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = alembic_config(url)
    command.upgrade(config, "0007_record_counter")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO meeting (id, ref, partner, partner_key, title, starts_at, "
            "duration_minutes, organiser_platform, organiser_id, organiser_name, attendees, "
            "agenda, materials, channel_kind, channel_platform, channel_id, status, "
            "minutes_due_at, minutes_by, decisions, rev, created_at, updated_at) VALUES "
            "(1, 'M-2026-0005', 'ACME', 'acme', 'Q4', '2026-11-20 02:00:00', 60, 'console', "
            "'bob', 'bob', '[]', '[]', '[]', 'purpose', '', '', 'scheduled', "
            "'2026-11-21 02:00:00', '', '[]', 0, '2026-11-19 02:00:00', "
            "'2026-11-19 02:00:00')"))
        conn.execute(text(
            "INSERT INTO meeting_action (id, ref, meeting_id, what, owner_platform, owner_id, "
            "owner_name, due_at, status, done_note, rev, created_at, updated_at) VALUES "
            "(1, 'A-2026-0002', 1, 'send the quote', 'console', 'bob', 'bob', "
            "'2026-11-27 09:00:00', 'open', '', 0, '2026-11-20 03:00:00', "
            "'2026-11-20 03:00:00')"))
    command.upgrade(config, "heads")
    with engine.connect() as conn:
        rows = list(conn.execute(text(
            "SELECT ref, meeting_id, origin, origin_ref FROM meeting_action")))
    engine.dispose()
    assert rows == [("A-2026-0002", 1, "meeting", "M-2026-0005")]


@pytest.mark.skipif(not __import__("os").environ.get("LIAISON_TEST_DATABASE_URL"),
                    reason="LIAISON_TEST_DATABASE_URL not set")
def test_the_bots_statement_timeout_does_not_cut_a_migration_short() -> None:
    """The bot runs its migrations at start on its own engine, whose statements PostgreSQL
    stops after LIAISON_DATABASE_STATEMENT_TIMEOUT (10 s): an index built over a filled table
    takes longer, and the upgrade failed (a start that never came up). Each statement of a
    migration runs without that limit (waiting for a lock still has one); the bot's own
    statements keep it."""
    import uuid

    from sqlalchemy import event

    from bot.db import Database
    from tests.conftest import _admin_engine, _pg_drop, _pg_url

    name = f"liaison_timeout_{uuid.uuid4().hex[:8]}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    limits: set[str] = set()

    def seen(conn, cursor, statement, *_):  # noqa: ANN001, ANN202
        if statement.lstrip().upper().startswith(("CREATE", "ALTER")):
            limits.add((cursor.connection.execute("SHOW statement_timeout").fetchone()[0],
                        cursor.connection.execute("SHOW lock_timeout").fetchone()[0]))

    try:
        db = Database(_pg_url(name), statement_timeout=7)
        try:
            event.listen(db.engine, "after_cursor_execute", seen)
            db.upgrade()
            event.remove(db.engine, "after_cursor_execute", seen)
            assert limits == {("0", "10s")}
            with db.engine.connect() as conn:
                assert conn.execute(text("SHOW statement_timeout")).scalar() == "7s"
        finally:
            db.dispose()
    finally:
        _pg_drop(name)
