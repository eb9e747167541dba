"""会中高效 and 视频会议: agenda items carry their minutes, the agenda adds them up against the
meeting's length and warns when they run over, the organiser hears "time is up" at the
planned end; a meeting carries its video link into the agenda and the reminders. The clock
starts on Thursday 26 November 2026, 10:00 in Shanghai."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from handlers.meetings.models import Meeting, agenda_item, video_link_of
from tests.support import Chat, build_app, run_due

REF = "M-2026-0001"


def _app(db_url, tmp_path):  # noqa: ANN001, ANN202
    app, _ = build_app(db_url, tmp_path)
    Chat(app, "admin", channel="C-MEET", direct=False)("/route meetings here")
    Chat(app, "bob")("/whoami")
    return app


def _meeting(app) -> Meeting:  # noqa: ANN001
    with app.db.session() as s:
        return s.exec(select(Meeting)).one()


def test_a_timed_agenda_adds_up_warns_and_time_is_up_at_the_end(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    alice = Chat(app, "alice")
    alice('/meeting new partner=ACME title="季度回顾" start="明天上午10点"')
    alice("45分钟")
    assert "20m" in alice("@bob, 王经理(ACME)")  # the agenda question says how to time items
    alice("回顾上季度 20m\n报价讨论 20分钟\n下季度计划 15m")
    assert "视频会议链接" in alice("完成")  # the materials question says where it goes
    alice("https://meeting.tencent.com/dm/AbC123\n报价单草稿")
    alice("完成")
    summary = alice("跳过")
    assert "1. 回顾上季度(20 分钟,累计 20/45)" in summary
    assert "2. 报价讨论(20 分钟,累计 40/45)" in summary
    assert "3. 下季度计划(15 分钟,累计 55/45)" in summary
    assert "议程合计 55 分钟,会议时长 45 分钟。⚠ 超时 10 分钟" in summary
    assert "视频会议:https://meeting.tencent.com/dm/AbC123" in summary
    assert "• 报价单草稿" in summary and "• https://meeting.tencent" not in summary
    created = alice("确认")
    assert "⚠ 议程合计 55 分钟,超出会议时长 45 分钟" in created
    meeting = _meeting(app)
    assert meeting.video_url == "https://meeting.tencent.com/dm/AbC123"
    assert meeting.materials == ["报价单草稿"]

    out = alice.say(f"/meeting agenda {REF}")
    post = next(o.message.text for o in out if o.address.channel == "C-MEET")
    assert "视频会议:https://meeting.tencent.com/dm/AbC123" in post
    assert "议程合计 55 分钟,会议时长 45 分钟。⚠ 超时 10 分钟" in post
    bob_dm = next(o.message.text for o in out if o.address.user == "bob")
    assert "https://meeting.tencent.com/dm/AbC123" in bob_dm

    # Friday 10:45, the planned end: the organiser hears that time is up, once.
    clock.shift(timedelta(hours=24, minutes=45) - timedelta(seconds=1))
    assert run_due(app) == []
    clock.shift(timedelta(seconds=1))
    sent = run_due(app)
    assert len(sent) == 1 and sent[0].address.user == "alice"
    assert sent[0].message.title == "时间到了:ACME · 季度回顾"
    assert f"请记录纪要和行动项:/meeting minutes {REF}" in sent[0].message.body
    assert [c.value for c in sent[0].message.choices][0] == f"/meeting minutes {REF}"
    assert run_due(app) == []


def test_minutes_before_the_end_keep_time_up_quiet(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    alice = Chat(app, "alice")
    alice('/meeting new partner=ACME title="短会" start="今天上午11点" duration=30m '
          'video=https://zoom.us/j/99')
    alice("@bob")
    alice("对齐 10m")
    alice("完成")
    alice("跳过")
    alice("跳过")
    assert "视频会议:https://zoom.us/j/99" in alice("确认")
    clock.shift(timedelta(hours=1, minutes=10))
    alice(f"/meeting minutes {REF}")
    alice("谈完了")
    alice("跳过")
    alice("跳过")
    alice("确认")
    clock.shift(timedelta(minutes=20))
    assert [o.message.title for o in run_due(app)] == []


def test_an_agenda_without_minutes_reads_as_before(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    alice = Chat(app, "alice")
    alice('/meeting new partner=ACME title="回顾" start="明天上午10点"')
    alice("跳过")
    alice("@bob")
    alice("回顾上季度\n下季度计划")
    alice("完成")
    alice("跳过")
    summary = alice("跳过")
    assert "1. 回顾上季度\n2. 下季度计划" in summary
    assert "议程合计" not in summary and "视频会议:" not in summary
    alice("确认")
    clock.shift(timedelta(hours=25))  # past the planned end (default length): time is up
    assert [o.message.title for o in run_due(app)] == ["时间到了:ACME · 回顾"]


def test_in_english_with_the_video_link_set_later_and_in_the_reminder(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    dana = Chat(app, "dana")
    dana("/lang en")
    dana('/meeting new partner=ACME title="Pricing" start="tomorrow 10am" duration=1h')
    dana("@bob")
    dana("Recap 30m\nPricing 40 min")
    dana("done")
    dana("skip")
    summary = dana("skip")
    assert "1. Recap (30 min, 30/60 so far)\n2. Pricing (40 min, 70/60 so far)" in summary
    assert "Agenda total 70 min for a 60-minute meeting. ⚠ Over by 10 min" in summary
    dana("confirm")
    assert "not a link" in dana(f"/meeting video {REF} see you there")
    assert "Usage" in dana(f"/meeting video {REF}")
    out = dana.say(f"/meeting video {REF} https://zoom.us/j/123456789")
    assert out[0].message.title == f"Video link of {REF} set"
    note = next(o for o in out if o.address.user == "bob" and not o.address.in_reply)
    assert "https://zoom.us/j/123456789" in note.message.text
    assert "组织者" in Chat(app, "bob")(f"/meeting video {REF} https://zoom.us/j/1")
    assert _meeting(app).video_url == "https://zoom.us/j/123456789"

    # The agenda's last call, 2h before, carries the link.
    clock.shift(timedelta(hours=22))
    sent = run_due(app)
    assert sent and sent[0].message.title == "The agenda has not gone out"
    assert "Video call: https://zoom.us/j/123456789" in sent[0].message.body
    card = dana(f"/meeting show {REF}")
    assert "Video call: https://zoom.us/j/123456789" in card
    clock.shift(timedelta(hours=3))
    titles = [o.message.title for o in run_due(app)]
    assert "Time is up: ACME · Pricing" in titles


def test_agenda_lines_and_video_links_are_read_as_people_write_them():
    assert agenda_item("报价讨论 20m") == {"text": "报价讨论", "minutes": 20}
    assert agenda_item("Pricing (15 min)") == {"text": "Pricing", "minutes": 15}
    assert agenda_item("回顾 15分钟") == {"text": "回顾", "minutes": 15}
    assert agenda_item("Q4 targets") == {"text": "Q4 targets", "minutes": None}
    assert agenda_item("20m") == {"text": "20m", "minutes": None}
    assert video_link_of("https://us02web.zoom.us/j/8 pw") == "https://us02web.zoom.us/j/8"
    assert video_link_of("视频:https://example.com/room") == "https://example.com/room"
    assert video_link_of("https://example.com/deck.pdf") is None
    assert video_link_of("no link here") is None
