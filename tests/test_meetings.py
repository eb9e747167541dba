"""Partner meetings in the console, with a fake clock: the agenda before, the minutes and
action items after, and the reminders that make sure of both. The clock starts on Thursday
26 November 2026, 10:00 in Shanghai."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.models import AuditEntry
from handlers.meetings.models import Meeting
from schedules.models import Reminder, Status
from schedules.scheduler import ReminderScheduler
from tests.support import Chat, build_app, recording_adapters, run_due


def _app(db_url, tmp_path, **kw):  # noqa: ANN001, ANN202
    app, _ = build_app(db_url, tmp_path, **kw)
    Chat(app, "admin", channel="C-MEET", direct=False)("/route meetings here")
    for who in ("bob", "carol", "dave"):
        Chat(app, who)("/whoami")  # known to the bot, so they can be mentioned
    return app


def _new(chat: Chat, partner: str, start: str, *, attendees: str = "@bob @carol, 王经理(ACME)",
         title: str = "季度合作回顾") -> str:
    """Walk /meeting new with prefilled partner, title and start; returns the confirmation."""
    chat(f'/meeting new partner="{partner}" title="{title}" start="{start}"')
    chat("跳过")
    chat(attendees)
    chat("回顾上季度\n下季度计划")
    chat("完成")
    chat("跳过")
    chat("跳过")
    return chat("确认")


def _dms(out, user):  # noqa: ANN001, ANN202
    return [o.message.text for o in out if o.address.user == user and not o.address.in_reply
            and o.address.channel is None]


def _channel(out, channel="C-MEET"):  # noqa: ANN001, ANN202
    return [o.message.text for o in out if o.address.channel == channel
            and not o.address.in_reply]


def _shift_to(clock, app, local: str) -> None:  # noqa: ANN001
    """Move the fake clock to a local Shanghai time, e.g. '2026-11-30 15:00'."""
    from datetime import UTC, datetime

    target = datetime.fromisoformat(local).replace(tzinfo=app.settings.zone).astimezone(UTC)
    now = datetime.now(UTC)
    assert target >= now, (target, now)
    clock.shift(target - now)


def test_creating_a_meeting_asks_step_by_step_and_refuses_a_past_time(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    alice = Chat(app, "alice")
    assert "和哪个合作伙伴开会" in alice("/meeting new")
    assert "会议主题" in alice("ACME 公司")
    assert "什么时候开始" in alice("季度合作回顾")
    out = alice("昨天下午3点")
    assert "2026年11月25日 周三 15:00 (Asia/Shanghai) 已经过去了" in out
    assert "什么时候开始" in out
    out = alice("12月1日下午3点")
    assert "开始时间:2026年12月1日 周二 15:00 (Asia/Shanghai)" in out and "多长时间" in out
    assert "不在 5 分钟到 12 小时之间" in alice("两天")
    assert "谁参加" in alice("1h30m")
    assert "我还不认识 @zed" in alice("@zed")
    assert "议程有哪些" in alice("@bob @carol, 王经理(ACME)\njane@acme.com")
    assert "共 2 项" in alice("回顾上季度\n下季度计划")
    assert "资料" in alice("完成")
    alice("https://example.com/deck")
    assert "发到哪里" in alice("完成")
    summary = alice.say("跳过")[0].message
    assert summary.title == "请确认会议安排"
    assert "2026年12月1日 周二 15:00 (Asia/Shanghai),时长 1小时30分钟" in summary.body
    assert "@bob、@carol、王经理(ACME)(外部)、jane@acme.com(外部)" in summary.body
    assert "发布到:会议频道" in summary.body
    out = alice("确认")
    assert "已创建会议 M-2026-0001" in out
    assert "至 2026年12月1日 周二 16:30" in out
    with app.db.session() as s:
        meeting = s.exec(select(Meeting)).one()
        assert meeting.attendees == [
            {"platform": "console", "user_id": "bob", "name": "bob"},
            {"platform": "console", "user_id": "carol", "name": "carol"},
            {"name": "王经理(ACME)"}, {"name": "jane@acme.com"},
        ]
        assert meeting.materials == ["https://example.com/deck"]
        assert s.exec(select(AuditEntry).where(AuditEntry.record_id == "M-2026-0001")).one() \
            .action == "create"
    assert "M-2026-0001" in alice("/meeting list") and "没有符合条件" in alice("/meeting list past")
    assert "M-2026-0001" in alice("/meeting list partner acme 公司")
    out = alice("会议 新建 伙伴=ACME 主题=月度沟通 时间=12月8日上午10点")
    assert "开始时间:2026年12月8日 周二 10:00" in out and "多长时间" in out


def test_the_organiser_is_reminded_of_an_unsent_agenda_and_not_once_it_is_sent(
    db_url, tmp_path, clock
):
    app = _app(db_url, tmp_path)
    alice = Chat(app, "alice")
    assert "M-2026-0001" in _new(alice, "ACME", "12月1日下午3点")
    assert "M-2026-0002" in _new(alice, "Globex", "12月1日下午4点")
    _shift_to(clock, app, "2026-11-30 14:59")
    assert run_due(app) == []
    clock.shift(timedelta(minutes=1))  # 24 hours before the first meeting
    sent = run_due(app)
    assert [o.address.user for o in sent] == ["alice"]
    assert "议程还没有发出" in sent[0].message.text
    assert "M-2026-0001" in sent[0].message.text and "1天" in sent[0].message.text
    # The second meeting's agenda goes out before its reminder falls due.
    out = alice.say("/meeting agenda M-2026-0002")
    assert "已发送 M-2026-0002 的议程到会议频道,并私信了 2 位参会同事" in out[0].message.text
    post = _channel(out)
    assert len(post) == 1 and "会议议程:Globex · 季度合作回顾" in post[0]
    assert "1. 回顾上季度" in post[0] and "王经理(ACME)(外部)" in post[0]
    assert len(_dms(out, "bob")) == 1 and len(_dms(out, "carol")) == 1
    clock.shift(timedelta(hours=1))
    assert run_due(app) == []
    _shift_to(clock, app, "2026-12-01 13:00")  # two hours before: the first one repeats
    sent = run_due(app)
    assert len(sent) == 1 and "M-2026-0001" in sent[0].message.text
    assert "2小时" in sent[0].message.text
    _shift_to(clock, app, "2026-12-01 14:00")
    assert run_due(app) == []


def test_minutes_are_chased_daily_and_the_channel_hears_after_two_days(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    alice = Chat(app, "alice")
    _new(alice, "ACME", "明天上午10点")  # Friday 27 Nov, 10:00-11:00
    alice("/meeting agenda M-2026-0001")
    assert "开完再记录纪要" in alice("/meeting minutes M-2026-0001")
    _shift_to(clock, app, "2026-11-27 12:59")  # at the planned end: time is up, once
    sent = run_due(app)
    assert [o.message.template for o in sent] == ["meetings/time_up"]
    assert "时间到了" in sent[0].message.text and "/meeting minutes M-2026-0001" in \
        sent[0].message.text
    assert run_due(app) == []
    clock.shift(timedelta(minutes=1))  # two hours after the end
    sent = run_due(app)
    assert [o.address.user for o in sent] == ["alice"]
    assert "请记录会议纪要" in sent[0].message.text and "会议结束已 2小时" in sent[0].message.text
    clock.shift(timedelta(days=1))
    sent = run_due(app)
    assert [o.address.user for o in sent] == ["alice"]
    clock.shift(timedelta(days=1))
    sent = run_due(app)
    assert sorted((o.address.user or o.address.channel) for o in sent) == ["C-MEET", "alice"]
    assert "会议纪要逾期未记录" in _channel(sent)[0] and "组织者:@alice" in _channel(sent)[0]
    clock.shift(timedelta(days=1))
    assert [o.address.user for o in run_due(app)] == ["alice"]  # the channel was told once
    ReminderScheduler(app, recording_adapters()).plan_digest()
    digest = run_due(app)
    assert len(digest) == 1 and "M-2026-0001" in digest[0].message.text
    alice("/meeting minutes M-2026-0001")
    alice("双方同意继续合作。")
    alice("跳过")
    alice("跳过")
    assert "已记录 M-2026-0001 的纪要" in alice("确认")
    clock.shift(timedelta(days=1))
    assert run_due(app) == []


def test_minutes_with_three_action_items_go_out_and_their_owners_are_reminded(
    db_url, tmp_path, clock
):
    app = _app(db_url, tmp_path)
    alice = Chat(app, "alice")
    _new(alice, "ACME 公司", "明天上午10点")
    _shift_to(clock, app, "2026-11-27 11:30")
    assert "摘要" in alice("/meeting minutes m-2026-0001")
    assert "决定" in alice("双方回顾了上季度合作。\n下季度重点是交付。")
    alice("下季度价格不变\n每月对一次进度")
    assert "行动项,一次一项" in alice("完成")
    out = alice("发送报价单 @bob")
    assert "这一行没有记下" in out and "发送报价单 @bob" in out
    assert "这一行没有记下" in alice("发送报价单 @bob @carol 下周一")
    assert "已经过去了" in alice("发送报价单 @bob 昨天")
    out = alice("发送报价单 @bob 下周一下午5点")
    assert "已记下:发送报价单 · 负责人 @bob · 截止 2026年11月30日 周一 17:00" in out
    assert "共 1 项" in out
    alice("更新合同草案 @carol 截止 12月2日")
    assert "共 3 项" in alice("安排技术交流 @me 12月10日前")
    summary = alice.say("完成")[0].message
    assert summary.title == "请确认纪要"
    assert "• 更新合同草案 · 负责人 @carol · 截止 2026年12月2日 周三 09:00" in summary.body
    out = alice.say("确认")
    assert "创建 3 个行动项:A-2026-0001、A-2026-0002、A-2026-0003" in out[0].message.text
    post = _channel(out)
    assert len(post) == 1 and "会议纪要:ACME 公司 · 季度合作回顾" in post[0]
    assert "1. 下季度价格不变" in post[0]
    assert "A-2026-0003 安排技术交流 · 负责人 @alice" in post[0]
    assert len(_dms(out, "bob")) == 1 and len(_dms(out, "carol")) == 1
    assert _dms(out, "alice") == []  # the one who recorded them sees them already
    # bob's item: the day before, at the due time, then daily while overdue.
    _shift_to(clock, app, "2026-11-29 17:00")
    sent = run_due(app)
    assert [o.address.user for o in sent] == ["bob"]
    assert "行动项快到期了" in sent[0].message.text and "A-2026-0001" in sent[0].message.text
    assert "还有 1天" in sent[0].message.text
    _shift_to(clock, app, "2026-11-30 17:00")
    sent = run_due(app)
    assert [o.address.user for o in sent] == ["bob"] and "现在到期" in sent[0].message.text
    _shift_to(clock, app, "2026-12-01 09:00")
    assert [o.address.user for o in run_due(app)] == ["carol"]  # a day before 2 Dec 09:00
    _shift_to(clock, app, "2026-12-01 17:00")
    sent = run_due(app)
    assert [o.address.user for o in sent] == ["bob"]
    assert "已逾期 1天" in sent[0].message.text
    bob = Chat(app, "bob")
    assert "A-2026-0001" in bob("/action list") and "A-2026-0002" not in bob("/action list")
    assert "A-2026-0001" in bob("/action list overdue")
    out = bob.say("/action done A-2026-0001 报价已发出")
    assert "已完成:A-2026-0001 发送报价单(备注:报价已发出)" in out[0].message.text
    assert "bob 完成了 A-2026-0001" in _dms(out, "alice")[0]
    _shift_to(clock, app, "2026-12-02 09:00")
    assert [o.address.user for o in run_due(app)] == ["carol"]
    _shift_to(clock, app, "2026-12-02 17:00")
    assert run_due(app) == []  # done: no more reminders for bob
    assert "已于" in bob("/action done A-2026-0001")


def test_open_items_carry_over_to_the_next_meeting_with_the_partner(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    alice = Chat(app, "alice")
    _new(alice, "ACME 公司", "明天上午10点")
    _shift_to(clock, app, "2026-11-27 11:30")
    alice("/meeting minutes M-2026-0001")
    alice("回顾合作。")
    alice("跳过")
    alice("发送报价单 @bob 下周一下午5点\n更新合同草案 @carol 12月2日")
    alice("完成")
    alice("确认")
    Chat(app, "bob")("/action done A-2026-0001")
    out = _new(alice, "Globex", "12月3日上午10点")
    assert "M-2026-0002" in out and "仍未完成" not in out
    out = _new(alice, "acme  公司", "12月4日上午10点", title="月度沟通")
    assert "已创建会议 M-2026-0003" in out
    assert "与 ACME 公司 以往会议中仍未完成的行动项(1 项)" in out
    assert "A-2026-0002 更新合同草案 · 负责人 @carol" in out and "(会议 M-2026-0001)" in out
    assert "A-2026-0001" not in out
    post = _channel(alice.say("/meeting agenda M-2026-0003"))
    assert "A-2026-0002 更新合同草案" in post[0]
    show = alice("/meeting show M-2026-0001")
    assert "纪要:已于 2026年11月27日 周五 11:30" in show and "A-2026-0001" in show


def test_reschedule_moves_the_reminders_and_cancel_drops_them(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    alice = Chat(app, "alice")
    _new(alice, "ACME", "12月1日下午3点")
    _new(alice, "Globex", "12月1日下午4点")
    assert "没有权限" not in alice("/meeting list")
    bob = Chat(app, "bob")
    assert "只有 M-2026-0001 的组织者" in bob("/meeting reschedule M-2026-0001 12月3日下午3点")
    out = alice.say("/meeting reschedule M-2026-0001 12月3日下午3点")
    assert "改期:2026年12月1日 周二 15:00 (Asia/Shanghai) → 2026年12月3日 周四 15:00" \
        in out[0].message.text
    assert "改到 2026年12月3日 周四 15:00" in _dms(out, "bob")[0]
    out = alice.say("/meeting cancel M-2026-0002 confirm")
    assert "已取消" in out[0].message.text and "会议取消" in _dms(out, "carol")[0]
    assert "已取消" in alice("/meeting agenda M-2026-0002")
    _shift_to(clock, app, "2026-11-30 15:00")  # the old lead time of both: nothing
    assert run_due(app) == []
    _shift_to(clock, app, "2026-12-01 18:00")  # the old minutes time: nothing
    assert run_due(app) == []
    _shift_to(clock, app, "2026-12-02 15:00")
    sent = run_due(app)
    assert len(sent) == 1 and "M-2026-0001" in sent[0].message.text
    assert "议程还没有发出" in sent[0].message.text
    _shift_to(clock, app, "2026-12-03 18:00")  # the new end (16:00), then the minutes (18:00)
    sent = run_due(app)
    by_template = {o.message.template: o for o in sent}
    assert sorted(by_template) == ["meetings/minutes_due", "meetings/time_up"]
    assert [o.address.user for o in sent] == ["alice", "alice"]
    assert "请记录会议纪要" in by_template["meetings/minutes_due"].message.text
    with app.db.session() as s:
        left = s.exec(select(Reminder).where(Reminder.record_id == "M-2026-0002")).all()
        assert left and {r.status for r in left} == {Status.CANCELLED}
    assert "用法" in alice("/meeting reschedule M-2026-0001")
    assert "找不到会议" in alice("/meeting cancel M-2099-0001")


def test_a_meeting_life_in_english(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    alice, bob = Chat(app, "alice"), Chat(app, "bob")
    alice("/lang en")
    bob("/lang en")  # carol stays in Chinese
    assert "Which partner" in alice("/meeting new")
    alice("Globex Corp")
    alice("Quarterly review")
    assert "is in the past" in alice("yesterday 3pm")
    assert "Starts Fri 27 Nov 2026, 15:00 (Asia/Shanghai)" in alice("tomorrow 3pm")
    alice("45m")
    alice("@bob, @carol; Jane Doe (Globex)")
    alice("Results\nNext quarter")
    alice("done")
    assert "Where should" in alice("skip")
    summary = alice("here")
    assert "Please confirm the meeting" in summary and "for 45m" in summary
    assert "Posted to: here (this channel)" in summary
    assert "Meeting M-2026-0001 created" in alice("confirm")
    # Sent ahead of time: no agenda reminder ever comes.
    out = alice.say("/meeting agenda M-2026-0001")
    assert "went out to the meeting's channel and by DM to 2 attendees" in out[0].message.text
    post = [o.message.text for o in out if o.address.in_reply and "Agenda:" in o.message.text]
    assert post and "Agenda: Globex Corp · Quarterly review" in post[0]  # posted right here
    assert "Agenda: Globex Corp" in _dms(out, "bob")[0]
    assert "会议议程:Globex Corp" in _dms(out, "carol")[0]  # in carol's own language
    _shift_to(clock, app, "2026-11-27 13:00")
    assert run_due(app) == []
    _shift_to(clock, app, "2026-11-27 17:45")  # 15:45 end + 2h
    sent = run_due(app)
    assert "Please record the minutes" in sent[0].message.text
    assert "ended 2h ago" in sent[0].message.text
    alice("/meeting minutes M-2026-0001")
    assert "What was decided" in alice("Good quarter.")
    alice("skip")
    out = alice("Send the quote @bob monday 5pm")
    assert "Noted: Send the quote · owner @bob · due Mon 30 Nov 2026, 17:00" in out
    alice("Draft the contract @carol dec 2")
    alice("Book the demo @me dec 10 10am")
    alice("done")
    out = alice.say("confirm")
    assert "with 3 action items: A-2026-0001, A-2026-0002, A-2026-0003" in out[0].message.text
    minutes = [o.message.text for o in out if o.address.in_reply and "Minutes:" in o.message.text]
    assert minutes and "Owners: when an item is done" in minutes[0]
    assert "Minutes: Globex Corp" in _dms(out, "bob")[0]
    assert "会议纪要:Globex Corp" in _dms(out, "carol")[0]
    _shift_to(clock, app, "2026-11-29 17:00")
    sent = run_due(app)
    assert [o.address.user for o in sent] == ["bob"]
    assert "Action item due soon" in sent[0].message.text
    assert "My open action items" in bob("/action list mine")
    assert "A-2026-0003" in bob("/action list open")
    out = alice.say("/action reassign A-2026-0001 @carol")
    assert "now belongs to @carol" in out[0].message.text
    assert "你有一个新的行动项" in _dms(out, "carol")[0]
    assert "Usage" in alice("/action due A-2026-0002")
    assert "now due Fri 4 Dec 2026, 17:00" in alice("/action due A-2026-0002 dec 4 5pm")
    _shift_to(clock, app, "2026-11-30 17:00")
    sent = run_due(app)
    assert [o.address.user for o in sent] == ["carol"]  # bob's reminders went with the item
    assert "行动项现在到期" in sent[0].message.text
    _shift_to(clock, app, "2026-12-02 09:00")
    assert "A-2026-0002" not in " ".join(o.message.text for o in run_due(app))


def test_who_may_do_what(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    alice, bob, dave = Chat(app, "alice"), Chat(app, "bob"), Chat(app, "dave")
    _new(alice, "ACME", "明天上午10点")
    assert "只有 M-2026-0001 的组织者" in dave("/meeting agenda M-2026-0001")
    assert "已发送" in bob("/meeting agenda M-2026-0001")  # an attendee may send it
    assert "只有 M-2026-0001 的组织者" in bob("/meeting cancel M-2026-0001")
    assert "用法" in alice("/meeting agenda") and "用法" in alice("/meeting list partner")
    _shift_to(clock, app, "2026-11-27 11:30")
    assert "只有 M-2026-0001 的组织者" in dave("/meeting minutes M-2026-0001")
    assert "找不到会议" in alice("/meeting minutes M-2026-0099")
    bob("/meeting minutes M-2026-0001")
    bob("纪要。")
    bob("跳过")
    bob("跟进 @carol 下周一")
    bob("完成")
    bob("确认")
    assert "只有 A-2026-0001 的负责人" in dave("/action done A-2026-0001")
    out = alice("/meeting minutes M-2026-0001")
    assert "已于 2026年11月27日 周五 11:30 (Asia/Shanghai) 记录纪要" in out
    assert "记录纪要,会议已经开过" in alice("/meeting cancel M-2026-0001")
    assert "找不到行动项" in alice("/action done A-1")
    assert "用法" in alice("/action list everything")
    assert "已完成" in alice("/action done A-2026-0001")  # the organiser may close it
