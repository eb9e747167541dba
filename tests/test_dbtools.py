"""`liaison db backup / restore / copy`: a backup restores to the same rows; a SQLite database
with records, audit trails, pending reminders and a conversation in progress moves to
PostgreSQL with its ids, and the bot started there goes on where it was."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from bot import cli
from bot.db import upgrade
from bot.dbtools import tables
from handlers.complaints.models import Complaint
from schedules.models import Reminder, Status
from tests.support import Chat, build_app, recording_adapters, run_due

PG_URL = os.environ.get("LIAISON_TEST_DATABASE_URL")


def rows(url: str) -> dict[str, list[tuple]]:
    """Every row of every table, in id order, as comparable tuples."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {t.name: [tuple(r) for r in connection.execute(
                select(t).order_by(*t.primary_key.columns))] for t in tables()}
    finally:
        engine.dispose()


def busy_database(url: str, tmp_path: Path):  # noqa: ANN201
    """Records of every kind (a complaint, a partner meeting, a communication record, a talking
    point awaiting approval), with their audit trails and pending reminders; roles and
    routes; and a second complaint half-way through its questions."""
    upgrade(url)
    app, _ = build_app(url, tmp_path)
    for purpose, channel in (("complaints", "C-COMPLAINTS"), ("escalations", "C-ESC"),
                             ("meetings", "C-MEET"), ("tp", "C-TP")):
        Chat(app, "admin", channel=channel, direct=False)(f"/route {purpose} here")
    for who in ("bob", "carol", "dave"):
        Chat(app, who)("/whoami")
    Chat(app, "admin")("/role grant @bob agent")
    Chat(app, "admin")("/role grant @dave approver")
    alice = Chat(app, "alice")
    alice('/complaint new customer="ACME 公司" contact=13800000000 channel=phone '
          'summary=退款未到账 details=两周前申请退款 severity=high received=now owner=@bob')
    alice("确认")
    bob = Chat(app, "bob")
    bob('/meeting new partner="ACME" title="季度合作回顾" start="2026-11-30 15:00"')
    for answer in ("跳过", "@bob @carol", "回顾上季度", "完成", "跳过", "跳过"):
        bob(answer)
    bob("确认")
    bob('/comm new audience=media audience_name="新华社" topic="新品发布" goal=publish '
        'goal_text="三家媒体报道新品" channel=press_release')
    bob("跳过")
    bob("跳过")
    bob("确认")
    for line in ("/tp propose", "退款政策", "产品有质量问题可以退款吗?",
                 "收到商品7天内可无理由退款。", "退款", "中文", "确认"):
        alice(line)
    carol = Chat(app, "carol")
    assert "联系方式" in carol("/投诉 新建") + carol("Globex")  # stopped at the second question
    return app


@pytest.fixture
def pg_empty() -> Iterator[str]:
    """A new, empty PostgreSQL database (not even migrated), dropped afterwards."""
    if not PG_URL:
        pytest.skip("LIAISON_TEST_DATABASE_URL not set")
    name = f"liaison_copy_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_backup_then_restore_gives_the_same_rows(
    tmp_path: Path, clock, monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
    capsys: pytest.CaptureFixture[str],
) -> None:
    live = f"sqlite:///{tmp_path / 'live.db'}"
    app = busy_database(live, tmp_path)
    monkeypatch.setenv("DATABASE_URL", live)
    assert cli.main(["db", "backup", str(tmp_path / "nightly.db")]) == 0  # while it runs
    app.db.dispose()
    assert cli.main(["db", "backup", str(tmp_path / "nightly.db")]) == 2
    assert "exists already" in capsys.readouterr().err

    restored = f"sqlite:///{tmp_path / 'restored.db'}"
    monkeypatch.setenv("DATABASE_URL", restored)
    assert cli.main(["db", "restore", str(tmp_path / "nightly.db")]) == 0
    before, after = rows(live), rows(restored)
    assert after == before
    for table in ("complaint", "meeting", "comm_record", "talkingpoint",
                  "talkingpointversion", "conversation", "memberrole", "channelroute"):
        assert len(after[table]) >= 1, table
    assert after["reminder"] and after["auditentry"]

    # Only into an empty database: a second restore would mix two histories.
    assert cli.main(["db", "restore", str(tmp_path / "nightly.db")]) == 2
    assert "already holds data" in capsys.readouterr().err
    assert rows(restored) == before


def test_backup_of_postgresql_prints_the_pg_dump_command_without_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://liaison:s3cret@db:5432/liaison")
    assert cli.main(["db", "backup", "/backups/liaison.dump"]) == 0
    out = capsys.readouterr().out
    assert ("pg_dump --format=custom --file=/backups/liaison.dump "
            "postgresql://liaison@db:5432/liaison") in out
    assert "s3cret" not in out


def test_copy_from_sqlite_to_postgresql_keeps_everything_and_the_bot_goes_on(
    tmp_path: Path, clock, pg_empty: str, monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
    capsys: pytest.CaptureFixture[str],
) -> None:
    sqlite = f"sqlite:///{tmp_path / 'liaison.db'}"
    busy_database(sqlite, tmp_path).db.dispose()
    before = rows(sqlite)

    monkeypatch.setenv("DATABASE_URL", sqlite)
    assert cli.main(["db", "copy", "--to", pg_empty]) == 0
    out = capsys.readouterr().out
    assert "row counts match" in out and "  complaint: 1 rows" in out
    after = rows(pg_empty)
    assert {name: len(r) for name, r in after.items()} == {
        name: len(r) for name, r in before.items()}
    assert [r[0] for r in after["reminder"]] == [r[0] for r in before["reminder"]]  # ids kept

    # A second copy into the same database is refused and changes nothing.
    assert cli.main(["db", "copy", "--to", pg_empty]) == 2
    assert "already holds data" in capsys.readouterr().err

    # The bot, started on PostgreSQL: carol's conversation goes on at the step it was at...
    app, _ = build_app(pg_empty, tmp_path)
    carol = Chat(app, "carol")
    assert "什么渠道" in carol("13900000000")
    # ...the pending reminders go out once, when due...
    with app.db.session() as session:
        pending = session.execute(select(Reminder).where(Reminder.status == Status.PENDING)
                               ).scalars().all()
        due = sorted({r.due_at for r in pending})
    assert pending
    adapters, sent = recording_adapters(), []
    for at in due:
        clock.move_to(at)
        sent += run_due(app, adapters)
    assert len(sent) == len(pending)
    assert run_due(app, adapters) == []
    with app.db.session() as session:
        statuses = {r.id: r.status for r in session.execute(select(Reminder)).scalars()}
    assert {statuses[r.id] for r in pending} == {Status.SENT}
    # ...and new rows get new ids after the copied ones (the sequences moved on).
    Chat(app, "dave")("/whoami")
    alice = Chat(app, "alice")
    alice('/complaint new customer=Initech contact=1 channel=phone summary=延误 '
          'details=发货延误 severity=low received=now owner=@bob')
    assert "C-2026-0002" in alice("确认")
    with app.db.session() as session:
        ids = session.execute(select(Complaint.id).order_by(Complaint.id)).scalars().all()
    assert ids == [1, 2]
    app.db.dispose()


def test_a_sqlite_backup_restores_into_an_empty_postgresql_database(
    tmp_path: Path, clock, pg_empty: str, monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
) -> None:
    live = f"sqlite:///{tmp_path / 'live.db'}"
    busy_database(live, tmp_path).db.dispose()
    monkeypatch.setenv("DATABASE_URL", live)
    assert cli.main(["db", "backup", str(tmp_path / "nightly.db")]) == 0
    monkeypatch.setenv("DATABASE_URL", pg_empty)
    assert cli.main(["db", "restore", str(tmp_path / "nightly.db")]) == 0
    assert {t: len(r) for t, r in rows(pg_empty).items()} == {
        t: len(r) for t, r in rows(live).items()}


def test_restoring_a_pg_dump_file_prints_the_pg_restore_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    dump = tmp_path / "liaison.dump"
    dump.write_bytes(b"PGDMP\x01\x0e\x00" + bytes(64))  # how pg_dump's custom format starts
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://liaison:s3cret@db/liaison")
    assert cli.main(["db", "restore", str(dump)]) == 0
    out = capsys.readouterr().out
    assert f"pg_restore --no-owner --dbname=postgresql://liaison@db/liaison {dump}" in out
    assert "s3cret" not in out
    (tmp_path / "notes.txt").write_text("not a backup")
    assert cli.main(["db", "restore", str(tmp_path / "notes.txt")]) == 2
    assert "neither a SQLite backup nor a pg_dump file" in capsys.readouterr().err
