"""`liaison db backup`, `liaison db restore` and `liaison db copy --to`: what an operator needs
to keep the database safe and to move from SQLite to PostgreSQL.

- backup: SQLite's online backup API (`sqlite3.Connection.backup`), safe while the bot runs;
  for PostgreSQL, the `pg_dump` command to use, since pg_dump does that job better than we
  could.
- restore: a SQLite backup into an empty database (a SQLite target gets a page-by-page copy;
  any other target gets `copy`); a pg_dump file gets the `pg_restore` command.
- copy: every table of the current database into an empty one, migrated first, in one
  transaction: ids kept (so audit trails, pending reminders and conversations in progress
  still point at their records), PostgreSQL's id sequences moved past the copied ids, and the
  row counts of both sides compared at the end.

Tables are read and written through the models' own column types, so JSON, booleans and UTC
times arrive as they left. The SQLite full-text index of talking points is not copied: it is
derived, and the target's migration keeps its own (triggers on SQLite, trigram on
PostgreSQL).
"""

from __future__ import annotations

import shlex
import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Integer, Table, func, inspect, select, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlmodel import SQLModel, create_engine

from bot.db import safe_url, upgrade
from bot.errors import LiaisonError

CHUNK = 1000  # rows read and written at a time


class DbToolError(LiaisonError):
    """Refused before anything was written; the message says why and what to do."""


def _libpq_url(url: str) -> str:
    """The URL as pg_dump and pg_restore take it: no driver name, and no password (they read
    PGPASSWORD or ~/.pgpass), so it can be shown and kept in shell history."""
    parsed = make_url(url)
    plain = URL.create("postgresql", username=parsed.username, host=parsed.host,
                       port=parsed.port, database=parsed.database, query=parsed.query)
    return plain.render_as_string(hide_password=False)


def tables() -> list[Table]:
    """Every table the models declare (the core's, the outbox's and each domain's), parents
    before children."""
    import handlers
    import schedules.models  # noqa: F401

    handlers.load_all()  # each domain's models register their tables

    return list(SQLModel.metadata.sorted_tables)


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if parsed.database in (None, "", ":memory:"):
        raise DbToolError("an in-memory SQLite database has nothing to back up or restore")
    return Path(parsed.database)


# -- backup and restore ---------------------------------------------------------------------


def backup(url: str, file: Path, say: Callable[[str], None] = print) -> None:
    path = _sqlite_path(url)
    if path is None:
        say("For PostgreSQL use pg_dump, which takes a consistent snapshot while the bot runs "
            "(set PGPASSWORD or use ~/.pgpass for the password):")
        say(f"  pg_dump --format=custom --file={shlex.quote(str(file))} "
            f"{shlex.quote(_libpq_url(url))}")
        return
    if not path.exists():
        raise DbToolError(f"{path} does not exist; check DATABASE_URL")
    if file.exists():
        raise DbToolError(f"{file} exists already; name a new file")
    source = sqlite3.connect(path)
    try:
        destination = sqlite3.connect(file)
        try:
            source.backup(destination)  # page by page; writers may go on meanwhile
        finally:
            destination.close()
    finally:
        source.close()
    say(f"backed up {path} to {file}")


def restore(url: str, file: Path, say: Callable[[str], None] = print) -> None:
    if not file.exists():
        raise DbToolError(f"{file} does not exist")
    with open(file, "rb") as f:
        header = f.read(16)
    if header.startswith(b"PGDMP"):
        say("That is a pg_dump file; restore it into the empty database with:")
        say(f"  pg_restore --no-owner --dbname="
            f"{shlex.quote(_libpq_url(url))} "
            f"{shlex.quote(str(file))}")
        return
    if header != b"SQLite format 3\x00":
        raise DbToolError(f"{file} is neither a SQLite backup nor a pg_dump file")
    path = _sqlite_path(url)
    if path is None:  # a SQLite backup into PostgreSQL: a copy
        copy(f"sqlite:///{file}", url, say=say)
        return
    if path.exists() and _has_rows(create_engine(url)):
        raise DbToolError(f"{path} already holds data; restore only into an empty database "
                          "(move it away first)")
    source = sqlite3.connect(file)
    try:
        destination = sqlite3.connect(path)
        try:
            source.backup(destination)
        finally:
            destination.close()
    finally:
        source.close()
    say(f"restored {file} into {path}")


# -- copy -----------------------------------------------------------------------------------


def _has_rows(engine: Engine) -> bool:
    try:
        present = set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            return any(
                connection.execute(select(func.count()).select_from(table)).scalar_one()
                for table in tables() if table.name in present
            )
    finally:
        engine.dispose()


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {t.name: connection.execute(select(func.count()).select_from(t)).scalar_one()
                for t in tables()}


def copy(source_url: str, target_url: str, say: Callable[[str], None] = print) -> dict[str, int]:
    """Copy every table from `source_url` into the empty database at `target_url`; the rows
    copied per table. Raises DbToolError (nothing written) or LiaisonError (counts differ)."""
    if make_url(source_url) == make_url(target_url):
        raise DbToolError("the source and the target are the same database")
    if _has_rows(create_engine(target_url)):
        raise DbToolError(f"{safe_url(target_url)} already holds data; copy only into an "
                          "empty database")
    say(f"migrating {safe_url(source_url)} and {safe_url(target_url)} to the newest schema")
    upgrade(source_url)
    upgrade(target_url)
    source, target = create_engine(source_url), create_engine(target_url)
    try:
        copied: dict[str, int] = {}
        with source.connect() as reading, target.begin() as writing:
            for table in tables():
                copied[table.name] = 0
                rows = reading.execute(select(table).order_by(*table.primary_key.columns))
                while chunk := rows.mappings().fetchmany(CHUNK):
                    writing.execute(table.insert(), [dict(row) for row in chunk])
                    copied[table.name] += len(chunk)
            if target.dialect.name == "postgresql":
                _reset_sequences(writing)
        expected, found = counts(source), counts(target)
        if expected != found:
            wrong = {t: (expected[t], found[t]) for t in expected if expected[t] != found[t]}
            raise LiaisonError(f"row counts differ after the copy (source, target): {wrong}")
        for name, count in copied.items():
            say(f"  {name}: {count} rows")
        say(f"copied {sum(copied.values())} rows into {safe_url(target_url)}; row counts match")
        return copied
    finally:
        source.dispose()
        target.dispose()


def _reset_sequences(connection) -> None:  # noqa: ANN001
    """Move each serial id's sequence past the copied ids, so the next insert gets a new id."""
    for table in tables():
        column = table.c.get("id")
        if column is None or not column.primary_key or not isinstance(column.type, Integer):
            continue
        connection.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"COALESCE((SELECT MAX(id) FROM \"{table.name}\"), 0) + 1, false)"
        ))
