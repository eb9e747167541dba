"""The small rules behind meetings and action items: when reminders fall due, how attendees
and action lines are read, and ids that stay unique when several people create at once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.conversation import Flow, Step
from bot.errors import InvalidAnswer
from bot.messages import Reply
from bot.models import RecordCounter
from bot.parsers import text
from bot.render import Renderer
from handlers.meetings.commands import parse_action, parse_attendees, parse_length
from handlers.meetings.models import (
    ACTION_IDS,
    MEETING_IDS,
    action_reminder_times,
    agenda_reminder_times,
    next_daily,
    partner_key,
)
from tests.support import TEST_TEMPLATES, Chat, build_app

START = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_agenda_reminders_at_the_lead_time_and_two_hours_before() -> None:
    now = START - timedelta(days=5)
    assert agenda_reminder_times(START, timedelta(hours=24), now) == [
        START - timedelta(hours=24), START - timedelta(hours=2)]
    # Planned five hours ahead: the lead time has passed, only the last call is left.
    assert agenda_reminder_times(START, timedelta(hours=24), START - timedelta(hours=5)) == [
        START - timedelta(hours=2)]
    assert agenda_reminder_times(START, timedelta(hours=2), now) == [START - timedelta(hours=2)]
    assert agenda_reminder_times(START, timedelta(hours=24), START - timedelta(hours=1)) == []


def test_action_reminders_a_day_before_unless_that_has_passed() -> None:
    due = START
    assert action_reminder_times(due, due - timedelta(days=3)) == [
        ("before", due - timedelta(days=1)), ("due", due)]
    assert action_reminder_times(due, due - timedelta(hours=5)) == [("due", due)]


def test_the_next_daily_reminder_keeps_the_wall_clock_and_is_never_in_the_past() -> None:
    planned = START
    assert next_daily(planned, planned, SHANGHAI) == planned + timedelta(days=1)
    # Sent three days late (after downtime): the next one is still ahead, at the same time.
    assert next_daily(planned, planned + timedelta(days=3, hours=1), SHANGHAI) == \
        planned + timedelta(days=4)
    # Across a DST change the local time stays 09:00.
    paris = ZoneInfo("Europe/Paris")
    saturday = datetime(2027, 3, 27, 9, 0, tzinfo=paris).astimezone(UTC)
    nxt = next_daily(saturday, saturday, paris)
    assert nxt.astimezone(paris).hour == 9 and nxt - saturday == timedelta(hours=23)


def test_ids_and_partner_names_are_read_loosely() -> None:
    assert MEETING_IDS.parse(" #m-2026-0001 ") == "M-2026-0001"
    assert MEETING_IDS.parse("Ｍ-2026-1") == "M-2026-0001"
    assert MEETING_IDS.parse("A-2026-0001") is None
    assert partner_key("ACME  Ltd") == partner_key("acme ltd") == partner_key("ＡＣＭＥ Ltd")


def _ctx(db_url, tmp_path):  # noqa: ANN001, ANN202
    """A context as a handler would see it, for calling parsers directly."""
    app, _ = build_app(db_url, tmp_path)
    for who in ("alice", "bob", "carol"):
        Chat(app, who)("/whoami")
    return app, {}


def _with_ctx(app, captured, fn):  # noqa: ANN001, ANN202
    @app.registry.command("peek")
    def peek(ctx, args):  # noqa: ANN001, ANN202
        captured["result"] = fn(ctx)
        return []

    Chat(app, "alice")("/peek")
    return captured.pop("result")


def test_attendees_members_by_mention_and_anyone_else_by_name(db_url, tmp_path, clock):
    app, captured = _ctx(db_url, tmp_path)
    people = _with_ctx(app, captured, lambda ctx: parse_attendees(
        "@bob @carol, 王经理(ACME)、jane@acme.com\n我\n@bob", ctx))
    assert people == [
        {"platform": "console", "user_id": "bob", "name": "bob"},
        {"platform": "console", "user_id": "carol", "name": "carol"},
        {"name": "王经理(ACME)"}, {"name": "jane@acme.com"},
        {"platform": "console", "user_id": "alice", "name": "alice"},
    ]

    def unknown(ctx):  # noqa: ANN001, ANN202
        with pytest.raises(InvalidAnswer) as exc:
            parse_attendees("@zed, Jane", ctx)
        return exc.value.template

    assert _with_ctx(app, captured, unknown) == "errors/answer_unknown_member"


def test_an_action_line_is_what_then_one_owner_then_when(db_url, tmp_path, clock):
    app, captured = _ctx(db_url, tmp_path)
    item = _with_ctx(app, captured, lambda ctx: parse_action(
        "Send the quote — @bob by friday 5pm", ctx))
    assert item == {"what": "Send the quote",
                    "owner": {"platform": "console", "user_id": "bob", "name": "bob"},
                    "due": "2026-11-27T09:00:00+00:00"}
    mine = _with_ctx(app, captured, lambda ctx: parse_action("复盘 @我 下周一前", ctx))
    assert mine["owner"]["user_id"] == "alice" and mine["due"] == "2026-11-30T01:00:00+00:00"

    def refused(line):  # noqa: ANN001, ANN202
        def run(ctx):  # noqa: ANN001, ANN202
            with pytest.raises(InvalidAnswer) as exc:
                parse_action(line, ctx)
            return exc.value.template
        return _with_ctx(app, captured, run)

    assert refused("Send the quote friday") == "meetings/action_format"
    assert refused("@bob friday") == "meetings/action_format"
    assert refused("Send it @bob") == "meetings/action_format"
    assert refused("Send it @bob @carol friday") == "meetings/action_format"
    assert refused("Send it @bob someday") == "errors/answer_when"
    assert refused("Send it @bob yesterday") == "errors/answer_when_past"
    assert _with_ctx(app, captured, lambda ctx: parse_length("一个半小时", ctx)) == 90
    assert _with_ctx(app, captured, lambda ctx: parse_length("90", ctx)) == 90


def test_ids_stay_unique_when_many_are_created_at_once(db_url, tmp_path):
    app, _ = build_app(db_url, tmp_path)
    refs: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def create() -> None:
        try:
            start.wait()
            for _ in range(5):
                with app.db.session() as session:
                    refs.append(MEETING_IDS.next(session, 2026)[1])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(refs) == [f"M-2026-{n:04d}" for n in range(1, 41)]
    with app.db.session() as session:
        assert MEETING_IDS.next(session, 2027)[1] == "M-2027-0001"  # each year counts from 1
        assert ACTION_IDS.next(session, 2026)[1] == "A-2026-0001"
        assert {(c.prefix, c.year, c.last) for c in session.exec(select(RecordCounter))} == {
            ("M", 2026, 40), ("M", 2027, 1), ("A", 2026, 1)}


def test_a_collect_step_can_acknowledge_records_with_its_own_template(db_url, tmp_path, clock):
    """Engine: `Step(collected=...)` names the template that acknowledges collected items, for
    items that are records (dicts) rather than words."""
    app, _ = build_app(db_url, tmp_path)
    own = tmp_path / "templates"
    for locale in ("zh", "en"):
        (own / locale / "pairs").mkdir(parents=True)
        (own / locale / "pairs" / "added.j2").write_text(
            "{% for p in added %}+{{ p.a }}={{ p.b }}{% endfor %} ({{ count }})\n",
            encoding="utf-8")
        (own / locale / "pairs" / "summary.j2").write_text(
            "{% set title %}OK?{% endset %}{{ answers.who }}\n", encoding="utf-8")
    app.renderer = Renderer("zh", extra=[TEST_TEMPLATES, own])

    def pair(answer, ctx):  # noqa: ANN001, ANN202
        a, _, b = answer.partition("=")
        if not b:
            raise InvalidAnswer("errors/answer_empty")
        return {"a": a.strip(), "b": b.strip()}

    saved = []
    app.registry.flow(Flow(
        name="pairs",
        steps=(Step("pairs", "test/topics", pair, collect=True, collected="pairs/added"),
               Step("who", "test/who", text())),
        summary="pairs/summary",
        finish=lambda ctx, answers: saved.append(answers) or [Reply("test/saved",
                                                                    {"answers": answers})],
    ))

    @app.registry.command("pairs")
    def start(ctx, args):  # noqa: ANN001, ANN202
        return ctx.app.engine.start(ctx, "pairs")

    chat = Chat(app, "alice")
    chat("/pairs")
    assert chat("x=1\ny = 2") == "+x=1+y=2 (2)"
    assert "拜访谁" in chat("done")
    chat("ACME")
    chat("x")  # anything but confirm keeps the summary open
    chat("确认")
    assert saved[0]["pairs"] == [{"a": "x", "b": "1"}, {"a": "y", "b": "2"}]
