"""Working calendars (issue 20): the arithmetic of working time under China's calendar with
its make-up workdays, `/calendar`, and the complaint clocks, warnings and escalation levels
that run on it, with a fake clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
from sqlmodel import select

from bot import workcal
from schedules.models import Reminder, Status
from tests.support import Chat, run_due
from tests.test_complaints import REF, _complaint, _file, _setup

SHANGHAI = ZoneInfo("Asia/Shanghai")
RECEIVED = datetime(2026, 9, 30, 17, 55, tzinfo=SHANGHAI)  # a Wednesday, the eve of 国庆
CN = workcal.build("cn", SHANGHAI, "09:00-18:00")


def _at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), SHANGHAI)


# -- the arithmetic ---------------------------------------------------------------------------


def test_24_working_hours_from_the_eve_of_national_day_end_on_the_make_up_saturday() -> None:
    deadline = workcal.add_working(CN, RECEIVED, timedelta(hours=24))
    days = [RECEIVED.date() + timedelta(days=i) for i in range(11)]
    counted = {d: workcal.working_between(CN, max(RECEIVED, _at(d, 0)),
                                          min(deadline, _at(d + timedelta(days=1), 0)))
               for d in days}
    # The holidays come from the package, not from this test.
    off = [d for d in days if not chinese_calendar.is_workday(d)]
    assert off and all(counted[d] == timedelta(0) for d in off)
    assert all(chinese_calendar.is_holiday(d) for d in off)
    assert counted[date(2026, 9, 30)] == timedelta(minutes=5)  # 17:55-18:00
    assert counted[date(2026, 10, 8)] == counted[date(2026, 10, 9)] == timedelta(hours=9)
    assert sum(counted.values(), timedelta(0)) == timedelta(hours=24)
    # 14:55 on Saturday 10 October, a day the package lists as a make-up workday.
    assert deadline == datetime(2026, 10, 10, 14, 55, tzinfo=SHANGHAI)
    assert deadline.weekday() == 5 and chinese_calendar.is_workday(deadline.date())
    assert chinese_calendar.get_holiday_detail(deadline.date())[0] is False
    assert workcal.working_between(CN, RECEIVED, deadline) == timedelta(hours=24)
    assert workcal.subtract_working(CN, deadline, timedelta(hours=24)) == RECEIVED


def test_next_working_start_next_workday_and_a_warning_kept_in_working_time() -> None:
    holiday = _at(date(2026, 10, 3), 3)  # 03:00 on a holiday
    assert workcal.next_working_start(CN, holiday) == _at(date(2026, 10, 8), 9)
    assert workcal.next_workday(CN, _at(date(2026, 10, 9), 17)) == _at(date(2026, 10, 10), 9)
    assert workcal.end_of_next_workday(CN, RECEIVED) == _at(date(2026, 10, 8), 18)
    # A warning that would fall at 03:00 moves to the next working start ...
    assert workcal.in_working_time(CN, holiday, _at(date(2026, 10, 9), 12)) == _at(
        date(2026, 10, 8), 9)
    # ... unless the deadline itself comes before that.
    assert workcal.in_working_time(CN, holiday, _at(date(2026, 10, 5), 12)) == holiday
    # 24x7 is the wall clock, and "next workday" stays Monday to Friday at 09:00.
    always = workcal.build("24x7", SHANGHAI)
    assert workcal.add_working(always, RECEIVED, timedelta(hours=24)) == RECEIVED + timedelta(
        hours=24)
    assert workcal.next_workday(always, _at(date(2026, 10, 2), 10)) == _at(date(2026, 10, 5), 9)


def test_country_calendars_hours_per_weekday_and_company_days_off() -> None:
    us = workcal.build("us", ZoneInfo("America/New_York"), "mon-fri 09:00-17:00, sat 10:00-12:00",
                       {date(2026, 7, 6): "Offsite"})
    marked = {d: (working, why) for d, working, why in workcal.days(us, date(2026, 7, 2), 6)}
    assert marked[date(2026, 7, 2)] == (True, "")
    working, why = marked[date(2026, 7, 3)]
    assert working is False and "Independence Day" in why
    assert marked[date(2026, 7, 4)][0] is False  # a Saturday, but a public holiday
    assert marked[date(2026, 7, 5)] == (False, "")  # Sunday
    assert marked[date(2026, 7, 6)] == (False, "Offsite")
    assert us.period(date(2026, 7, 11))[1].hour == 12  # Saturdays 10:00-12:00
    assert workcal.format_hours(us.hours) == "mon-fri 09:00-17:00, sat 10:00-12:00"
    assert not workcal.known("xx") and workcal.known("gb") and workcal.known("cn")


# -- /calendar ---------------------------------------------------------------------------------


def test_calendar_commands_set_add_a_day_off_and_show_30_days(db_url, tmp_path, clock) -> None:
    clock.move_to(datetime(2026, 9, 25, 2, 0, tzinfo=UTC))
    app, _ = _setup(db_url, tmp_path)
    admin, carol = Chat(app, "admin"), Chat(app, "carol")
    assert "24x7" in admin("/calendar show")
    assert "cn" in admin("/calendar set complaints cn 09:00-18:00")
    assert "公司年会" in admin("/calendar holiday add 2027-02-09 公司年会")
    assert "团建" in admin("/calendar holiday add 2026-09-29 团建")
    shown = admin("/calendar show complaints")
    assert "✅ 2026-09-28 周一 09:00-18:00" in shown
    assert "⛔ 2026-09-29 周二 休息:团建" in shown
    assert "⛔ 2026-09-27 周日 休息" in shown
    # National Day and its make-up Saturday, as the package lists them.
    for day in (date(2026, 9, 25) + timedelta(days=i) for i in range(30)):
        if chinese_calendar.is_holiday(day) and day != date(2026, 9, 29):
            assert f"⛔ {day.isoformat()}" in shown
        elif day.weekday() == 5:
            assert f"✅ {day.isoformat()} 周六 09:00-18:00(调休上班)" in shown
    assert "✅ 2026-10-10 周六" in shown
    # The default calendar is still 24x7 elsewhere.
    assert "24x7" in admin("/calendar show meetings")
    # Bad input: a polite answer, nothing stored.
    assert "没有名为“mars”的日历" in admin("/calendar set complaints mars")
    assert "看不懂工作时间" in admin("/calendar set complaints cn 9-18")
    assert "不是日期" in admin("/calendar holiday add 2027-02-30 假")
    assert "24x7" not in carol("/calendar set complaints 24x7")
    assert "cn" in admin("/calendar show complaints")


# -- the complaint clocks on the cn calendar ----------------------------------------------------


def _cn_app(db_url, tmp_path, clock, **complaints):  # noqa: ANN001, ANN202
    clock.move_to(RECEIVED.astimezone(UTC))
    app, room = _setup(db_url, tmp_path, complaints={"sla": "24h", "reminders": "75%,90%",
                                                     **complaints})
    Chat(app, "admin")("/calendar set complaints cn 09:00-18:00")
    return app, room


def _pending(app, kind: str) -> dict[str, datetime]:  # noqa: ANN001
    with app.db.session() as s:
        rows = s.exec(select(Reminder).where(Reminder.kind == kind,
                                             Reminder.status == Status.PENDING)).all()
        return {r.key: r.due_at for r in rows}


def test_the_national_day_complaint_and_its_warnings_in_working_hours(db_url, tmp_path,
                                                                      clock) -> None:
    app, room = _cn_app(db_url, tmp_path, clock)
    out = _file(Chat(app, "alice"))
    card = next(o for o in out if o.address.purpose == "complaints").message.text
    assert "2026年10月10日 周六 14:55" in card and "(剩 24 个工作小时)" in card
    c = _complaint(app)
    assert c.due_at == datetime(2026, 10, 10, 14, 55, tzinfo=SHANGHAI)
    assert c.resolve_due_at == workcal.add_working(CN, RECEIVED, timedelta(days=3))

    warnings = _pending(app, "complaint.response_due")
    assert warnings == {
        f"complaint:{REF}:due:75pct": datetime(2026, 10, 9, 17, 55, tzinfo=SHANGHAI),
        f"complaint:{REF}:due:90pct": datetime(2026, 10, 10, 12, 31, tzinfo=SHANGHAI)}
    assert all(workcal.is_working(CN, at) for at in warnings.values())

    clock.move_to(datetime(2026, 10, 5, 3, 0, tzinfo=SHANGHAI))  # mid-holiday: nothing
    assert run_due(app) == []
    clock.move_to(datetime(2026, 10, 9, 17, 55, tzinfo=SHANGHAI))
    (three_quarters,) = run_due(app)
    assert three_quarters.address.user == "bob"
    assert three_quarters.message.title == f"⏰ 投诉 {REF} 还剩 6 个工作小时 需要首次响应"
    clock.move_to(datetime(2026, 10, 10, 12, 31, tzinfo=SHANGHAI))
    (ninety,) = run_due(app)
    assert "还剩 2.4 个工作小时" in ninety.message.title
    # The breach comes at the deadline itself, a Saturday that is a working day.
    clock.move_to(datetime(2026, 10, 10, 14, 55, tzinfo=SHANGHAI))
    assert {o.address.user or o.address.channel for o in run_due(app)} == {"bob", "C-ESC"}


def test_a_pause_during_the_holiday_and_the_resume(db_url, tmp_path, clock) -> None:
    app, _ = _cn_app(db_url, tmp_path, clock)
    _file(Chat(app, "alice"))
    bob = Chat(app, "bob")
    clock.move_to(datetime(2026, 10, 3, 10, 0, tzinfo=SHANGHAI))
    assert "暂停" in bob(f"/complaint pause {REF} 等客户提供订单号")
    c = _complaint(app)
    assert (c.response_worked, c.resolve_worked) == (300, 300)  # 17:55-18:00, then holiday
    assert _pending(app, "complaint.response_due") == {}

    clock.move_to(datetime(2026, 10, 8, 11, 0, tzinfo=SHANGHAI))
    out = bob(f"/complaint resume {REF}")
    c = _complaint(app)
    # 23 h 55 min of working time left: 7 h on the 8th, 9 h on the 9th, 7 h 55 min on the 10th.
    assert c.due_at == datetime(2026, 10, 10, 16, 55, tzinfo=SHANGHAI)
    assert c.resolve_due_at == workcal.add_working(
        CN, datetime(2026, 10, 8, 11, 0, tzinfo=SHANGHAI), timedelta(hours=72, minutes=-5))
    assert c.response_worked == 300
    assert "恢复" in out or "继续" in out

    # Paused again on a working morning: the record keeps what both clocks used.
    clock.move_to(datetime(2026, 10, 9, 10, 0, tzinfo=SHANGHAI))
    bob(f"/complaint pause {REF} 客户出差")
    c = _complaint(app)
    assert c.response_worked == c.resolve_worked == 300 + 8 * 3600
    shown = bob(f"/complaint show {REF}")
    assert "计时暂停" in shown and "15.9 个工作小时" in shown


# -- escalation levels -----------------------------------------------------------------------


def test_two_escalation_levels_fire_and_stop_when_the_complaint_is_answered(
        db_url, tmp_path, clock) -> None:
    app, _ = _setup(db_url, tmp_path, complaints={
        "escalate": "+2h: @lead, +4h: @boss, +1d: @carol"})
    for name in ("lead", "boss"):
        Chat(app, name)("/whoami")
    _file(Chat(app, "alice"))
    due = _complaint(app).due_at
    clock.move_to(due)
    assert len(run_due(app)) == 2  # level 1: the owner and the escalations channel
    assert "升级级别 1" in Chat(app, "bob")(f"/complaint show {REF}")

    clock.move_to(due + timedelta(hours=2))
    (second,) = run_due(app)
    assert second.address.user == "lead" and "第 2 级升级" in second.message.title
    assert "升级级别 2" in Chat(app, "bob")(f"/complaint show {REF}")
    # The lead may be reminded again, but not past the next level.
    lead = Chat(app, "lead")
    level_two = next(int(c.value.split()[2]) for c in second.message.choices)
    assert "来不及" in lead(f"/remind snooze {level_two} next-workday")

    clock.move_to(due + timedelta(hours=4))
    (third,) = run_due(app)
    assert third.address.user == "boss" and "第 3 级升级" in third.message.title
    assert "升级级别 3" in Chat(app, "bob")(f"/complaint show {REF}")

    Chat(app, "bob")(f"/complaint respond {REF} 已致电客户")
    clock.move_to(due + timedelta(days=2))
    assert run_due(app) == []  # carol's level never comes
    with app.db.session() as s:
        carol = s.exec(select(Reminder).where(Reminder.target_id == "carol",
                                              Reminder.kind == "complaint.escalate")).one()
        assert carol.status == Status.CANCELLED
    assert _complaint(app).escalation_level == 3


# -- remind me again (the console; Slack and DingTalk in test_remind_again.py) ----------------


def test_every_personal_reminder_offers_remind_me_again(db_url, tmp_path, clock) -> None:
    app, _ = _cn_app(db_url, tmp_path, clock)
    _file(Chat(app, "alice"))
    clock.move_to(datetime(2026, 10, 9, 17, 55, tzinfo=SHANGHAI))
    (warning,) = run_due(app)
    values = [c.value for c in warning.message.choices]
    rid = int(values[0].split()[2])
    assert values == [f"/remind snooze {rid} {w}" for w in
                      ("30m", "1h", "2h", "tomorrow-morning", "next-workday")]
    assert [c.label for c in warning.message.choices] == [
        "30 分钟后", "1 小时后", "2 小时后", "明天早上", "下个工作日"]
    bob = Chat(app, "bob")
    Chat(app, "admin")("/calendar set default cn 09:00-18:00")  # everyone's calendar
    # Already sent, it comes back an hour from now ...
    assert "2026年10月9日 周五 18:55" in bob(f"/remind snooze {rid} 1h")
    clock.move_to(datetime(2026, 10, 9, 18, 55, tzinfo=SHANGHAI))
    (again,) = run_due(app)
    assert again.address.user == "bob" and "需要首次响应" in again.message.title
    # ... and the next working day (Saturday the 10th, a make-up workday) is allowed,
    assert "2026年10月10日 周六 09:00" in bob(f"/remind snooze {rid} next-workday")
    # while a note on the complaint leaves the moved reminder where bob put it.
    bob(f"/complaint note {REF} 已发邮件")
    with app.db.session() as s:
        row = s.get(Reminder, rid)
        assert row.status == Status.PENDING
        assert row.due_at == datetime(2026, 10, 10, 9, 0, tzinfo=SHANGHAI)
    # Past the deadline (Saturday 14:55) it is refused, politely.
    clock.move_to(datetime(2026, 10, 10, 9, 0, tzinfo=SHANGHAI))
    run_due(app)
    refused = bob(f"/remind snooze {rid} tomorrow-morning")
    assert "推迟到截止之后就来不及了" in refused and "最晚可以推迟到" in refused


# -- everything that says "workday" ----------------------------------------------------------


def test_workdays_digests_and_minutes_follow_the_calendar(db_url, tmp_path, clock) -> None:
    from handlers.meetings.models import Meeting
    from schedules.scheduler import ReminderScheduler
    from tests.support import recording_adapters
    from tests.test_actions import _minutes
    from tests.test_meetings import _app, _new, _shift_to

    clock.move_to(datetime(2026, 9, 28, 2, 0, tzinfo=UTC))  # Monday 10:00 in Shanghai
    app = _app(db_url, tmp_path, meetings={"minutes_by": "next-workday"})
    Chat(app, "admin")("/calendar set default cn 09:00-18:00")
    alice = Chat(app, "alice")
    _new(alice, "ACME", "9月30日下午4点")
    with app.db.session() as s:
        meeting = s.exec(select(Meeting)).one()
        # Minutes by the end of the next working day: after 国庆, Thursday 8 October 18:00.
        assert meeting.minutes_due_at == datetime(2026, 10, 8, 18, 0, tzinfo=SHANGHAI)
    _shift_to(clock, app, "2026-09-30 17:05")
    assert "A-2026-0001" in _minutes(alice, "M-2026-0001", "发送报价单 @bob 下个工作日",
                                     "确认合同 @carol 今天下午5点半")
    assert "2026年10月8日 周四 09:00" in Chat(app, "bob")("/remind list")

    # The contract is overdue from the 30th on; the digest skips the holiday and comes back
    # on the first working day, and on the make-up Saturday.
    _shift_to(clock, app, "2026-10-09 09:30")
    scheduler = ReminderScheduler(app, recording_adapters())
    assert scheduler.plan_digest() == 1
    holiday = datetime(2026, 10, 3, 9, 30, tzinfo=SHANGHAI)
    with app.db.session() as s:  # there is something overdue to tell ...
        assert any(p(s, holiday).get("meetings") for p in app.registry.digests)
    assert scheduler.plan_digest(holiday) == 0  # ... but not on a holiday
    assert scheduler.plan_digest(datetime(2026, 10, 10, 9, 30, tzinfo=SHANGHAI)) == 1


def test_escalation_targets_by_name_role_or_id_and_bad_settings_refused(db_url, tmp_path,
                                                                        clock) -> None:
    import pytest

    from bot.errors import ConfigError
    from handlers.complaints import store
    from tests.support import settings

    app, _ = _setup(db_url, tmp_path, complaints={
        "escalate": "+1d: agent, +2h: @nobody slack:UBOSS"})
    with app.db.session() as s:
        second, third = store.levels(s, app.settings)
    # Sorted by time; a name that finds nobody goes to the escalations channel.
    assert (second.number, second.after) == (2, timedelta(hours=2))
    assert second.targets == (("purpose", "escalations", ""), ("member", "UBOSS", "slack"))
    assert third.targets == (("member", "bob", "console"),)  # everyone holding the role
    for bad, setting in (({"escalate": "2h @lead"}, "LIAISON_COMPLAINT_ESCALATE"),
                         ({"reminders": "75%,120%"}, "LIAISON_COMPLAINT_WARN"),
                         ({"resolve": "huge=3d"}, "LIAISON_COMPLAINT_RESOLVE")):
        with pytest.raises(ConfigError, match=setting):
            settings(db_url, complaints=bad)
    with pytest.raises(ConfigError, match="LIAISON_CALENDAR"):
        settings(db_url, calendar={"default": "mars"})


def test_next_workday_is_one_word_list_in_answers_and_in_snooze(db_url, tmp_path, clock):
    """`/remind snooze` takes every way a time question takes of saying it (it refused
    下一个工作日 and "next working day" before)."""
    from tests.support import build_app
    from tests.test_first_week import _plan

    app, _ = build_app(db_url, tmp_path)
    rid = _plan(app, "far", datetime(2026, 12, 3, 1, 0, tzinfo=UTC))  # Thu 3 Dec, 09:00
    alice = Chat(app, "alice")
    alice("/lang en")
    assert "to Fri 4 Dec 2026, 09:00" in alice(f"/remind snooze {rid} 下一个工作日")
    assert "to Mon 7 Dec 2026, 09:00" in alice(f"/remind snooze {rid} next working day")
    assert "to Tue 8 Dec 2026, 09:00" in alice(f"/remind snooze {rid} Next-Workday")
    assert all(workcal.says_next_workday(w) for w in workcal.NEXT_WORKDAY_WORDS)
