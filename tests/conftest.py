"""Shared fixtures: a scrubbed environment, a fake clock, and a fresh database per test on
SQLite always and on PostgreSQL whenever LIAISON_TEST_DATABASE_URL is set (and then it must
be reachable: the tests fail rather than skip)."""

from __future__ import annotations

import os
import shutil
import signal
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from bot.db import upgrade
from tests.support import SCHEMA_CHANGED

PG_URL = os.environ.get("LIAISON_TEST_DATABASE_URL")
SCRUB = ("LIAISON_", "DATABASE_URL", "SLACK_", "DINGTALK_")

# Thursday 26 November 2026, 10:00 in Shanghai.
START = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def pytest_configure(config: pytest.Config) -> None:
    # `make test` starts the timing tests in the background, and a shell starts a background
    # job with SIGINT ignored: Ctrl-C (or the Makefile's trap) must still interrupt them, so
    # that their teardown stops the replicas and the private PostgreSQL they started.
    signal.signal(signal.SIGINT, signal.default_int_handler)


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
    for copy in _ALL:
        _pg_drop(copy)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def _pg_copy(template: str) -> str:
    name = f"liaison_t_{uuid.uuid4().hex[:12]}"
    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        # A test needs no durability: commits need not wait for the disk.
        conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    engine.dispose()
    return name


def _pg_url(name: str) -> str:
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def _pg_reset(name: str) -> None:
    """Empty a used copy so that the next test gets it as freshly migrated: what is left of the
    last test's connections is cut, every table emptied (the schema and alembic_version stay)
    and every sequence restarted. Ten times cheaper than dropping it and copying anew."""
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
    admin.dispose()
    engine = create_engine(_pg_url(name), poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))  # no FK order
        tables = conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version'")).scalars().all()
        for table in tables:
            conn.execute(text(f'DELETE FROM "{table}"'))
        for sequence in conn.execute(text(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")).scalars():
            conn.execute(text("SELECT setval(:seq, 1, false)"), {"seq": f'"{sequence}"'})
    engine.dispose()


# Copies emptied after their test, for the next test of this worker; dropped at the end.
_FREE: list[str] = []
_ALL: list[str] = []


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
# run on SQLite only (whole modules here, single tests marked `sqlite_only`). Storage, reminder
# and concurrency tests run on both.
SQLITE_ONLY = ("test_slack", "test_dingtalk", "test_comm_export", "test_handbook",
               "test_cultural_notes", "test_dialects", "test_render", "test_files_in_chat",
               "test_time_echo")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_url" in metafunc.fixturenames:
        sqlite_only = (metafunc.module.__name__.rpartition(".")[2].startswith(SQLITE_ONLY)
                       or metafunc.definition.get_closest_marker("sqlite_only") is not None)
        metafunc.parametrize("db_url", BACKENDS[:1] if sqlite_only else BACKENDS, indirect=True)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> str:  # noqa: ANN001
    """A migrated SQLite file that each SQLite test copies: migrating takes a few hundred
    milliseconds, copying the file one."""
    path = tmp_path_factory.mktemp("template") / "liaison.db"
    upgrade(f"sqlite:///{path}")
    return str(path)


def _sqlite_copy(template: str, tmp_path) -> str:  # noqa: ANN001
    target = tmp_path / "liaison.db"
    shutil.copyfile(template, target)  # the migration's engine is closed: no WAL file left
    return f"sqlite:///{target}"


@pytest.fixture
def db_url(request, tmp_path) -> Iterator[str]:  # noqa: ANN001
    """A fresh, migrated database: a copy of a migrated SQLite file, or a PostgreSQL copy of
    the template (parametrised by pytest_generate_tests above)."""
    if request.param == "sqlite":
        yield _sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)
        return
    template = request.getfixturevalue("pg_template")
    if _FREE:
        name = _FREE.pop()
    else:
        name = _pg_copy(template)
        _ALL.append(name)
    url = _pg_url(name)
    yield url
    if url in SCHEMA_CHANGED:  # its indexes or tables are not the migrations' any more
        SCHEMA_CHANGED.discard(url)
        _ALL.remove(name)
        _pg_drop(name)
        return
    try:
        _pg_reset(name)
    except Exception:  # a copy that cannot be emptied is not handed out again
        _ALL.remove(name)
        _pg_drop(name)
    else:
        _FREE.append(name)


@pytest.fixture
def sqlite_url(sqlite_template, tmp_path) -> str:  # noqa: ANN001
    return _sqlite_copy(sqlite_template, tmp_path)


# The longest tests, longest first (from `pytest --durations=20`; refresh when it changes):
# `make test` runs them first, so that no worker starts one near the end while the others
# wait. The Makefile hands tests out two at a time (--maxschedchunk 2), so these spread over
# the workers instead of landing in the first worker's first batch.
LONGEST = (
    "test_reminders.py::test_four_processes_deliver_2000_reminders_exactly_once",
    "test_cli.py::test_a_non_editable_install_finds_templates_and_migrations",
    "test_talking_points_search.py::test_the_place_indexes_rank_exactly_as_ranking_every_match",
    "test_talking_points_search.py::test_the_early_stop_ranks_exactly_as_ranking_every_match",
    "test_slack_run.py::test_liaison_run_connects_in_socket_mode_and_stops_on_sigterm",
    "test_team_calendars.py::test_weekly_review_weeks_in_the_zone_of_the_channels_team",
    "test_dingtalk_run.py::test_liaison_run_serves_dingtalk_and_stops_on_sigterm",
    "test_slack_run.py::test_liaison_run_serves_slack_over_http_and_stops_on_sigterm",
    "test_slack_manifest.py::test_every_template_names_only_commands_slack_delivers",
    "test_first_week.py::test_the_console_chat_logs_to_a_file_not_into_the_conversation",
    "test_console_session.py::test_the_console_greets_in_one_line_and_quit_leaves",
    "test_cli.py::test_console_reads_lines_from_a_pipe_and_answers_each",
    "test_disputes.py::test_a_dispute_with_two_points_a_mediator_and_an_agreed_outcome",
    "test_meetings.py::test_a_meeting_life_in_english",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST)}

    def key(item: pytest.Item) -> int:
        name = item.nodeid.partition("[")[0].rpartition("/")[2]
        return rank.get(name, len(LONGEST))

    items.sort(key=key)  # stable: every other test keeps its place
