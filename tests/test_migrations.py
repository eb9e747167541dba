"""The Alembic migrations build exactly the tables the models describe, on both databases."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

import bot.models  # noqa: F401
import handlers  # noqa: F401
from bot.db import alembic_config


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
