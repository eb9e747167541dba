"""A person's calendar is their team's (issue 20), and a channel tied to a team counts the
weekly review's weeks in that team's time zone (issue 19). China's holidays come from the
`chinesecalendar` package, not from this file."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
from sqlmodel import select

from bot import teams
from bot.messages import Reply
from bot.models import AuditEntry, TeamChannel
from handlers.calendar import store
from handlers.calendar.models import CalendarChoice
from schedules import api
from schedules.api import Target
from schedules.models import Reminder
from schedules.scheduler import ReminderScheduler
from tests import seed
from tests.support import Chat, build_app, recording_adapters, run_due

SHANGHAI = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
EVE = datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)  # a Wednesday, the eve of 国庆


def _next_workday_by_the_package(day: date) -> date:
    day += timedelta(days=1)
    while not chinese_calendar.is_workday(day):
        day += timedelta(days=1)
    return day


def _remind(app, user: str, key: str) -> int:  # noqa: ANN001
    """A personal reminder, sent, that its person may move ("remind me again")."""
    with app.db.session() as session:
        row = api.plan(session, key=key, kind="test.again", due=EVE.astimezone(UTC),
                       target=Target.member("console", user))
        session.flush()
        return int(row.id)


def _people(db_url, tmp_path, clock):  # noqa: ANN001, ANN202
    clock.move_to(EVE.astimezone(UTC))
    app, _ = build_app(db_url, tmp_path)
    app.registry.reminder_kind("test.again")(
        lambda session, reminder, now: Reply("test/card", {"answers": {"who": "ACME"}}))
    admin, bob, carol = Chat(app, "admin"), Chat(app, "bob"), Chat(app, "carol")
    bob("/whoami")
    carol("/whoami")
    admin("/team add 客服部 @bob")
    return app, admin, bob, carol


def test_next_working_day_is_by_the_persons_team_calendar(db_url, tmp_path, clock) -> None:
    app, admin, bob, carol = _people(db_url, tmp_path, clock)
    # The first working day after the eve, as the package lists the holidays: after 国庆.
    after = _next_workday_by_the_package(EVE.date())
    assert after > EVE.date() + timedelta(days=1)
    assert all(chinese_calendar.is_holiday(EVE.date() + timedelta(days=i))
               for i in range(1, (after - EVE.date()).days))

    assert "客服部" in admin("/calendar set 客服部 cn 09:00-18:00")
    assert "客服部" in admin("/calendar show 客服部")
    # A name that is neither a purpose nor a team: the usage, nothing changed.
    refused = admin("/calendar set 火星组 cn 09:00-18:00")
    assert "团队名" in refused and "什么都没有改动" in refused
    # Without a name, `/calendar` shows the asker's own calendar.
    assert "工作日历：客服部" in bob("/calendar").replace(":", "：")
    assert "日历 cn" in bob("/calendar") and "24x7" in carol("/calendar")
    bob_id, carol_id = _remind(app, "bob", "r-bob"), _remind(app, "carol", "r-carol")
    run_due(app)  # sent: each carries "remind me again"
    # bob's team works by `cn`: the holidays are skipped.
    moved = bob(f"/remind snooze {bob_id} next-workday")
    assert f"{after.year}年{after.month}月{after.day}日" in moved and "09:00" in moved
    # carol has no team: the default calendar, 24x7, gives the next calendar day.
    assert "2026年10月1日 周四 09:00" in carol(f"/remind snooze {carol_id} next-workday")
    with app.db.session() as s:
        due = {r.key: r.due_at for r in s.exec(select(Reminder).where(
            Reminder.kind == "test.again")).all()}
    assert due["r-bob"] == datetime.combine(after, datetime.min.time(), SHANGHAI).replace(
        hour=9)
    assert due["r-carol"] == datetime(2026, 10, 1, 9, 0, tzinfo=SHANGHAI)

    # "Next workday" typed in a conversation reads the same calendar.
    bob("/visit new who=ACME kind=media score=3 owner=我")
    summary = "\n".join(o.message.body or o.message.text for o in bob.say("下个工作日"))
    if "话题" in summary:
        summary = "\n".join(o.message.body or o.message.text for o in bob.say("完成"))
    assert f"{after.year}年{after.month}月{after.day}日" in summary

    # In English, the same rule: from the 8th, the next working day by the package.
    bob("/lang en")
    later = _next_workday_by_the_package(after)

    def shown(day: date) -> str:
        return f"{day:%a} {day.day} {day:%b} {day.year}, 09:00"

    assert f"moved from {shown(after)} to {shown(later)}" in bob(
        f"/remind snooze {bob_id} next-workday")
    carol("/lang en")
    assert "moved from Thu 1 Oct 2026, 09:00 to Fri 2 Oct 2026, 09:00" in carol(
        f"/remind snooze {carol_id} next-workday")


def test_several_teams_the_first_by_name_with_a_calendar_is_theirs(db_url, tmp_path,
                                                                    clock) -> None:
    app, admin, bob, _ = _people(db_url, tmp_path, clock)
    admin("/calendar set 客服部 cn 09:00-18:00")
    admin("/team add A组 @bob")  # first by name, but without a calendar: 客服部's counts
    with app.db.session() as s:
        member = s.exec(select(teams.Member).where(teams.Member.user_id == "bob")).one()
        assert store.person_calendar(s, app.settings, member).name == "cn"
    admin("/calendar set A组 us 09:00-17:00")  # now the first by name has one: its calendar
    with app.db.session() as s:
        member = s.exec(select(teams.Member).where(teams.Member.user_id == "bob")).one()
        assert store.person_calendar(s, app.settings, member).name == "us"
    # A deleted team's calendar goes with it.
    admin("/team delete A组")
    with app.db.session() as s:
        member = s.exec(select(teams.Member).where(teams.Member.user_id == "bob")).one()
        assert store.person_calendar(s, app.settings, member).name == "cn"
        assert len(s.exec(select(CalendarChoice)).all()) == 1


# -- channels tied to a team: the weekly review in the team's zone ----------------------------


def _review_app(db_url, tmp_path):  # noqa: ANN001, ANN202
    app, _ = build_app(db_url, tmp_path, timezone="Asia/Shanghai", dashboard=True,
                       web_secret="s" * 32, public_url="https://liaison.example.com")
    admin = Chat(app, "admin")
    bob, nancy = Chat(app, "bob"), Chat(app, "nancy")
    bob("/whoami")
    nancy("/whoami")
    admin("/team add 上海组 @bob")
    admin("/team add NY @nancy")
    admin("/team tz 上海组 Asia/Shanghai")
    admin("/team tz NY America/New_York")
    sh, ny = (Chat(app, "admin", channel=c, direct=False) for c in ("C-SH", "C-NY"))
    sh("/route complaints here")
    ny("/route pr here")
    return app, admin, sh, ny, bob, nancy


def test_team_channel_ties_a_channel_to_a_team(db_url, tmp_path, clock) -> None:
    app, admin, sh, ny, _, _ = _review_app(db_url, tmp_path)
    assert "本频道现归属团队 上海组:每周复盘按 Asia/Shanghai 时区划分周期" in sh(
        "/team channel 上海组")
    assert "本频道现归属团队 NY" in ny("/团队 频道 ny")
    assert "私聊不能归属团队" in admin("/team channel NY")
    refused = Chat(app, "carol", channel="C-NY", direct=False)("/team channel 上海组")
    assert "没有权限" in refused and "本频道现归属" not in refused
    assert "没有名为 “火星组” 的团队" in sh("/team channel 火星组")
    listed = admin("/team list")
    assert "• 上海组(Asia/Shanghai):bob;频道:控制台 C-SH" in listed
    assert "• NY(America/New_York):nancy;频道:控制台 C-NY" in listed
    # Moving a channel to another team, and untying it, is audited.
    admin("/lang en")
    en = Chat(app, "admin", channel="C-SH", direct=False)
    assert "This channel moved from team 上海组 to team NY" in en("/team channel NY")
    assert "no longer belongs to team NY" in en("/team channel off")
    assert "did not belong to any team" in en("/team channel off")
    assert "Usage" in en("/team channel")
    assert "nancy; channels: console C-NY" in en("/team list")
    with app.db.session() as s:
        audit = s.exec(select(AuditEntry).where(AuditEntry.record_type == "team",
                                                AuditEntry.action.like("channel%"))  # type: ignore[attr-defined]
                       .order_by(AuditEntry.id)).all()
        assert [(a.record_id, a.action) for a in audit] == [
            ("上海组", "channel_tie"), ("NY", "channel_tie"), ("NY", "channel_tie"),
            ("NY", "channel_untie")]
        assert [r.channel_id for r in s.exec(select(TeamChannel)).all()] == ["C-NY"]
    admin("/team delete NY")  # its channels are untied with it
    with app.db.session() as s:
        assert s.exec(select(TeamChannel)).all() == []


def test_weekly_review_weeks_in_the_zone_of_the_channels_team(db_url, tmp_path, clock) -> None:
    app, admin, sh, ny, bob, nancy = _review_app(db_url, tmp_path)
    sh("/team channel 上海组")
    ny("/team channel NY")
    # Monday 26 October 01:00 in Shanghai is still Sunday 25 October (13:00) in New York.
    filed = datetime(2026, 10, 26, 1, 0, tzinfo=SHANGHAI)
    with app.db.session() as s:
        seed.reset()
        seed.complaint(s, filed, responded=filed + timedelta(hours=1))
    # Monday 2 November 09:30 in Shanghai: Sunday evening in New York.
    now = datetime(2026, 11, 2, 9, 30, tzinfo=SHANGHAI)
    clock.move_to(now.astimezone(UTC))
    adapters = recording_adapters()
    keys = ReminderScheduler(app, adapters).plan_review(now.astimezone(UTC))
    assert keys == ["review:2026-10-26:console:C-NY", "review:2026-10-26:console:C-SH"]
    sent = run_due(app, adapters)
    assert [o.address.channel for o in sent] == ["C-SH"]  # New York's Monday has not begun
    shanghai = sent[0].message.text
    assert "2026-10-26 – 2026-11-01" in shanghai and "收到投诉:1(0)" in shanghai
    # The New York channel gets its week on its own Monday morning, the complaint in the
    # week before: Sunday 25 October there.
    clock.move_to(datetime(2026, 11, 2, 9, 30, tzinfo=NY).astimezone(UTC))
    (posted,) = run_due(app, adapters)
    assert posted.address.channel == "C-NY"
    assert "2026-10-26 – 2026-11-01" in posted.message.text
    assert "收到投诉:0(1)" in posted.message.text
    with app.db.session() as s:
        zones = {r.key: r.payload["zone"] for r in s.exec(select(Reminder).where(
            Reminder.kind == "review.weekly")).all()}
    assert zones == {"review:2026-10-26:console:C-NY": "America/New_York",
                     "review:2026-10-26:console:C-SH": "Asia/Shanghai"}

    # On demand, each asker's team zone: the same record, in different weeks.
    clock.move_to(datetime(2026, 11, 3, 10, 0, tzinfo=SHANGHAI).astimezone(UTC))
    assert "收到投诉:1(0)" in bob("/review")
    assert "收到投诉:0(1)" in nancy("/review")
    assert "收到投诉:1" in nancy("/review 2026-10-19..2026-10-25")
    from tests.test_dashboard import signed_in

    for who, counts in (("bob", ("1", "0")), ("nancy", ("0", "1"))):  # the same weeks
        page = signed_in(app, who).get("/dash/review?period=week").get_data(as_text=True)
        assert ('<tr><td>收到投诉</td>\n<td class="num">{}</td><td class="num">{}</td></tr>'
                .format(*counts)) in page
    nancy("/lang en")
    bob("/lang en")
    assert "Complaints received: 0 (1)" in nancy("/review")
    assert "Complaints received: 1 (0)" in bob("/review")


def test_an_owners_deadline_shows_working_hours_by_their_calendar(db_url, tmp_path,
                                                                  clock) -> None:
    from handlers.meetings.models import ActionItem

    app, admin, bob, carol = _people(db_url, tmp_path, clock)
    admin("/calendar set 客服部 cn 09:00-18:00")
    due = datetime(2026, 10, 8, 12, 0, tzinfo=SHANGHAI)  # the first working day after 国庆
    assert _next_workday_by_the_package(EVE.date()) == due.date()
    with app.db.session() as s:
        for n, who in ((1, "bob"), (2, "carol")):
            s.add(ActionItem(ref=f"A-2026-000{n}", origin="training", origin_ref="T-2026-0001",
                             what=f"Task {n}", owner_platform="console", owner_id=who,
                             owner_name=who, due_at=due))
    # bob works by `cn`: today 10:00-18:00, then nothing until the 8th, 09:00-12:00.
    assert "(剩 11 个工作小时)" in bob("/action list")
    assert "工作小时" not in carol("/action list")  # 24x7: the wall clock only
    # The reminder a day before, mid-holiday, says what is left of bob's working time.
    bob("/action due A-2026-0001 2026-10-08 12:00")
    clock.move_to(datetime(2026, 10, 7, 12, 0, tzinfo=SHANGHAI).astimezone(UTC))
    (before,) = [o for o in run_due(app) if o.address.user == "bob"]
    assert "(剩 3 个工作小时)" in before.message.text + (before.message.body or "")
    bob("/lang en")
    assert "(3 working hours left)" in bob("/action list")
