"""Shared fixtures: a scrubbed environment, a fake clock, and a fresh database per test on
SQLite always and on PostgreSQL whenever LIAISON_TEST_DATABASE_URL is set (and then it must
be reachable: the tests fail rather than skip)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.db import upgrade

PG_URL = os.environ.get("LIAISON_TEST_DATABASE_URL")
SCRUB = ("LIAISON_", "DATABASE_URL", "SLACK_", "DINGTALK_")

# Thursday 26 November 2026, 10:00 in Shanghai.
START = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _scrubbed_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # noqa: ANN001
    for key in list(os.environ):
        if key.startswith(SCRUB):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def _admin_engine():  # noqa: ANN202
    return create_engine(PG_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated database that each PostgreSQL test copies (CREATE DATABASE ... TEMPLATE)."""
    assert PG_URL, "LIAISON_TEST_DATABASE_URL is not set"
    name = f"liaison_tpl_{os.getpid()}"
    engine = _admin_engine()
    with engine.connect() as conn:  # fails loudly when PostgreSQL is not reachable
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield name
    _DROPS.shutdown(wait=True)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def _pg_copy(template: str) -> tuple[str, str]:
    name = f"liaison_t_{uuid.uuid4().hex[:12]}"
    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    engine.dispose()
    return name, make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


# Each PostgreSQL test's copy is dropped in the background: the next test need not wait.
_DROPS = ThreadPoolExecutor(max_workers=1)


def _pg_drop(name: str) -> None:
    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(not PG_URL, reason="LIAISON_TEST_DATABASE_URL not set"),
    ),
]
# Adapter and rendering tests exercise the platforms and the templates, not the database: they
# run on SQLite only. Storage, reminder and concurrency tests run on both.
SQLITE_ONLY = ("test_slack", "test_dingtalk", "test_comm_export")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_url" in metafunc.fixturenames:
        sqlite_only = metafunc.module.__name__.rpartition(".")[2].startswith(SQLITE_ONLY)
        metafunc.parametrize("db_url", BACKENDS[:1] if sqlite_only else BACKENDS, indirect=True)


@pytest.fixture
def db_url(request, tmp_path) -> Iterator[str]:  # noqa: ANN001
    """A fresh, migrated database: a SQLite file, or a PostgreSQL copy of the template
    (parametrised by pytest_generate_tests above)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'liaison.db'}"
        upgrade(url)
        yield url
        return
    name, url = _pg_copy(request.getfixturevalue("pg_template"))
    yield url
    _DROPS.submit(_pg_drop, name)


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'liaison.db'}"
    upgrade(url)
    return url
