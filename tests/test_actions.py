"""Action items after the minutes: the daily digest, my reminder list, and posts to a meeting
channel other than the one the organiser is typing in."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.models import AuditEntry
from schedules.scheduler import ReminderScheduler
from tests.support import Chat, recording_adapters, run_due
from tests.test_meetings import _app, _channel, _new, _shift_to


def _minutes(chat: Chat, ref: str, *lines: str) -> str:
    chat(f"/meeting minutes {ref}")
    chat("Summary.")
    chat("skip")
    for line in lines:
        chat(line)
    chat("done")
    return chat("confirm")


def test_the_meetings_digest_lists_overdue_items_and_missing_minutes(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    alice = Chat(app, "alice")
    _new(alice, "ACME", "明天上午10点")
    _new(alice, "Globex", "明天下午2点")
    _shift_to(clock, app, "2026-11-27 11:30")
    assert "A-2026-0001" in _minutes(alice, "M-2026-0001", "发送报价单 @bob 今天下午5点")
    _shift_to(clock, app, "2026-11-28 09:30")
    assert ReminderScheduler(app, recording_adapters()).plan_digest() == 1
    sent = [o for o in run_due(app) if o.address.purpose == "meetings"]
    assert len(sent) == 1
    digest = sent[0].message.text
    assert "每日逾期汇总" in digest and "以下 2 项已逾期" in digest
    assert "A-2026-0001 发送报价单 · bob · 截止 2026年11月27日 周五 17:00" in digest
    assert "M-2026-0002 Globex · 季度合作回顾 · alice" in digest
    Chat(app, "bob")("/action done A-2026-0001")
    alice("/meeting cancel M-2026-0002 confirm")  # never held: no minutes are missing any more
    clock.shift(timedelta(days=1))
    assert ReminderScheduler(app, recording_adapters()).plan_digest() == 0


def test_my_reminder_list_names_the_meeting_and_the_item(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    alice, bob = Chat(app, "alice"), Chat(app, "bob")
    _new(alice, "ACME", "12月1日下午3点")
    out = alice("/remind list")
    # 2 agenda, time up at the planned end, minutes
    assert out.count("会议 M-2026-0001 · ACME · 季度合作回顾") == 4
    _shift_to(clock, app, "2026-12-01 16:30")
    _minutes(alice, "M-2026-0001", "发送报价单 @bob 12月4日下午5点")
    assert "会议 M-2026-0001" not in alice("/remind list")
    out = bob("/remind list")
    assert "行动项 A-2026-0001 · 发送报价单 · 2026年12月3日 周四 17:00" in out
    with app.db.session() as s:
        actions = s.exec(select(AuditEntry.action).where(AuditEntry.record_type == "action"))
        assert list(actions) == ["create"]


def test_a_meeting_posting_to_its_own_channel_reaches_it_from_a_dm(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    team = Chat(app, "alice", channel="C-TEAM", direct=False)
    team('/meeting new partner=ACME title=Review start="明天上午10点"')
    team("跳过")
    team("@bob")
    team("议程一")
    team("完成")
    team("跳过")
    assert "发布到:这里" in team("这里")
    team("确认")
    alice = Chat(app, "alice")  # now in a DM with the bot
    out = alice.say("/meeting agenda M-2026-0001")
    assert "已发送 M-2026-0001 的议程到会议所用的频道" in out[0].message.text
    assert _channel(out, "C-TEAM") == []  # a reply can only go where alice is ...
    sent = run_due(app)  # ... so the outbox takes it there at once
    assert [o.address.channel for o in sent] == ["C-TEAM"]
    assert "会议议程:ACME · Review" in sent[0].message.text
    _shift_to(clock, app, "2026-11-27 11:30")
    out = team.say("/meeting minutes M-2026-0001")
    team("纪要。")
    team("跳过")
    team("跳过")
    out = team.say("确认")
    assert any("会议纪要:ACME · Review" in o.message.text for o in out if o.address.in_reply)
    assert run_due(app) == []


def test_a_due_reminder_sent_late_says_overdue(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    alice = Chat(app, "alice")
    _new(alice, "ACME", "明天上午10点")
    _shift_to(clock, app, "2026-11-27 11:30")
    _minutes(alice, "M-2026-0001", "发送报价单 @bob 下周一下午5点")
    _shift_to(clock, app, "2026-11-30 16:59")
    sent = run_due(app)  # late, but still ahead of the due time
    assert [o.message.title for o in sent] == ["行动项快到期了"]
    assert "还有 1分钟" in sent[0].message.text
    _shift_to(clock, app, "2026-12-01 06:00")  # the bot was down at the due time
    sent = run_due(app)
    assert [o.message.title for o in sent] == ["行动项已逾期"]
    assert "已逾期 13小时" in sent[0].message.text
