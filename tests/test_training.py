"""`/training` (培训) as the team meets it: a quarterly session planned with two cases from
the team's own records, the speaker reminder while unconfirmed (and none once confirmed), the
7-day and 1-day announcements, the invitees' reminder, attendance and the year's report; and
the first-Monday quarterly message."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import select

from handlers.comm.models import CommRecord
from handlers.complaints.models import Complaint
from schedules.models import Reminder, Status
from schedules.scheduler import ReminderScheduler
from tests.support import Chat, build_app, recording_adapters, run_due

SHANGHAI_START = "2027-01-20 14:00"  # 06:00 UTC


def _cases(app) -> None:  # noqa: ANN001
    """A reviewed communication and a closed complaint, as their own flows leave them."""
    now = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    with app.db.session() as s:
        s.add(CommRecord(ref="K-2026-0003", year=2026, seq=3, state="reviewed",
                         owner_platform="console", owner_id="bob", audience="media",
                         audience_name="财新", topic="产品召回说明", goal="solve",
                         goal_text="澄清召回范围", channel="press_release", review_score=2,
                         review_problem="wording", reviewed_at=now))
        s.add(Complaint(ref="C-2026-0007", year=2026, seq=7, customer="李女士",
                        channel="phone", summary="退款延迟两周", details="……", severity="high",
                        status="closed", received_at=now, due_at=now, closed_at=now,
                        satisfaction=4, reporter_platform="console", reporter_id="bob"))


def _team(db_url, tmp_path):  # noqa: ANN001, ANN202
    app, _ = build_app(db_url, tmp_path)
    admin = Chat(app, "admin")
    bob, carol = Chat(app, "bob"), Chat(app, "carol")
    bob("/whoami")
    carol("/whoami")
    Chat(app, "admin", channel="C-TRAIN", direct=False)("/route training here")
    _cases(app)
    return app, admin, bob, carol


def _plan(admin: Chat) -> str:
    assert "2027-Q1 的培训什么时候开始" in admin("/training plan 2027-Q1")
    assert "会议室" in admin(SHANGHAI_START)
    admin("3楼大会议室")
    topics = admin("王教授,某大学新闻学院,13800000000")
    assert "1. 语言表达" in topics and "3. 跨文化沟通" in topics
    cases = admin("1 2")
    assert "1. K-2026-0003 产品召回说明(沟通记录 · 效果评分 2/5 · 问题:表达不当)" in cases
    assert "2. C-2026-0007 退款延迟两周(已结案投诉 · 满意度 4/5)" in cases
    admin("1 2")
    summary = admin("@bob, @carol")
    assert "主题:语言表达、情绪管理" in summary and "受邀人:" in summary
    return admin("确认")


def test_a_session_planned_reminded_attended_and_reported(db_url, tmp_path, clock):
    app, admin, bob, carol = _team(db_url, tmp_path)
    done = _plan(admin)
    assert "已安排培训 T-2027-0001(2027-Q1)" in done
    assert "讲师:王教授,某大学新闻学院,13800000000(待确认)" in done

    # 21 days before: the organiser, since the speaker is not confirmed.
    clock.move_to(datetime(2026, 12, 30, 6, 0, tzinfo=UTC))
    sent = run_due(app)
    assert [o.address.user for o in sent] == ["admin"]
    assert "讲师 王教授,某大学新闻学院,13800000000 还没有确认" in sent[0].message.text
    assert [c.value for c in sent[0].message.choices][:-5] == ["/training confirm T-2027-0001"]
    assert "不会再提醒" in admin("/training confirm T-2027-0001")
    # The follow-up nag a week later is not sent once confirmed.
    clock.move_to(datetime(2027, 1, 6, 6, 0, tzinfo=UTC))
    assert run_due(app) == []

    # 7 days and 1 day before: the training channel, with the agenda and the cases.
    clock.move_to(datetime(2027, 1, 13, 6, 0, tzinfo=UTC))
    sent = run_due(app)
    assert [o.address.channel for o in sent] == ["C-TRAIN"]
    assert sent[0].message.title == "7 天后:沟通培训 T-2027-0001"
    assert "1. K-2026-0003 产品召回说明" in sent[0].message.text
    assert "讲师:王教授,某大学新闻学院,13800000000\n" in sent[0].message.text + "\n"
    clock.move_to(datetime(2027, 1, 19, 6, 0, tzinfo=UTC))
    sent = run_due(app)
    assert [o.message.title for o in sent] == ["1 天后:沟通培训 T-2027-0001"]

    # Too early to attend; then 1 hour before, each invitee.
    assert "开始前 1 小时起才能签到" in bob("/training attend T-2027-0001")
    clock.move_to(datetime(2027, 1, 20, 5, 0, tzinfo=UTC))
    sent = run_due(app)
    assert sorted(o.address.user for o in sent) == ["bob", "carol"]
    assert "3楼大会议室" in sent[0].message.text

    clock.move_to(datetime(2027, 1, 20, 6, 30, tzinfo=UTC))
    assert "已记录你参加了培训 T-2027-0001" in bob("/training attend T-2027-0001")
    bob("/training attend T-2027-0001")  # twice is once
    report = admin("/training report 2027")
    assert "2027-Q1:T-2027-0001(2027年1月20日 周三 14:00,出席 1 人 / 受邀 2 人)" in report
    assert "2027-Q2:未举办" in report
    assert "@bob:1/1" in report and "@carol:0/1" in report
    assert "连续两次缺席" not in report

    # After the session: notes, the cases discussed, follow-up actions reminded when due.
    assert "结束后才能记录" not in admin("/training log T-2027-0001")
    admin("讲解了召回说明的措辞问题。\n练习了情绪激动的客户电话。")
    assert "实际讨论了哪些案例" in admin.seen[-1].message.text
    admin("1")
    admin("整理召回口径 @bob 2027-01-27 17:00")
    summary = admin("完成")
    assert "讨论的案例:\n1. K-2026-0003 产品召回说明" in summary
    logged = admin("确认")
    assert "已记录培训 T-2027-0001" in logged
    assert "整理召回口径 · 负责人 @bob · 截止 2027年1月27日 周三 17:00" in logged
    assert "培训 T-2027-0001 已于" in admin("/training log T-2027-0001")
    clock.move_to(datetime(2027, 1, 27, 9, 0, tzinfo=UTC))
    sent = run_due(app)
    assert [(o.address.user, o.message.title) for o in sent] == [
        ("bob", "培训后续行动到期:整理召回口径")]


def test_no_speaker_reminder_once_confirmed_and_two_missed_in_a_row(db_url, tmp_path, clock):
    app, admin, bob, carol = _team(db_url, tmp_path)
    _plan(admin)
    admin("/training confirm T-2027-0001")
    with app.db.session() as s:
        kinds = {r.kind for r in s.exec(select(Reminder).where(
            Reminder.record_id == "T-2027-0001", Reminder.status == Status.PENDING))}
    assert "training.speaker" not in kinds
    clock.move_to(datetime(2026, 12, 30, 6, 0, tzinfo=UTC))
    assert run_due(app) == []
    # A second session next quarter that carol misses too.
    clock.move_to(datetime(2027, 1, 21, 2, 0, tzinfo=UTC))
    admin("/training plan")
    for line in ("2027-04-15 14:00", "线上:https://meeting.example.com/123", "@bob", "4",
                 "跳过", "@bob, @carol", "确认"):
        admin(line)
    clock.move_to(datetime(2027, 4, 15, 6, 10, tzinfo=UTC))
    bob("/training attend T-2027-0002")
    report = admin("/training report")
    assert "连续两次缺席:@carol" in report


def test_bad_answers_are_asked_again(db_url, tmp_path, clock):
    app, admin, bob, carol = _team(db_url, tmp_path)
    assert "2025-Q1 已经过去" in admin("/training plan 2025-Q1")
    assert "不是季度" in admin("/training plan 明年")
    assert "你没有权限" in bob("/training plan")
    admin("/training plan 2027-Q1")
    assert "不在 2027-Q1 内" in admin("2027-04-02 10:00")
    admin(SHANGHAI_START)
    admin("会议室")
    admin("王教授")
    assert "“烹饪”不是可选的主题" in admin("烹饪")
    admin("语言表达、新媒体")
    assert "“9”不在案例列表中" in admin("9")
    assert "找不到培训 “T-2027-0009”" in admin("/training confirm T-2027-0009")
    # A trainer (not an admin) plans too.
    admin("/role grant @bob trainer")
    assert "的培训什么时候开始" in bob("/training plan")


def test_the_quarterly_message_asks_to_plan_or_announces(db_url, tmp_path, clock):
    app, admin, bob, carol = _team(db_url, tmp_path)
    ReminderScheduler(app, recording_adapters()).plan_training()
    sent = run_due(app)
    assert sent[0].message.title == "本季度外部沟通培训(2026-Q4)尚未安排"
    assert "/training plan 2026-Q4" in sent[0].message.text
    _plan(admin)
    clock.move_to(datetime(2027, 1, 4, 2, 0, tzinfo=UTC))  # the first Monday, 10:00
    ReminderScheduler(app, recording_adapters()).plan_training()
    sent = [o for o in run_due(app) if o.message.title.startswith("本季度")]
    assert sent[0].message.title == "本季度外部沟通培训(2027-Q1):T-2027-0001"
    assert "地点:3楼大会议室" in sent[0].message.text


def test_the_quarterly_message_reads_a_session_written_in_the_same_transaction(
        db_url, tmp_path, clock):
    """A sweep reads the quarter's session once per transaction; a transaction that then
    writes one (not flushed yet, or flushed) reads it again."""
    from handlers.training.models import TrainingSession
    from schedules.scheduler import TRAINING

    app, admin, bob, carol = _team(db_url, tmp_path)
    _plan(admin)  # T-2027-0001, in 2027-Q1
    kind = app.registry.reminder_kinds[TRAINING]
    now = datetime.now(UTC)
    reminder = Reminder(key="q", kind=TRAINING, due_at=now, planned_at=now,
                        target_kind="member", target_platform="console", target_id="admin",
                        payload={"quarter": "2027-Q2"})
    with app.db.session() as session:
        assert kind.render(session, reminder, now).template == "reminders/training"
        planned = session.exec(select(TrainingSession)).one()
        planned.quarter = "2027-Q2"
        session.add(planned)
        assert kind.render(session, reminder, now).template == "training/quarter_planned"
        planned.quarter = "2027-Q3"
        session.add(planned)
        session.flush()
        assert kind.render(session, reminder, now).template == "reminders/training"


def test_in_english(db_url, tmp_path, clock):
    app, admin, bob, carol = _team(db_url, tmp_path)
    admin("/lang en")
    assert "When does the 2027-Q1 training start?" in admin("/training plan 2027-Q1")
    admin(SHANGHAI_START)
    admin("Room 301")
    topics = admin("Prof. Wang, School of Journalism")
    assert "4. New-media operations" in topics
    cases = admin("language emotion")
    assert "K-2026-0003 产品召回说明 (communication record · effect 2/5 · problem:" in cases
    admin("K-2026-0003")
    admin("@bob")
    done = admin("yes")
    assert "Training T-2027-0001 planned (2027-Q1)" in done
    assert "Cases for analysis:\n1. K-2026-0003" in done
    clock.move_to(datetime(2026, 12, 30, 6, 0, tzinfo=UTC))
    sent = run_due(app)
    assert "the speaker, Prof. Wang, School of Journalism, is not confirmed" in \
        sent[0].message.text
    clock.move_to(datetime(2027, 1, 20, 6, 30, tzinfo=UTC))
    bob("/lang en")
    assert "Recorded: you attended training T-2027-0001" in bob("/training attend T-2027-0001")
    report = admin("/training report 2027")
    assert "2027-Q1: T-2027-0001" in report and "1 attended of 1 invited" in report


def test_the_plan_names_only_the_reminders_that_will_come(db_url, tmp_path, clock):
    """Planned three days ahead: the 21-day and 7-day reminders would be in the past, so the
    answer does not promise them."""
    app, admin, bob, carol = _team(db_url, tmp_path)
    for line in ("/training plan 2026-Q4", "2026-11-29 14:00", "3楼大会议室",
                 "王教授,某大学新闻学院,13800000000", "1", "跳过", "@bob"):
        admin(line)
    done = admin("确认")
    assert "提醒:开始前 1 天在培训频道发布通知;开始前 1 小时私信受邀人。" in done
    assert "21 天" not in done and "7 天" not in done
    with app.db.session() as s:
        keys = sorted(r.key for r in s.exec(select(Reminder).where(
            Reminder.record_type == "training")).all())
    assert keys == ["training:T-2026-0001:announce:1d", "training:T-2026-0001:starting:console:bob"]


def test_a_trainer_granted_between_two_sweeps_is_named_in_the_next_quarterly_message(
        db_url, tmp_path, clock):
    """Who is asked to plan is read for each sweep, not kept from an earlier one: the admins
    while nobody is a trainer, the trainer from the sweep after the grant on."""
    app, admin, bob, carol = _team(db_url, tmp_path)
    ReminderScheduler(app, recording_adapters()).plan_training()
    (first,) = run_due(app)
    assert first.message.body.startswith("@admin:请安排本季度的培训。")
    admin("/role grant @bob trainer")
    clock.move_to(datetime(2027, 1, 4, 2, 0, tzinfo=UTC))  # the next quarter's first Monday
    ReminderScheduler(app, recording_adapters()).plan_training()
    (second,) = run_due(app)
    assert second.message.body.startswith("@bob:请安排本季度的培训。")
