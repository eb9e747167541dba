"""The communication checklist as a person meets it in chat: prepare, execute, review, with
the reminders that keep it moving, in both languages."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.models import AuditEntry, Conversation
from handlers.comm.models import CommRecord
from handlers.comm.rules import IDS
from schedules.models import Reminder, Status
from tests.support import Chat, build_app, run_due

REF = "K-2026-0001"


def _app(db_url, tmp_path, **kw):  # noqa: ANN001, ANN202
    app, _ = build_app(db_url, tmp_path, **kw)
    return app


def _prepare(chat: Chat, audience: str = "media", name: str = "新华社",
             topic: str = "新品发布") -> str:
    """A record created with prefilled answers; returns the reply to the confirmation."""
    chat(f'/comm new audience={audience} audience_name="{name}" topic="{topic}" goal=publish '
         'goal_text="三家媒体报道新品" channel=press_release')
    if audience == "customer":
        chat("否")
    chat("跳过")  # materials
    chat("跳过")  # strategy
    return chat("确认")


def _record(app, ref: str = REF) -> CommRecord:  # noqa: ANN001
    with app.db.session() as s:
        return s.exec(select(CommRecord).where(CommRecord.ref == ref)).one()


def _reminders(app, ref: str = REF) -> dict[str, Reminder]:  # noqa: ANN001
    with app.db.session() as s:
        rows = s.exec(select(Reminder).where(Reminder.record_id == ref)).all()
        return {r.kind: r for r in rows}


# -- the whole cycle -------------------------------------------------------------------------


def test_prepare_execute_review_in_chinese(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    chat = Chat(app, "alice")
    assert "对方是哪一类" in chat("沟通 新建")
    assert "对方叫什么" in chat("媒体")
    assert "主题" in chat("新华社")
    assert "目标是哪一类" in chat("Q4 新品发布")
    assert "一句话写下具体目标" in chat("发布信息")
    assert "资料" in chat("让三家主流媒体报道新品")
    assert "共 2 项" in chat("新闻稿草稿\nhttps://example.com/q4-data")
    assert "什么渠道" in chat("完成")
    assert "沟通策略" in chat("新闻稿")
    summary = chat.say("先电话约时间,再发邮件附资料")[0].message
    assert summary.title == "请确认沟通计划"
    assert "对象:媒体 · 新华社" in summary.body
    assert "  - https://example.com/q4-data" in summary.body
    assert "对媒体只能使用已审批的口径" in summary.body
    with app.db.session() as s:
        assert s.exec(select(CommRecord)).all() == []  # nothing before confirmation

    created, hint = chat.say("确认")
    assert created.message.title == f"已创建沟通记录 {REF}(已准备)"
    assert "渠道:新闻稿 · 策略:先电话约时间,再发邮件附资料" in created.message.body
    assert "只能使用已审批的口径" in hint.message.text
    assert [c.value for c in hint.message.choices] == ['/tp "Q4 新品发布"']
    assert _record(app).state == "prepared"

    assert "初步接触" in chat(f"沟通 执行 {REF}")
    assert "什么时候联系上的" in chat("电话")
    assert "信息传递" in chat("今天上午9点")
    assert "互动反馈" in chat("新品 12 月上市,首批 5 个城市")
    chat("问价格\n问首批城市名单")
    assert "跟进确认" in chat("完成")
    summary = chat.say("跳过")[0].message
    assert "✓ 初步接触:电话,2026年11月26日 周四 09:00" in summary.body
    assert "○ 跟进确认:还没有" in summary.body
    out = chat("确认")
    assert "执行清单(3/4)" in out and "○ 4. 跟进确认(未完成)" in out
    assert "    – 问首批城市名单" in out
    assert "2天 后跟进确认仍未完成" in out
    assert _record(app).state == "executing"

    out = chat(f"/comm check {REF} followup email")
    assert "已勾选“跟进确认”(已执行)" in out and "执行清单(4/4)" in out
    assert "请在 7天 内复盘:/comm review K-2026-0001" in out

    assert "目标达成得怎么样" in chat(f"沟通 复盘 {REF}")
    assert "用什么衡量" in chat("4")
    assert "主要的不足" in chat("三家媒体均发稿,阅读量 12 万")
    assert "具体说说" in chat("信息遗漏")
    chat("没有提前准备价格问题的回答")
    assert "下次要改变什么" in chat("完成")
    summary = chat("提前与销售对齐价格口径")
    assert "效果:4/5 · 三家媒体均发稿,阅读量 12 万" in summary
    out = chat("确认")
    assert f"{REF} 已复盘" in out and "/comm cases" in out
    assert _record(app).state == "reviewed"

    cases = chat("/comm cases 媒体")
    assert REF in cases and "效果 4/5" in cases and "改进:提前与销售对齐价格口径" in cases
    card = chat(f"/comm show {REF}")
    assert "沟通记录 K-2026-0001 · 已复盘" in card
    timeline = card.split("变更记录:")[1]
    assert [line.split(" alice ")[1] for line in timeline.splitlines() if " alice " in line] \
        == ["创建", "记录执行", "勾选 跟进确认", "复盘"]
    with app.db.session() as s:
        actions = s.exec(select(AuditEntry.action).where(AuditEntry.record_id == REF)).all()
        assert sorted(actions) == ["check", "create", "review", "run"]
        assert s.exec(select(Conversation)).all() == []
    # Reviewed: the reminders have nothing left to say.
    assert {r.status for r in _reminders(app).values()} <= {Status.CANCELLED}


def test_prepare_execute_review_in_english(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    chat = Chat(app, "dana")
    chat("/lang en")
    assert "who are you communicating with" in chat("/comm new")
    chat("government")
    chat("City Commerce Bureau")
    chat("export licence rules")
    chat("Build a relationship")
    chat("Introduce our compliance team")
    chat("policy: 2026 export notice")
    chat("done")
    chat("meeting")
    summary = chat("skip")
    assert "Audience: Government body · City Commerce Bureau" in summary
    assert "Channel: Meeting" in summary and "talking points" not in summary
    out = chat.say("confirm")
    assert len(out) == 1 and out[0].message.title == f"Communication {REF} created (prepared)"

    chat(f"/comm run {REF}")
    assert "When did you reach them" in chat("meeting")
    chat("yesterday 3pm")
    chat("We will file every quarter")
    assert "Follow-up" in chat("done")  # no questions raised
    summary = chat("Summary email")
    assert "✓ Questions and suggestions: none raised" in summary
    out = chat("confirm")
    assert "Execution of K-2026-0001 saved (executed)" in out
    assert "✓ 1. First contact: Meeting, Wed 25 Nov 2026, 15:00" in out
    assert "Please review it within 7d" in out

    chat(f"/comm review {REF}")
    chat("5")
    chat("the bureau invited us to a hearing")
    assert "what will you change" in chat("Nothing notable")  # no details asked
    chat("bring the legal team earlier")
    assert "It is now in the case library" in chat("confirm")
    out = chat("/comm cases government")
    assert "effect 5/5 (the bureau invited us to a hearing)" in out
    assert "Next time: bring the legal team earlier" in out
    card = chat(f"/comm {REF}")  # the bare id shows the record
    assert "History:" in card and "dana reviewed" in card


# -- reminders -------------------------------------------------------------------------------


def test_the_owner_is_reminded_when_the_follow_up_is_still_open(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    chat = Chat(app, "alice")
    _prepare(chat)
    assert run_due(app) == []
    chat(f"/comm check {REF} contact phone")
    clock.shift(timedelta(days=2) - timedelta(minutes=1))
    assert run_due(app) == []
    clock.shift(timedelta(minutes=1))
    sent = run_due(app)
    assert len(sent) == 1 and sent[0].address.user == "alice"
    assert sent[0].message.title == f"请完成跟进确认:{REF}"
    assert "新华社 · 新品发布" in sent[0].message.body
    assert [c.value for c in sent[0].message.choices][:-5] == [
        f"/comm check {REF} followup email", f"/comm check {REF} followup call",
        f"/comm show {REF}"]
    # A button press arrives as text and ticks the step.
    assert "已勾选“跟进确认”" in chat(f"/comm check {REF} followup email", is_action=True)
    assert run_due(app) == []


def test_a_follow_up_done_in_time_sends_nothing(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path, comm={"followup": timedelta(hours=4)})
    chat = Chat(app, "alice")
    _prepare(chat)
    chat(f"/comm check {REF} message 新品 12 月上市")
    assert "新华社 · 新品发布" in chat("/remind list")  # the follow-up reminder, titled
    clock.shift(timedelta(hours=3))
    chat(f"/comm check {REF} followup call")
    clock.shift(timedelta(hours=2))
    assert run_due(app) == []
    assert _reminders(app)["comm.followup"].status == Status.CANCELLED


def test_an_executed_record_not_reviewed_reminds_its_owner(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    chat = Chat(app, "alice")
    chat("/lang en")
    _prepare(chat)
    for step in ("contact", "message", "feedback", "followup email"):
        chat(f"/comm check {REF} {step}")
    assert _record(app).state == "executed"
    clock.shift(timedelta(days=7) - timedelta(seconds=1))
    assert run_due(app) == []
    clock.shift(timedelta(seconds=1))
    sent = run_due(app)
    assert len(sent) == 1 and sent[0].message.title == f"Please review {REF}"
    assert [c.value for c in sent[0].message.choices][:-5] == [f"/comm review {REF}"]


def test_a_reminder_reads_the_record_as_it_is_when_it_fires(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path, comm={"followup": timedelta(hours=1)})
    chat = Chat(app, "alice")
    _prepare(chat)
    chat(f"/comm check {REF} contact")
    # Ticked behind the reminder's back (another replica, an admin tool): it stays quiet.
    with app.db.session() as s:
        record = s.exec(select(CommRecord).where(CommRecord.ref == REF)).one()
        record.followup_at = datetime.now(UTC)
        s.add(record)
    clock.shift(timedelta(hours=2))
    assert run_due(app) == []
    assert _reminders(app)["comm.followup"].last_error == "nothing_to_say"


# -- hints -----------------------------------------------------------------------------------


def test_media_hint_and_no_hint_for_others(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    chat = Chat(app, "alice")
    chat("/comm new audience=媒体 audience_name=财新 goal=solve goal_text=澄清传言 channel=phone")
    chat('"涨价" = 说明')  # the topic
    chat("跳过")
    chat("跳过")
    hint = chat.say("确认")[-1].message
    # User text inside the command a button sends: no quotes or '=' that change its reading.
    assert [c.value for c in hint.choices] == ['/tp "涨价 说明"']
    assert '发送 /tp "涨价 说明" 查询这个话题的口径' in hint.text
    _prepare(chat, audience="partner", name="Globex")
    assert "口径" not in chat.seen[-1].message.text


def test_a_customer_complaint_is_offered_the_complaint_process(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    chat = Chat(app, "alice")
    chat("/comm new")
    chat("客户")
    prompt = chat.say('ACME "Ltd"\n')[0].message
    assert "这是一起客户投诉吗" in prompt.text
    assert [c.value for c in prompt.choices] == ['/complaint new customer="ACME Ltd"', "no"]
    # Typed (no buttons on the console): the answer says which command to send.
    out = chat("1")
    assert '请发送 /complaint new customer="ACME Ltd" 改为登记投诉' in out
    assert "这是一起客户投诉吗" in out
    assert "主题" in chat("否")  # not a complaint: the preparation goes on


def test_the_offered_commands_work_when_pressed(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    if not {"complaint", "tp"} <= set(app.registry.families):
        pytest.skip("the /complaint and /tp domains are not registered in this checkout")
    chat = Chat(app, "alice")
    chat("/comm new audience=customer")
    button = chat.say("ACME")[0].message.choices[0].value
    chat(button, is_action=True)
    with app.db.session() as s:
        conv = s.exec(select(Conversation)).one()
        assert conv.flow != "comm.new" and conv.answers.get("customer") == "ACME"
    chat("取消")
    _prepare(chat, topic="new product launch")
    button = chat.seen[-1].message.choices[0].value
    assert button == '/tp "new product launch"'
    out = chat.say(button, is_action=True)
    assert out and all(o.message.template.startswith("talking_points/") for o in out)


# -- the checklist ---------------------------------------------------------------------------


def test_the_checklist_after_partial_completion(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    chat = Chat(app, "alice")
    _prepare(chat)
    chat(f"/comm run {REF}")
    chat("跳过")  # contact: not yet
    chat("新品 12 月上市")
    chat("跳过")  # feedback: not yet
    chat("跳过")  # follow-up: not yet
    assert "执行清单(1/4)" in chat("确认")
    clock.shift(timedelta(hours=1))
    out = chat(f'/comm check {REF} contact 电话 at="今天上午9点"')
    assert "✓ 1. 初步接触:电话,2026年11月26日 周四 09:00" in out
    chat(f"/comm check {REF} feedback 对方问价格")
    chat(f"/comm check {REF} 反馈 “对方问渠道”")
    card = chat(f"/comm show {REF}")
    assert "沟通记录 K-2026-0001 · 执行中" in card
    assert "执行清单(3/4):\n" in card
    assert "✓ 2. 信息传递:新品 12 月上市" in card
    assert "✓ 3. 互动反馈:2 条\n    – 对方问价格\n    – 对方问渠道" in card
    assert "○ 4. 跟进确认(未完成)" in card
    assert "还差:跟进确认" in card
    # The run flow now asks only what is open.
    out = chat(f"/comm run {REF}")
    assert "跟进确认" in out and "初步接触" not in out
    assert "(1/1" in out  # the one open step; the record named is not a step


# -- bad input -------------------------------------------------------------------------------


def test_bad_answers_in_the_preparation_are_asked_again(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    chat = Chat(app, "alice")
    chat("/comm new")
    assert "请从选项中选择一个:回复编号 1 到 6" in chat("robots")
    chat("媒体")
    assert "太长了(101 个字符),最多 100 个字符" in chat("x" * 101)
    assert "必填" in chat("跳过")
    chat("新华社")
    chat("新品")
    assert "请从选项中选择一个" in chat("9")
    chat("1")
    assert "这里不能为空" in chat("   ")
    chat("报道新品")
    out = chat("ok\n" + "y" * 501)
    assert "太长了" in out
    chat("完成")
    assert "请从选项中选择一个:回复编号 1 到 7" in chat("carrier pigeon")
    chat("邮件")
    chat("跳过")
    assert "请回复“确认”保存" in chat("maybe")
    assert "已取消" in chat("取消")
    with app.db.session() as s:
        assert s.exec(select(CommRecord)).all() == []
    assert "没有 “colour” 这一项" in chat("/comm new colour=red")


def test_bad_answers_in_execution_and_review(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    chat = Chat(app, "alice")
    _prepare(chat)
    chat(f"/comm run {REF}")
    assert "请从选项中选择一个" in chat("pigeon")
    chat("电话")
    assert "我读不懂时间" in chat("某个时候")
    assert "还没到,这里需要一个已经过去的时间" in chat("明天下午3点")
    chat("现在")
    assert "太长了" in chat("z" * 501)
    chat("说明了新品")
    assert "太长了" in chat("q" * 301)
    chat("完成")
    assert "请从选项中选择一个" in chat("fax")
    chat("总结邮件")
    chat("确认")
    assert _record(app).state == "executed"

    chat(f"/comm review {REF}")
    assert "1 到 5 之间" in chat("9")
    chat("3")
    chat("报道 1 篇")
    assert "请从选项中选择一个" in chat("bad luck")
    chat("没有明显不足")
    chat("下次提前一周联系")
    assert "已取消" in chat("取消")
    assert _record(app).state == "executed"  # nothing half-written


def test_bad_commands_get_a_clear_answer_and_change_nothing(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    alice, bob = Chat(app, "alice"), Chat(app, "bob")
    _prepare(alice)
    assert "用法:/comm run 编号" in alice("/comm run")
    assert "找不到沟通记录 “K-2026-9999”" in alice("/comm show K-2026-9999")
    assert "找不到沟通记录 “C-2026-0001”" in alice("/comm run C-2026-0001")
    assert "用法:/comm check 编号 步骤" in alice(f"/comm check {REF} dance")
    assert "用法:/comm check 编号 步骤" in alice(f"/comm check {REF} contact phone maybe")
    assert "请从选项中选择一个" in alice(f"/comm check {REF} contact pigeon")
    assert "我读不懂时间" in alice(f"/comm check {REF} contact phone at=someday")
    assert "还不能复盘:执行清单还差 初步接触、信息传递、互动反馈、跟进确认" in alice(
        f"/comm review {REF}")
    assert "由 alice 负责,只有负责人或管理员可以修改" in bob(f"/comm check {REF} contact")
    assert "由 alice 负责" in bob(f"/comm run {REF}")
    assert "看不懂 “robots”" in alice("/comm list robots")
    assert "看不懂 “robots”" in alice("/comm cases robots")
    assert "/comm new" in alice("/comm nwe")  # a typo gets suggestions
    with app.db.session() as s:
        actions = s.exec(select(AuditEntry.action).where(AuditEntry.record_id == REF)).all()
        assert actions == ["create"]
    assert _record(app).contact_at is None
    # An admin may act for the owner.
    assert "已勾选“初步接触”" in Chat(app, "admin")(f"/comm check {REF} contact")
    assert "已经勾选过了" in alice(f"/comm check {REF} contact")
    for step in ("message", "feedback", "followup"):
        alice(f"/comm check {REF} {step}")
    assert "执行清单已经全部完成。下一步:/comm review" in alice(f"/comm run {REF}")
    alice(f"/comm review {REF}")
    for answer in ("2", "没有报道", "时机不当", "完成", "避开发布会当天", "确认"):
        alice(answer)
    assert "已复盘,记录已关闭" in alice(f"/comm check {REF} feedback 迟到的问题")
    assert "已复盘,记录已关闭" in alice(f"/comm review {REF}")


def test_lists_mine_open_and_by_audience(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    alice, bob = Chat(app, "alice"), Chat(app, "bob")
    _prepare(alice)
    _prepare(bob, audience="customer", name="ACME")
    mine = alice("/comm list")
    assert "我的沟通记录" in mine and "K-2026-0001" in mine and "K-2026-0002" not in mine
    assert "K-2026-0002 [已准备 0/4] 客户 · ACME" in alice("/comm list open")
    by_audience = alice("/comm list 客户")
    assert "K-2026-0002" in by_audience and "K-2026-0001" not in by_audience
    assert "没有符合条件的沟通记录" in alice("/comm list government")
    assert "还没有已复盘的沟通" in alice("/comm cases")
    out = alice("/comm export")
    assert "共有 2 条沟通记录" in out and "liaison comm export --out comm.csv" in out


def test_ids_count_per_year_and_never_repeat_under_concurrency(db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    got: list[int] = []
    errors: list[BaseException] = []

    def allocate() -> None:
        try:
            for _ in range(5):
                with app.db.session() as s:
                    got.append(IDS.next(s, 2026)[0])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=allocate) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sorted(got) == list(range(1, 41))
    with app.db.session() as s:
        assert IDS.next(s, 2027)[0] == 1
    # The year is the company's local year: 1 January 01:00 in Shanghai is still 2026 in UTC.
    clock.move_to(datetime(2026, 12, 31, 17, 0, tzinfo=UTC))
    chat = Chat(app, "alice")
    assert "K-2027-0002" in _prepare(chat)
