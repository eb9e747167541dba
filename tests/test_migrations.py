"""The Alembic migrations build exactly the tables the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import bot.models  # noqa: F401
import handlers  # noqa: F401


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
