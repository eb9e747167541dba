"""The weekly review (复盘): figures with known answers on a seeded database (SQLite and
PostgreSQL), across a DST change in America/New_York; the chart; the weekly post, once per
channel and week; `/review` on demand."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlmodel import select

from bot.models import ChannelRoute
from handlers.review import chart, figures
from schedules.models import Reminder
from schedules.scheduler import ReminderScheduler
from tests import seed
from tests.support import Chat, build_app, recording_adapters, run_due

NY = ZoneInfo("America/New_York")
# Monday 2 November 2026, 10:00 in New York: the day after clocks went back (1 November).
NOW = datetime(2026, 11, 2, 10, 0, tzinfo=NY)


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


@pytest.fixture(autouse=True)
def _numbered_from_one() -> None:
    seed.reset()


@pytest.fixture
def app(db_url: str, tmp_path):  # noqa: ANN001, ANN201
    app, _ = build_app(db_url, tmp_path, timezone="America/New_York")
    yield app
    app.db.dispose()


def seed_weeks(app) -> None:  # noqa: ANN001
    h = timedelta(hours=1)
    with app.db.session() as s:
        # last week, Monday 26 October to Sunday 1 November (169 hours: DST ends on Sunday)
        a = seed.complaint(s, ny(2026, 10, 26, 9), responded=ny(2026, 10, 26, 11))  # 2 h
        a.resolved_at, a.satisfaction, a.followup_at = ny(2026, 10, 30, 9), 4, ny(2026, 10, 30, 9)
        # answered one minute late
        seed.complaint(s, ny(2026, 10, 27, 9), responded=ny(2026, 10, 28, 9, 1))
        # paused for 3 hours: its deadline moved by 3 h; answered 26 h after it came in
        c = seed.complaint(s, ny(2026, 10, 28, 10), paused=3 * h,
                           responded=ny(2026, 10, 28, 10) + 26 * h)
        c.satisfaction, c.followup_at = 5, ny(2026, 10, 31, 9)
        # not answered; its deadline (Sunday 00:30 EDT + 24 h) passed before the week ended
        seed.complaint(s, ny(2026, 11, 1, 0, 30))
        # Sunday 23:45 EST, in the hour the clock change adds: 04:45 UTC on Monday
        late_night = datetime(2026, 11, 2, 4, 45, tzinfo=UTC)
        seed.complaint(s, late_night, responded=late_night + timedelta(minutes=10))
        # the week before
        f = seed.complaint(s, ny(2026, 10, 20, 9), responded=ny(2026, 10, 20, 10))
        f.resolved_at = ny(2026, 10, 21, 9)
        # this week (not counted)
        seed.complaint(s, ny(2026, 11, 2, 8))

        m1 = seed.meeting(s, ny(2026, 10, 27, 14), minutes=ny(2026, 10, 27, 16))
        seed.meeting(s, ny(2026, 10, 29, 14), minutes=ny(2026, 10, 29, 17, 1))  # a minute late
        seed.meeting(s, ny(2026, 10, 30, 14), status="cancelled")
        seed.action(s, m1, ny(2026, 10, 29, 9), done=ny(2026, 10, 28, 9))
        seed.action(s, m1, ny(2026, 10, 30, 9))  # overdue at the end
        seed.action(s, m1, ny(2026, 11, 5, 9))  # not due yet

        seed.comm(s, executed=ny(2026, 10, 27, 9), reviewed=ny(2026, 10, 29, 9), score=4)
        seed.comm(s, executed=ny(2026, 10, 28, 9))
        seed.comm(s, executed=ny(2026, 10, 20, 9), reviewed=ny(2026, 10, 30, 9), score=5)

        seed.talking_point(s, ny(2026, 11, 20, 9))  # expires within 30 days of the end
        seed.talking_point(s, ny(2026, 12, 20, 9))
        seed.talking_point(s, ny(2026, 11, 10, 9), status="retired")
        seed.press(s, ny(2026, 10, 29, 9))
        seed.press(s, None)


def test_last_weeks_figures_have_the_known_answers(app) -> None:  # noqa: ANN001
    seed_weeks(app)
    period = figures.last_week(NOW, NY)
    assert (period.first_day.isoformat(), period.last_day.isoformat()) == (
        "2026-10-26", "2026-11-01")
    assert period.end - period.start == timedelta(hours=169)
    with app.db.session() as s:
        got = figures.compute(s, period, now=NOW).values
    assert got["received"] == (5, 1)
    assert got["in_time"] == (3, 1)
    assert got["in_time_pct"] == (60.0, 100.0)
    # first responses 10 min, 2 h, 23 h (26 h less 3 h paused), 24 h 1 min: nearest rank
    assert got["first_response_median"] == (7200.0, 3600.0)
    assert got["first_response_p90"] == (86460.0, 3600.0)
    assert got["breaches"] == (2, 0)  # one minute late, and the one never answered
    assert got["open_at_end"] == (4, 0)
    assert got["satisfaction_avg"] == (4.5, None)
    assert got["satisfaction_count"] == (2, 0)
    assert got["meetings_held"] == (2, 0)
    assert got["minutes_in_time_pct"] == (50.0, None)
    assert got["actions_done"] == (1, 0)
    assert got["actions_overdue"] == (1, 0)
    assert got["comm_executed"] == (2, 1)
    assert got["comm_reviewed"] == (2, 0)
    assert got["comm_score_avg"] == (4.5, None)
    assert got["tp_expiring"] == (1, 1)  # 20 Nov is within 30 days of either end
    assert got["press_published"] == (1, 0)
    assert got["disputes_open"] == (None, None)


def test_the_trend_counts_eight_weeks_in_the_teams_zone(app) -> None:  # noqa: ANN001
    seed_weeks(app)
    period = figures.last_week(NOW, NY)
    with app.db.session() as s:
        trend = figures.trend(s, period.end, NY)
        spread = figures.response_times(s, period)
    assert [d.isoformat() for d in trend.weeks][-2:] == ["2026-10-19", "2026-10-26"]
    assert len(trend.weeks) == 8
    assert trend.received == [0, 0, 0, 0, 0, 0, 1, 5]
    assert trend.in_time_pct[-2:] == [100.0, 60.0]
    assert trend.in_time_pct[0] is None
    assert spread == [1, 1, 0, 1, 1]  # <1 h, 1–4 h, 4–8 h, 8–24 h (23 h), ≥24 h (24 h 1 min)


def test_the_chart_is_a_png_of_the_expected_size(app) -> None:  # noqa: ANN001
    seed_weeks(app)
    period = figures.last_week(NOW, NY)
    with app.db.session() as s:
        trend = figures.trend(s, period.end, NY)
        spread = figures.response_times(s, period)
    from bot.web.app import labels

    png = chart.render(trend, spread, labels("zh")["chart"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == chart.CHART_SIZE == (1000, 400)
    assert chart.cjk_font() is not None, "a CJK font is installed by the project's set-up"


def test_periods_people_type(app) -> None:  # noqa: ANN001
    month = figures.period_from("month", NOW, NY)
    assert (month.first_day.isoformat(), month.last_day.isoformat()) == (
        "2026-10-01", "2026-10-31")
    span = figures.period_from("2026-10-1..2026-10-15", NOW, NY)
    assert (span.first_day.isoformat(), span.prev_start.date().isoformat()) == (
        "2026-10-01", "2026-09-16")
    assert figures.period_from("2026-10-15..2026-10-01", NOW, NY) is None
    assert figures.period_from("soon", NOW, NY) is None


def test_review_on_demand_answers_privately_with_both_periods(app) -> None:  # noqa: ANN001
    seed_weeks(app)
    with time_machine.travel(NOW, tick=False):
        out = Chat(app, "alice").say("/review")
        answer = "\n".join(o.message.text for o in out)
        assert all(o.address.in_reply for o in out)
        assert "2026-10-26 – 2026-11-01" in answer
        assert "收到投诉:5(1)" in answer
        assert "按时回复率(%):60.0%(100.0%)" in answer
        assert "未结纠纷:暂未记录" in answer
        Chat(app, "alice")("/lang en")
        english = Chat(app, "alice")("/review")
        assert "Complaints received: 5 (1)" in english
        assert "First response, 90th percentile: 1d (1h)" in english
        refused = Chat(app, "alice")("/review next-tuesday")
        assert '"next-tuesday" is not a period I know' in refused


def test_the_weekly_review_goes_once_to_each_routed_channel(app) -> None:  # noqa: ANN001
    seed_weeks(app)
    with app.db.session() as s:
        for purpose, platform, channel in (("complaints", "slack", "C1"),
                                           ("meetings", "slack", "C1"),
                                           ("pr", "dingtalk", "G1"),
                                           ("training", "slack", "C9")):
            s.add(ChannelRoute(purpose=purpose, platform=platform, channel_id=channel))
    adapters = recording_adapters()
    scheduler = ReminderScheduler(app, adapters)
    with time_machine.travel(NOW, tick=False):
        first = scheduler.plan_review(NOW.astimezone(UTC))
        again = scheduler.plan_review(NOW.astimezone(UTC))  # another replica, same Monday
        assert first == again == ["review:2026-10-26:dingtalk:G1", "review:2026-10-26:slack:C1"]
        sent = run_due(app, adapters)
    with app.db.session() as s:
        rows = s.exec(select(Reminder).where(Reminder.kind == "review.weekly")).all()
    assert len(rows) == 2
    posted = {(o.address.platform, o.address.channel): o.message.text for o in sent}
    assert len(sent) == 2
    assert set(posted) == {("slack", "C1"), ("dingtalk", "G1")}
    assert "收到投诉:5(1)" in posted[("slack", "C1")]
