"""The two handbook steps the checklist used to skip: 互动反馈 (every question the other side
asks is an open item with an owner, answered or nagged about) and 优化改进 (the next plan for
the same audience starts from what the last reviews said to change), in both languages."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from handlers.meetings.models import ActionItem
from schedules.models import Reminder, Status
from tests.support import Chat, build_app, run_due

REF = "K-2026-0001"


def _prepare(chat: Chat, audience: str = "media", name: str = "新华社") -> None:
    chat(f'/comm new audience={audience} audience_name="{name}" topic="新品发布" goal=publish '
         'goal_text="三家媒体报道新品" channel=press_release')
    chat("skip")
    chat("skip")
    chat("yes")


def _answer_reminders(app) -> list[Reminder]:  # noqa: ANN001
    with app.db.session() as s:
        return list(s.exec(select(Reminder).where(Reminder.kind == "comm.answer")
                           .order_by(Reminder.id)).all())


# -- 互动反馈 ---------------------------------------------------------------------------------


def test_an_unanswered_question_reminds_its_owner_and_an_answer_closes_it(db_url, tmp_path,
                                                                          clock):
    app, _ = build_app(db_url, tmp_path)
    alice = Chat(app, "alice")
    _prepare(alice)
    alice(f"/comm run {REF}")
    alice("电话")
    alice("今天上午9点")
    alice("新品 12 月上市")
    alice("问价格\n问首批城市名单")
    alice("完成")
    alice("跳过")
    out = alice("确认")
    assert "待答复的问题" in out
    assert "q1 问价格 · 负责人 alice" in out and "q2 问首批城市名单 · 负责人 alice" in out

    # Answered within the day: q2 is closed and says how; q1 stays open.
    clock.shift(timedelta(hours=3))
    out = alice(f"/comm check {REF} q2 已答复 邮件发送了城市名单")
    assert f"{REF}:q2 已答复" in out
    assert "    – 问首批城市名单(q2 已答复:邮件发送了城市名单)" in out
    assert "q1 问价格 · 负责人 alice" in out and "q2 问首批城市名单 · 负责人" not in out
    assert "已经答复过了" not in out
    assert "已在" in alice(f"/comm check {REF} q2 已答复")  # twice: said, nothing changed
    assert "没有问题 q7" in alice(f"/comm check {REF} q7 已答复")
    assert "用法" in alice(f"/comm check {REF} q1 maybe later")

    # Someone else may not close the owner's question.
    assert "alice" in Chat(app, "bob")(f"/comm check {REF} q1 已答复")

    # A day after it was recorded, only the open question reminds its owner, by DM.
    clock.shift(timedelta(hours=21) - timedelta(minutes=1))
    assert run_due(app) == []
    clock.shift(timedelta(minutes=1))
    sent = run_due(app)
    assert len(sent) == 1 and sent[0].address.user == "alice"
    assert sent[0].message.title == f"问题待答复:{REF} q1"
    assert "“问价格”" in sent[0].message.body
    assert f"/comm check {REF} q1 已答复" in sent[0].message.body
    assert [r.status for r in _answer_reminders(app)] == [Status.SENT, Status.CANCELLED]

    out = alice(f"/comm check {REF} q1 answered 价格表已发")
    assert "待答复的问题" not in out
    card = alice(f"/comm show {REF}")
    assert "    – 问价格(q1 已答复:价格表已发)" in card and "答复问题" in card


def test_questions_in_english_with_a_shorter_answer_time(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path, comm={"answer": timedelta(hours=4)})
    dana = Chat(app, "dana")
    dana("/lang en")
    _prepare(dana, audience="partner", name="ACME")
    dana(f"/comm check {REF} feedback Can we get the API spec early?")
    out = dana(f"/comm check {REF} feedback What about volume discounts?")
    assert "Questions waiting for an answer" in out
    assert "q2 What about volume discounts? · owner dana" in out
    clock.shift(timedelta(hours=4))
    sent = run_due(app)
    assert sorted(o.message.title for o in sent) == [
        f"Question waiting for an answer: {REF} q1",
        f"Question waiting for an answer: {REF} q2"]
    assert f"/comm check {REF} q1 answered how" in sent[0].message.body
    out = dana(f"/comm check {REF} q1 answered sent the draft spec")
    assert f"{REF}: q1 answered" in out
    assert "    – Can we get the API spec early? (q1 answered: sent the draft spec)" in out
    assert "already answered" in dana(f"/comm check {REF} q1 answered")


def test_a_question_answered_before_the_reminder_sends_nothing(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    alice = Chat(app, "alice")
    _prepare(alice)
    alice(f"/comm check {REF} feedback 问价格")
    alice(f"/comm check {REF} q1 已答复")
    clock.shift(timedelta(days=2))
    assert [o.message.title for o in run_due(app)] == [f"请完成跟进确认:{REF}"]  # not q1


# -- 优化改进 ---------------------------------------------------------------------------------


def _reviewed(chat: Chat, ref: str, improve: str, audience: str = "media") -> None:
    _prepare(chat, audience=audience)
    for step in ("contact", "message", "feedback", "followup email"):
        chat(f"/comm check {ref} {step}")
    chat(f"/comm review {ref}")
    chat("4")
    chat("reach")
    chat("none")
    chat(improve)
    chat("yes")


def test_the_next_plan_for_the_audience_shows_the_last_two_lessons(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    alice = Chat(app, "alice")
    _reviewed(alice, "K-2026-0001", "提前准备价格口径")
    clock.shift(timedelta(days=1))
    _reviewed(alice, "K-2026-0002", "发稿前与法务对齐")
    clock.shift(timedelta(days=1))
    _reviewed(alice, "K-2026-0003", "给记者留足采访时间")
    _reviewed(alice, "K-2026-0004", "政府沟通要带合规材料", audience="government")

    alice("/comm new")
    out = alice.say("媒体")
    text = out[-1].message.text
    assert "上次与这类对象沟通后" in text
    assert "1) 给记者留足采访时间(K-2026-0003" in text
    assert "2) 发稿前与法务对齐(K-2026-0002" in text
    assert "提前准备价格口径" not in text and "合规材料" not in text  # only the last two
    assert [c.value for c in out[-1].message.choices] == [
        "/comm lesson K-2026-0003", "/comm lesson K-2026-0002"]

    # Picked by its number where there are no buttons: not taken as the name.
    out = alice("2")
    assert "请发送 /comm lesson K-2026-0002" in out and "对方叫什么" in out

    # Pressing one makes the action item and the draft carries on where it was.
    made = alice("/comm lesson K-2026-0003", is_action=True)
    assert "已从 K-2026-0003 的复盘建立行动项 A-2026-0001" in made
    assert "给记者留足采访时间 · 截止 2026年12月5日" in made
    assert "主题" in alice("新华社")
    with app.db.session() as s:
        item = s.exec(select(ActionItem)).one()
        assert (item.origin, item.origin_ref, item.owner_id) == ("comm", "K-2026-0003", "alice")
    assert "沟通复盘 K-2026-0003" in alice("/action list")

    # An audience with no reviewed records asks as before.
    alice("/comm new")
    assert "上次与这类对象沟通后" not in alice("行业")
    alice("取消")
    _prepare(alice, audience="industry")
    assert "还没有复盘" in alice("/comm lesson K-2026-0005")


def test_lessons_in_english_and_a_chosen_due_time(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    dana = Chat(app, "dana")
    dana("/lang en")
    _reviewed(dana, "K-2026-0001", "bring the legal team earlier", audience="government")
    dana("/comm new")
    out = dana("government")
    assert "What the last reviews of communications with this audience said" in out
    assert "1) bring the legal team earlier (K-2026-0001" in out
    made = dana('/comm lesson K-2026-0001 "next friday 5pm"')
    assert "Action item A-2026-0001 made from the review of K-2026-0001" in made
    assert "due Fri 4 Dec 2026, 17:00" in made
    dana("City Commerce Bureau")
    dana("export rules")
    dana("Build a relationship")
    dana("meet the team")
    dana("skip")
    dana("meeting")
    summary = dana("skip")
    assert "bring the legal team earlier" in summary  # the plan shows them once more
