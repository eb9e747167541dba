"""The rest of a meeting's life in English (the unsent-agenda reminder, overdue items,
carry-over, reschedule and cancel), and partner text that must stay text on Slack."""

from __future__ import annotations

from datetime import timedelta

from tests.support import Chat, run_due
from tests.test_meetings import _app, _channel, _dms, _shift_to


def _new(chat: Chat, partner: str, start: str, title: str = "Review") -> str:
    chat(f'/meeting new partner="{partner}" title="{title}" start="{start}"')
    chat("skip")
    chat("@bob, Jane Doe")
    chat("Results\nPlans")
    chat("done")
    chat("skip")
    chat("skip")
    return chat("confirm")


def test_reminders_carry_over_reschedule_and_cancel_in_english(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    alice, bob = Chat(app, "alice"), Chat(app, "bob")
    alice("/lang en")
    bob("/lang en")
    assert "Meeting M-2026-0001 created" in _new(alice, "Initech", "tomorrow 10am")
    _shift_to(clock, app, "2026-11-27 08:00")  # no agenda two hours before the start
    sent = run_due(app)
    assert [o.address.user for o in sent] == ["alice"]
    assert "The agenda has not gone out" in sent[0].message.text
    assert "The meeting starts in 2h" in sent[0].message.text
    _shift_to(clock, app, "2026-11-27 11:15")
    alice("/meeting minutes M-2026-0001")
    alice("We agreed on the plan.")
    alice("Pricing stays\nMonthly check-ins")
    assert "Action items, one at a time" in alice("done")
    alice("Send the quote @bob monday 5pm")
    alice("Draft the contract @me dec 3")
    alice("done")
    alice("confirm")
    _shift_to(clock, app, "2026-11-30 17:00")  # the day-before one was missed: not sent late
    sent = run_due(app)
    assert len(sent) == 1 and "Action item due now" in sent[0].message.text
    _shift_to(clock, app, "2026-12-01 17:00")
    sent = run_due(app)
    assert "Action item overdue" in sent[0].message.text and "Overdue by 1d" in sent[0].message.text
    assert "Overdue action items" in bob("/action list overdue")
    out = _new(alice, "INITECH", "dec 7 10am", title="Monthly")
    assert "Action items from earlier meetings with Initech still open (2)" in out
    assert "A-2026-0001 Send the quote · owner @bob" in out and "(meeting M-2026-0001)" in out
    out = alice.say("/meeting reschedule M-2026-0002 dec 8 10am")
    assert "M-2026-0002 moved: Mon 7 Dec 2026, 10:00 (Asia/Shanghai) → Tue 8 Dec 2026, 10:00" \
        in out[0].message.text
    assert "is now Tue 8 Dec 2026, 10:00" in _dms(out, "bob")[0]
    assert "Upcoming meetings" in alice("/meeting list")
    assert "M-2026-0001" in alice("/meeting list past")
    out = alice.say("/meeting cancel M-2026-0002 confirm")
    assert "is cancelled, with its reminders" in out[0].message.text
    assert "Meeting cancelled" in _dms(out, "bob")[0]
    clock.shift(timedelta(days=10))
    assert not [o for o in run_due(app) if "M-2026-0002" in o.message.text]
    assert "Status: cancelled" in alice("/meeting show M-2026-0002")
    assert "There is no meeting" in alice("/meeting show M-9")


HOSTILE = "<!channel> {{ 7*7 }} <@U999>"


def test_partner_text_stays_text_on_slack(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    Chat(app, "UADMIN", platform="slack", channel="C-MEET-S", direct=False)(
        "/route meetings here")
    Chat(app, "UBOB", platform="slack", name="bob")("/whoami")
    alice = Chat(app, "UALICE", platform="slack", name="alice", channel="D1")
    alice(f'/meeting new partner="{HOSTILE}" title="{HOSTILE}" start="明天上午10点"')
    alice("跳过")
    assert "我还不认识 @here" in alice("<@UBOB>, @here")  # never a broadcast
    alice("<@UBOB>, here")
    alice(HOSTILE)
    alice("完成")
    alice("跳过")
    alice("跳过")
    alice("确认")
    out = alice.say("/meeting agenda M-2026-0001")
    post = _channel(out, "C-MEET-S")[0]
    assert "<!channel>" not in post and "&lt;!channel&gt;" in post
    assert "<@U999>" not in post and "{{ 7*7 }}" in post and "49" not in post
    assert "<@UBOB>" in post  # the attendee the organiser mentioned is a real mention
    assert "here(外部)" in post and "<!here>" not in post


def test_after_downtime_a_missed_reminder_is_not_sent_when_a_later_one_says_it(
    db_url, tmp_path, clock
):
    app = _app(db_url, tmp_path)
    alice = Chat(app, "alice")
    alice("/lang en")
    _new(alice, "Initech", "dec 1 3pm")
    _shift_to(clock, app, "2026-12-01 13:30")  # down since before the 24h reminder
    sent = run_due(app)
    assert len(sent) == 1 and "The meeting starts in 1h 30m" in sent[0].message.text
