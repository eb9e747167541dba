"""The sweep and the process's SQLite write lock (issue 22: a sweep must not stall chat)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlmodel import select

from bot import members
from bot.db import Database
from bot.errors import StorageError
from bot.messages import Reply
from bot.models import ChannelRoute, Member
from bot.routes import routes_for
from schedules import api
from schedules.api import Target
from schedules.models import Reminder, Status
from tests.support import build_app, run_due


def _plan(app, key: str, kind: str) -> None:  # noqa: ANN001
    with app.db.session() as s:
        api.plan(s, key=key, kind=kind, due=datetime.now(UTC),
                 target=Target.member("console", "alice"), record_type="complaint",
                 record_id="C-1")


def _status(app, key: str) -> Reminder:  # noqa: ANN001
    with app.db.session() as s:
        return s.exec(select(Reminder).where(Reminder.key == key)).one()


def test_a_write_goes_on_while_the_sweep_reads_its_reminders(sqlite_url, tmp_path, clock):
    """A Slack ack writes (its replay record, its conversation) under the process's lock;
    the sweep's read of the reminders it renders must not hold that lock meanwhile."""
    app, _ = build_app(sqlite_url, tmp_path)
    wrote_meanwhile: list[bool] = []

    @app.registry.reminder_kind("test.slow")
    def slow(session, reminder, now):  # noqa: ANN001, ANN202
        def write() -> None:
            with app.db.session() as s:
                s.execute(text("UPDATE reminder SET last_error = 'x' WHERE id = -1"))

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        writer.join(timeout=3)
        wrote_meanwhile.append(not writer.is_alive())
        return Reply("reminders/training", {"quarter": "Q"})

    _plan(app, "k1", "test.slow")
    assert len(run_due(app)) == 1
    assert wrote_meanwhile == [True]
    assert _status(app, "k1").status == Status.SENT


def test_a_kind_that_writes_while_rendering_is_still_sent(db_url, tmp_path, clock):
    """Renderers only read (bot.router.ReminderKind); one that writes anyway is read again
    in a transaction that may write, as when a renderer raises: its reminder goes out, once,
    and the others of its read with it. (A guard of the read-only read's fallback.)"""
    app, _ = build_app(db_url, tmp_path)

    @app.registry.reminder_kind("test.ping")
    def ping(session, reminder, now):  # noqa: ANN001, ANN202
        return Reply("reminders/training", {"quarter": "Q"})

    @app.registry.reminder_kind("test.writes")
    def writes(session, reminder, now):  # noqa: ANN001, ANN202
        session.execute(text("UPDATE reminder SET record_id = 'C-2' WHERE id = :id"),
                        {"id": reminder.id})
        return Reply("reminders/training", {"quarter": "Q"})

    _plan(app, "k1", "test.ping")
    _plan(app, "k2", "test.writes")
    _plan(app, "k3", "test.ping")
    assert len(run_due(app)) == 3
    assert run_due(app) == []
    assert {_status(app, k).status for k in ("k1", "k2", "k3")} == {Status.SENT}
    assert _status(app, "k2").record_id == "C-2"


def test_nothing_to_say_is_cancelled_after_the_read(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)

    @app.registry.reminder_kind("test.gone")
    def gone(session, reminder, now):  # noqa: ANN001, ANN202
        return None

    _plan(app, "k1", "test.gone")
    _plan(app, "k2", "test.nobody_knows")
    assert run_due(app) == []
    one, two = _status(app, "k1"), _status(app, "k2")
    assert (one.status, one.last_error, one.lease_owner) == (
        Status.CANCELLED, "nothing_to_say", None)
    assert (two.status, two.last_error) == (Status.CANCELLED, "unknown_kind:test.nobody_knows")


def test_a_read_session_takes_no_lock_and_refuses_writes(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.session() as s:
        s.execute(text("CREATE TABLE t (x INTEGER)"))
    with db.read_session() as s:
        assert s.execute(text("SELECT count(*) FROM t")).scalar() == 0
        done: list[int] = []
        writer = threading.Thread(
            target=lambda: done.append(db.run(text("INSERT INTO t VALUES (1)"))))
        writer.start()
        writer.join(timeout=3)
        assert done == [1]  # the writer was not held
        assert s.execute(text("SELECT count(*) FROM t")).scalar() == 0  # one snapshot
    with pytest.raises(StorageError), db.read_session() as s:
        s.execute(text("INSERT INTO t VALUES (2)"))
    # Its connection is writable again for everyone else.
    db.run(text("INSERT INTO t VALUES (3)"))
    with db.read_session() as s:
        assert sorted(x for (x,) in s.execute(text("SELECT x FROM t"))) == [1, 3]
    db.dispose()


# -- what the lock-free read must not get wrong (found by review) ---------------------------------
# A write this process commits while the sweep reads one snapshot: the caches must not keep
# the snapshot's older row (bot.cache.snapshot), and the cancel of a reminder with nothing to
# say must not touch a row planned again or taken over meanwhile (the guarded cancel).


def test_a_route_bound_while_the_sweep_reads_is_seen_at_once_not_cached_as_absent(
        db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)

    with app.db.session() as s:  # warm the routes cache: no route yet
        assert routes_for(s, "complaints") == []

    @app.registry.reminder_kind("test.bind")
    def bind(session, reminder, now):  # noqa: ANN001, ANN202
        def write() -> None:  # e.g. an admin's `/route complaints` from a Slack ack
            with app.db.session() as s:
                s.add(ChannelRoute(purpose="complaints", platform="console", channel_id="C1"))
        t = threading.Thread(target=write, daemon=True)
        t.start()
        t.join(timeout=5)
        return Reply("reminders/training", {"quarter": "Q"})

    with app.db.session() as s:
        api.plan(s, key="k1", kind="test.bind", due=datetime.now(UTC),
                 target=Target.purpose("complaints"), record_type="complaint", record_id="C-1")
    run_due(app)
    with app.db.session() as s:
        in_db = s.exec(select(ChannelRoute)).all()
        seen = routes_for(s, "complaints")
    assert len(in_db) == 1
    assert len(seen) == 1, "routes cache kept 'no route' after the route was committed"


def test_a_language_changed_while_the_sweep_reads_is_not_cached_stale(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    with app.db.session() as s:
        s.add(Member(platform="console", user_id="bob", display_name="bob", locale="zh"))

    @app.registry.reminder_kind("test.owner")
    def owner(session, reminder, now):  # noqa: ANN001, ANN202
        def write() -> None:  # bob's `/lang en`, acked meanwhile
            with app.db.session() as s:
                m = s.exec(select(Member).where(Member.user_id == "bob")).one()
                m.locale = "en"
                s.add(m)
        t = threading.Thread(target=write, daemon=True)
        t.start()
        t.join(timeout=5)
        bob = members.recipient(session, "console", "bob")  # e.g. the record's owner
        return Reply("reminders/training", {"quarter": bob.locale if bob else "?"})

    with app.db.session() as s:
        api.plan(s, key="k1", kind="test.owner", due=datetime.now(UTC),
                 target=Target.member("console", "alice"), record_type="complaint",
                 record_id="C-1")
    run_due(app)
    with app.db.session() as s:
        bob = members.recipient(s, "console", "bob")
        in_db = s.exec(select(Member).where(Member.user_id == "bob")).one().locale
    assert bob.locale == in_db == "en"


def _gone_while_read(db_url, tmp_path, meanwhile):  # noqa: ANN001
    app, _ = build_app(db_url, tmp_path)

    @app.registry.reminder_kind("test.gone")
    def gone(session, reminder, now):  # noqa: ANN001, ANN202
        t = threading.Thread(target=meanwhile, args=(app,), daemon=True)
        t.start()
        t.join(timeout=3)
        return None

    with app.db.session() as s:
        api.plan(s, key="k", kind="test.gone", due=datetime.now(UTC),
                 target=Target.member("console", "alice"), record_type="x", record_id="1")
    run_due(app)
    with app.db.session() as s:
        return s.exec(select(Reminder).where(Reminder.key == "k")).one()


def _replan(app):  # noqa: ANN001
    with app.db.session() as s:
        api.plan(s, key="k", kind="test.gone", due=datetime.now(UTC) + timedelta(hours=1),
                 target=Target.member("console", "alice"), record_type="x", record_id="1")


def _takeover(app):  # noqa: ANN001
    with app.db.session() as s:
        s.execute(text("UPDATE reminder SET lease_owner = 'other' WHERE key = 'k'"))


def test_a_reminder_planned_again_while_the_sweep_reads_is_not_cancelled(
        sqlite_url, tmp_path, clock):
    row = _gone_while_read(sqlite_url, tmp_path, _replan)
    assert row.status == Status.PENDING


def test_a_reminder_taken_over_while_the_sweep_reads_is_not_cancelled(sqlite_url, tmp_path, clock):
    row = _gone_while_read(sqlite_url, tmp_path, _takeover)
    assert row.status == Status.CLAIMED and row.lease_owner == "other"
