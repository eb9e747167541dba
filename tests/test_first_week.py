"""Issue 16, a first week of real use: each problem found, as the user met it, in both
languages. Console transcripts with a fake clock (Thu 26 Nov 2026, 10:00 in Shanghai)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.messages import Reply
from schedules import api
from schedules.api import Target
from schedules.models import Reminder
from tests.support import Chat, build_app, run_due

REF = "C-2026-0001"


def _setup(db_url, tmp_path, **overrides):  # noqa: ANN001, ANN202
    """Complaints and escalations channels bound; bob is an agent; carol is staff."""
    app, _ = build_app(db_url, tmp_path, **overrides)
    Chat(app, "admin", channel="C-COMPLAINTS", direct=False)("/route complaints here")
    Chat(app, "admin", channel="C-ESC", direct=False)("/route escalations here")
    for name in ("bob", "carol", "dave"):
        Chat(app, name)("/whoami")
    Chat(app, "admin")("/role grant @bob agent")
    return app


def _file(chat: Chat, owner: str | None = "@bob", **fields: str) -> str:
    values = {"customer": "ACME 公司", "contact": "13800000000", "channel": "phone",
              "summary": "退款未到账", "details": "两周前申请退款,至今未到账", "severity": "high",
              "received": "now", "owner": owner, **fields}
    words = " ".join(f'{k}="{v}"' for k, v in values.items() if v is not None)
    chat(f"/complaint new {words}")
    if owner is None:
        chat("跳过")  # the owner question: the complaints channel picks someone
    return chat("确认")


def _reminder(app, key_part: str) -> Reminder:  # noqa: ANN001
    with app.db.session() as s:
        rows = s.exec(select(Reminder)).all()
    return next(r for r in rows if key_part in r.key)


def _plan(app, key: str, due: datetime, **kw):  # noqa: ANN001, ANN202
    with app.db.session() as s:
        row = api.plan(s, key=key, kind="actions.due", due=due,
                       target=Target.member("console", "alice"), record_type="action",
                       record_id="A-1", **kw)
        s.flush()
        return row.id


# -- 1. snooze only ever postpones ----------------------------------------------------------------


def test_snooze_counts_from_the_due_time_not_from_now(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    thursday = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)  # Thu 3 Dec, 09:00 Shanghai
    saturday = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)  # Sat 28 Nov, 10:00
    far, sat = _plan(app, "far", thursday), _plan(app, "sat", saturday)
    alice = Chat(app, "alice")
    out = alice(f"/remind snooze {far} 1h")
    assert "2026年12月3日 周四 10:00" in out and "11月26日" not in out
    assert "2026年11月28日 周六 11:00" in alice(f"/remind snooze {sat} 1h")
    # "tomorrow" is the day after the due day, not after today
    assert "2026年12月4日 周五 09:00" in alice(f"/remind snooze {far} tomorrow")
    alice("/lang en")
    out = alice(f"/remind snooze {far} next-workday")
    assert "moved from Fri 4 Dec 2026, 09:00 to Mon 7 Dec 2026, 09:00" in out
    out = alice(f"/remind snooze {far} 2026-11-30 09:00")
    assert "only pushes a reminder back" in out and "Mon 7 Dec 2026, 09:00" in out
    with app.db.session() as s:
        assert s.get(Reminder, far).due_at == datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


def test_snooze_of_a_reminder_already_due_counts_from_now(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    late = _plan(app, "late", datetime.now(UTC) - timedelta(hours=3))
    alice = Chat(app, "alice")
    assert "2026年11月26日 周四 11:00" in alice(f"/remind snooze {late} 1h")
    assert "不比它晚" in alice(f"/remind snooze {late} 今天上午10点半")


def test_a_warning_is_not_snoozed_past_its_deadline_in_chinese(db_url, tmp_path, clock):
    app = _setup(db_url, tmp_path)
    _file(Chat(app, "alice"), severity="high")
    warn = _reminder(app, ":due:1h").id  # due Fri 27 Nov 09:00; deadline 10:00
    bob = Chat(app, "bob")
    out = bob(f"/remind snooze {warn} next-workday")
    assert "截止时间 2026年11月27日 周五 10:00" in out and "来不及" in out
    assert f"最晚可以推迟到 2026年11月27日 周五 09:45:/remind snooze {warn} 2026-11-27 09:45" in out
    assert "推迟到 2026年11月27日 周五 09:45" in bob(f"/remind snooze {warn} 2026-11-27 09:45")
    assert "不能再往后推" in bob(f"/remind snooze {warn} 1h")


def test_a_warning_is_not_snoozed_past_its_deadline_in_english(db_url, tmp_path, clock):
    app = _setup(db_url, tmp_path)
    _file(Chat(app, "alice"), severity="high")
    warn = _reminder(app, ":due:4h").id  # due Fri 27 Nov 06:00; deadline 10:00
    bob = Chat(app, "bob")
    bob("/lang en")
    out = bob(f"/remind snooze {warn} tomorrow")
    assert "warns about a deadline at Fri 27 Nov 2026, 10:00" in out
    assert f"The latest it can go is Fri 27 Nov 2026, 09:45: /remind snooze {warn}" in out
    assert "moved from Fri 27 Nov 2026, 06:00 to Fri 27 Nov 2026, 08:00" in bob(
        f"/remind snooze {warn} 2h")


# -- 2. every list is one item a line, on every platform -------------------------------------------

ADMINS = {"console": "admin", "slack": "UADMIN", "dingtalk": "dtadmin"}


@pytest.mark.sqlite_only
@pytest.mark.parametrize("platform", ["console", "slack", "dingtalk"])
@pytest.mark.parametrize("locale", ["zh", "en"])
def test_every_list_is_one_item_a_line(db_url, tmp_path, clock, platform, locale):
    app, _ = build_app(db_url, tmp_path,
                       admins="console:admin,slack:UADMIN,dingtalk:dtadmin")
    me = Chat(app, ADMINS[platform], platform=platform)
    me(f"/lang {locale}")
    room = Chat(app, ADMINS[platform], platform=platform, channel="CROOM", direct=False)
    room("/route complaints here")
    room("/route meetings here")
    for customer in ("ACME", "Globex"):
        me(f'/complaint new customer="{customer}" contact=x channel=phone summary="refund late"'
           f' details="two weeks" severity=high received=now owner=me')
        me("confirm")
    for start in ("2026-12-01 10:00", "2026-12-02 10:00"):
        me(f'/meeting new partner="ACME" title="Review" start="{start}"')
        for answer in ("skip", "王经理(ACME)", "agenda item", "done", "skip", "skip", "confirm"):
            me(answer)
    lists = {
        "/remind list": 14,  # 3 per complaint (4h, 1h, escalation), 4 per meeting (two
        # agenda reminders, time up at the planned end, minutes)
        "/complaint list": 2,
        "/meeting list": 2,
        "/route list": 2,
    }
    for command, count in lists.items():
        out = me.say(command)[0].message
        lines = [ln for ln in out.body.split("\n") if ln.startswith("•")]
        assert len(lines) == count, (command, out.body)
        assert out.body.count("•") == count, (command, out.body)  # none glued to another
    listing = me("/remind list")
    kinds = (["响应期限前 4小时 预警", "响应期限前 1小时 预警", "升级"] if locale == "zh"
             else ["4h before the response deadline", "1h before the response deadline",
                   "escalation"])
    for kind in kinds:
        assert listing.count(kind) == 2, listing


# -- 3. no input can break a confirm ---------------------------------------------------------------


def test_half_an_emoji_is_refused_at_once_and_nothing_is_kept(db_url, tmp_path, clock):
    app, saved = build_app(db_url, tmp_path)
    alice = Chat(app, "alice")
    alice("/visit new")
    out = alice("ACME \ud83d 公司")
    assert "无法保存的字符" in out and "第 6 个字符,U+D83D" in out
    assert "ACME" not in alice("状态")  # not taken as the answer
    alice("/lang en")
    out = alice("/complaint new customer=\"\udc00\"")
    assert "a character that cannot be stored (U+DC00, character 26" in out
    assert "Nothing was kept" in out


@pytest.mark.sqlite_only
def test_dates_outside_a_plausible_window_are_refused_with_the_reason(db_url, tmp_path, clock):
    app = _setup(db_url, tmp_path)
    alice = Chat(app, "alice")
    out = alice('/meeting new partner=ACME title=Review start="9999-12-31 10:00"')
    assert "9999年12月31日" in out and "5 年以后,看起来是笔误" in out
    out = alice('/complaint new customer=ACME received="1970-01-01 09:00"')
    assert "1970年1月1日" in out and "5 年以前" in out
    out = alice('/complaint new customer=ACME received="2026-10-01 09:00"')
    assert "是 30 天以前。如果没错,请在末尾加 ! 再回答一次:2026-10-01 09:00!" in out
    out = alice('/complaint new customer=ACME received="2026-10-01 09:00!"')
    assert "联系方式" in out  # taken: the next question
    alice("取消")
    alice("/lang en")
    out = alice('/meeting new partner=ACME title=Review start="9999-12-31 10:00"')
    assert "more than 5 years ahead, which looks like a typo" in out
    out = alice("/complaint new received=1970-01-01")
    assert "Thu 1 Jan 1970" in out and "more than 5 years ago" in out


def test_action_due_and_reschedule_refuse_the_year_9999(db_url, tmp_path, clock):
    app = _setup(db_url, tmp_path)
    Chat(app, "admin", channel="C-MEET", direct=False)("/route meetings here")
    alice = Chat(app, "alice")
    alice('/meeting new partner=ACME title=Review start="2026-11-30 10:00"')
    for answer in ("跳过", "王经理(ACME)", "议程", "完成", "跳过", "跳过", "确认"):
        alice(answer)
    assert "5 年以后" in alice("/meeting reschedule M-2026-0001 9999-01-01 10:00")
    alice("/lang en")
    assert "more than 5 years ahead" in alice(
        "/meeting reschedule M-2026-0001 9999-01-01 10:00")


def _failing_flow(app) -> None:  # noqa: ANN001
    from bot.conversation import Flow, Step
    from bot.parsers import text, when

    def finish(ctx, answers):  # noqa: ANN001, ANN202
        raise OverflowError("date value out of range")

    app.registry.flow(Flow(name="broken", steps=(Step("who", "test/who", text()),
                                                  Step("at", "test/at", when())),
                           summary="test/summary", finish=finish))
    app.registry.family("broken")
    app.registry.command("broken", "new")(
        lambda ctx, args: ctx.app.engine.start(ctx, "broken"))


def test_a_confirm_that_cannot_succeed_closes_the_draft_with_the_reason(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    _failing_flow(app)
    alice = Chat(app, "alice")
    alice("/broken new")
    alice("ACME")
    alice("明天上午10点")
    out = alice("确认")
    assert "无法保存" in out and "草稿已关闭" in out
    nothing = Reply("flow/nothing_to_cancel")
    assert alice("取消") == app.renderer.render(nothing, locale="zh", platform="console",
                                               zone=app.settings.zone).body  # no draft left
    alice("/lang en")
    alice("/broken new")
    alice("ACME")
    alice("tomorrow 10am")
    assert "the draft is closed and nothing was saved" in alice("confirm")


# -- 4. the Chinese people actually type -----------------------------------------------------


@pytest.mark.sqlite_only
def test_aliases_work_on_their_own_in_chinese(db_url, tmp_path, clock):
    app = _setup(db_url, tmp_path)
    _file(Chat(app, "alice"), owner=None)  # nobody owns it yet
    bob = Chat(app, "bob")
    assert "负责人" in bob(f"认领 {REF} me") and "bob" in bob(f"/complaint show {REF}")
    alice = Chat(app, "alice")
    alice('/comm new audience=政府 audience_name="市监局" topic="新品" goal=publish '
          'goal_text="说明" channel=press_release')
    alice("跳过")
    alice("跳过")
    assert "K-2026-0001" in alice("确认")
    assert "政府机构" in alice("/comm show K-2026-0001")
    assert "初步接触" in alice("执行 K-2026-0001")
    alice("取消")
    assert "互动反馈" in alice("勾选 K-2026-0001 feedback 对方问价格")
    out = alice("列表")
    assert "好几个命令" in out and "/remind list" in out and "/complaint list" in out


@pytest.mark.sqlite_only
def test_aliases_and_typed_forms_in_english(db_url, tmp_path, clock):
    app = _setup(db_url, tmp_path)
    _file(Chat(app, "alice"), owner=None)
    bob = Chat(app, "bob")
    bob("/lang en")
    assert "bob" in bob(f"take {REF} me") and "Owner: @bob" in bob(f"/complaint show {REF}")
    assert "Complaints" in bob("ls") and REF in bob("ls")
    out = bob("new")  # an alias of /tp propose, and the name of three other commands
    assert "is several commands" in out and "/meeting new" in out and "/tp propose" in out


@pytest.mark.sqlite_only
def test_scores_as_people_type_them(db_url, tmp_path, clock):
    app = _setup(db_url, tmp_path)
    _file(Chat(app, "alice"))
    bob = Chat(app, "bob")
    bob(f"/complaint respond {REF} 已致电")
    bob(f"/complaint solution {REF} 退款")
    bob(f"/complaint followup {REF} 客户确认收到")
    for typed, score in (("5分", 5), ("五", 5), ("四分", 4), ("三星", 3), ("５", 5)):
        assert f"{score}/5" in bob(f"/complaint satisfaction {REF} {typed}"), typed
    bob("/lang en")
    assert "4/5" in bob(f"/complaint satisfaction {REF} 4 stars")


@pytest.mark.sqlite_only
def test_full_width_slash_space_and_chinese_keys(db_url, tmp_path, clock):
    app = _setup(db_url, tmp_path)
    alice = Chat(app, "alice")
    assert "哪位客户" in alice("／complaint　new")
    alice("取消")
    assert "哪位客户" in alice("投诉　新建")
    alice("取消")
    out = alice('／ｃｏｍｐｌａｉｎｔ new 客户＝ACME 收到时间="昨天下午3点" severity=高')
    assert "联系方式" in out  # customer, received and severity taken; the next question
    alice("取消")
    out = alice("/complaint new 客户=ACME 来电=昨天")
    assert "没有 “来电” 这一项" in out and "客户=、联系方式=" in out and "收到时间=" in out
    alice("/lang en")
    out = alice("/complaint new customer=ACME colour=red")
    assert "no field “colour”" in out and "customer=, contact=" in out and "received=" in out


# -- 5. notifications never claim a delivery that did not happen ---------------------------------

PROPOSAL = ["/tp propose", "退款政策", "产品有质量问题可以退款吗?",
            "收到商品7天内可无理由退款,质量问题15天内包退换。", "退款, 投诉", "中文", "确认"]


def _say_all(chat: Chat, lines: list[str]) -> list:
    out: list = []
    for line in lines:
        out = chat.say(line)
    return out


def _dm(out, user: str) -> list[str]:  # noqa: ANN001
    return [o.message.text for o in out if o.address.user == user and not o.address.in_reply]


def test_a_proposal_nobody_else_can_approve_goes_to_the_admins(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    alice = Chat(app, "alice")
    out = _say_all(alice, PROPOSAL)
    mine = "\n".join(o.message.text for o in out if o.address.in_reply)
    assert "已交审批人" not in mine and "已改发给管理员" in mine
    (to_admin,) = _dm(out, "admin")
    assert "口径提议 #1" not in to_admin and "/tp approve 1" in to_admin
    assert "/role grant @成员 approver" in to_admin
    assert "已批准 #1 第 1 版" in Chat(app, "admin")("/tp approve 1")


def test_a_proposal_nobody_can_approve_says_so_in_english(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path, admins="console:admin")
    admin = Chat(app, "admin")
    admin("/lang en")
    out = _say_all(admin, ["/tp propose", "Refunds", "Can I get a refund?", "Within 7 days.",
                           "skip", "English", "confirm"])
    mine = "\n".join(o.message.text for o in out if o.address.in_reply)
    assert "is with the approvers" not in mine
    assert "nobody else can approve it yet" in mine and "/role grant @someone approver" in mine
    assert [o for o in out if not o.address.in_reply] == []


def test_an_unassigned_complaint_with_no_channel_says_nobody_saw_it(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    alice = Chat(app, "alice")
    alice("/whoami")
    alice('/complaint new customer=ACME contact=x channel=phone summary="退款" details="未到账" '
          "severity=high received=now")
    alice("跳过")
    out = alice.say("确认")
    mine = "\n".join(o.message.text for o in out if o.address.in_reply)
    assert "投诉频道的同事会认领" not in mine and "其他人都没有看到" in mine
    assert "已通知管理员" in mine
    (fix,) = _dm(out, "admin")
    assert "需要绑定频道:投诉频道" in fix and "/route complaints here" in fix
    alice("/lang en")
    alice('/complaint new customer=ACME contact=x channel=phone summary="refund" details="late" '
          "severity=high received=now")
    alice("skip")
    mine = alice("confirm")
    assert "nobody else has seen it" in mine and "/complaint assign C-2026-0002 me" in mine
    assert "The admins have been told" in mine


def test_an_escalation_with_no_channel_goes_to_the_admins_and_the_log(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    Chat(app, "admin", channel="C-COMPLAINTS", direct=False)("/route complaints here")
    Chat(app, "bob")("/lang en")  # the owner reads English, the admin Chinese
    _file(Chat(app, "alice"))
    clock.shift(timedelta(hours=24))
    sent = run_due(app)
    (breach,) = [o for o in sent if "past its response deadline" in o.message.title]
    assert breach.address.user == "bob" and "has been told" not in breach.message.text
    assert "No escalations channel is bound, so only you and the admins know" in (
        breach.message.text)
    (notice,) = [o for o in sent if o.address.user == "admin"]
    assert "(Asia/Shanghai)\n原因:没有频道绑定为 escalations 频道" in notice.message.text
    assert "/route escalations here" in notice.message.text


def test_the_console_chat_logs_to_a_file_not_into_the_conversation(tmp_path):
    import subprocess
    import sys

    code = ("import logging; from bot.config import Settings; from bot.runtime import "
            "configure_logging; configure_logging(Settings(_env_file=None), chat=True); "
            "logging.getLogger('schedules.worker').warning('reminder failed for good')")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, env={"PYTHONPATH": str(Path.cwd())})
    assert done.stderr == "" and done.stdout == ""
    assert "reminder failed for good" in (tmp_path / "liaison.log").read_text()


# -- 6. staff see what they filed ------------------------------------------------------------------


def test_staff_see_what_they_filed(db_url, tmp_path, clock):
    app = _setup(db_url, tmp_path)
    carol = Chat(app, "carol")  # plain staff
    _file(carol, contact="13800000000")
    show = carol(f"/complaint show {REF}")
    assert "13800000000" in show and "两周前申请退款" in show  # in full
    listing = carol("/complaint list mine")
    assert REF in listing and "(1)" in listing and "我负责或登记的" in listing
    assert REF not in Chat(app, "dave")("/complaint list mine")  # nor anyone else's
    assert "13800000000" not in Chat(app, "dave")(f"/complaint show {REF}")
    carol("/lang en")
    assert "13800000000" in carol(f"/complaint show {REF}")
    listing = carol("/complaint list mine")
    assert REF in listing and "mine (owned or filed by me) (1)" in listing


# -- 7. smaller things, each seen ------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_confirm_typed_at_a_free_text_question_is_not_taken_as_the_answer(db_url, tmp_path,
                                                                           clock):
    app = _setup(db_url, tmp_path)
    alice = Chat(app, "alice")
    alice("/complaint new customer=ACME")
    out = alice("确认")  # at the contact question
    assert "不是这个问题的回答" in out and "你是想确认吗" in out and "联系方式" in out
    assert "什么渠道" in alice("13800000000")  # the contact taken, the next question
    alice("/lang en")
    alice("/complaint new customer=ACME")
    out = alice("confirm")
    assert "not an answer to this question" in out and "Did you mean to confirm?" in out
    assert "contact" in out.lower()


def _comm(chat: Chat) -> None:
    chat('/comm new audience=media audience_name="新华社" topic="新品发布" goal=publish '
         'goal_text="三家媒体报道新品" channel=press_release')
    chat("跳过")
    chat("跳过")
    chat("确认")


@pytest.mark.sqlite_only
def test_the_step_counter_is_right_from_the_first_step(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    alice = Chat(app, "alice")
    _comm(alice)
    first = alice("/comm run K-2026-0001")
    assert "(1/5" in first  # not (2/5): the record named in the command is not a step
    assert "(2/5" in alice("电话")  # contact by phone: when?
    assert "(3/5" in alice("今天上午9点")
    alice("取消")
    alice("/lang en")
    assert "(1/5" in alice("/comm run K-2026-0001")
    assert "(2/5" in alice("phone")


def _meeting(chat: Chat, start: str) -> str:
    chat(f'/meeting new partner=ACME title=Review start="{start}"')
    for answer in ("skip", "王经理(ACME)", "agenda item", "done", "skip", "skip"):
        chat(answer)
    return chat("confirm")


def test_a_meeting_minutes_away_asks_for_the_agenda_now_and_is_held_after_minutes(
        db_url, tmp_path, clock):
    app = _setup(db_url, tmp_path)
    alice = Chat(app, "alice")
    out = _meeting(alice, "2026-11-26 10:02")
    assert "会议 2分钟 后开始,请现在就发出议程" in out and "会前 1天" not in out
    alice("/lang en")
    out = _meeting(alice, "2026-11-26 10:05")
    assert "It starts in 5m, so send the agenda now" in out
    assert "before the start" in _meeting(alice, "2026-11-30 10:00")
    clock.shift(timedelta(hours=2))
    alice("/meeting minutes M-2026-0001")
    alice("We reviewed the quarter.")
    alice("done")
    alice("done")
    alice("confirm")
    assert "Status: held (minutes recorded)" in alice("/meeting show M-2026-0001")
    assert "Status: scheduled" in alice("/meeting show M-2026-0003")
    alice("/lang zh")
    assert "状态:已召开(已有纪要)" in alice("/meeting show M-2026-0001")


def test_destructive_commands_ask_first(db_url, tmp_path, clock):
    app = _setup(db_url, tmp_path)
    Chat(app, "admin", channel="C-MEET", direct=False)("/route meetings here")
    alice, bob = Chat(app, "alice"), Chat(app, "bob")
    _meeting(alice, "2026-11-30 10:00")
    (ask,) = alice.say("/meeting cancel M-2026-0001")
    assert "要取消会议 M-2026-0001" in ask.message.text
    assert [c.value for c in ask.message.choices] == ["/meeting cancel M-2026-0001 confirm"]
    assert "状态:已安排" in alice("/meeting show M-2026-0001")  # nothing happened yet
    assert "已取消" in alice("/meeting cancel M-2026-0001 confirm")
    _file(alice)
    out = bob(f"/complaint close {REF} 客户撤回投诉")
    assert "要关闭投诉 C-2026-0001(客户撤回投诉)吗" in out
    assert "已关闭" not in bob(f"/complaint show {REF}")
    bob("/lang en")
    assert f"Close complaint {REF} (customer withdrew)?" in bob(
        f"/complaint close {REF} customer withdrew")
    assert "is closed" in bob(f"/complaint close {REF} customer withdrew confirm")
    show = bob(f"/complaint show {REF}")
    assert "customer withdrew" in show and "withdrew confirm" not in show
    Chat(app, "admin")("/role grant @bob approver")
    _say_all(bob, ["/tp propose", "Refunds", "Can I get a refund?", "Within 7 days.", "skip",
                   "English", "confirm"])
    bob("/tp approve 1")
    out = bob("/tp retire 1")
    assert "Retire talking point #1 “Refunds”?" in out and "/tp retire 1 confirm" in out
    assert "Retired #1 “Refunds”" in bob("/tp retire 1 confirm")


@pytest.mark.sqlite_only
def test_role_list_is_one_line_a_person(db_url, tmp_path, clock):
    app = _setup(db_url, tmp_path)
    admin = Chat(app, "admin")
    admin("/role grant @bob approver")
    admin("/role grant @carol agent")
    out = admin("/role list")
    assert "• bob(控制台):客服专员、审批人\n• carol(控制台):客服专员" in out
    assert out.count("• bob") == 1 and out.count("• carol") == 1
    admin("/lang en")
    out = admin("/role list")
    assert out.count("• bob") == 1 and "• bob (console): agent, approver" in out


def test_an_approver_is_warned_of_placeholders(db_url, tmp_path, clock):
    app = _setup(db_url, tmp_path)
    Chat(app, "admin")("/role grant @bob approver")
    alice, bob = Chat(app, "alice"), Chat(app, "bob")
    out = _say_all(alice, ["/tp propose", "年报", "年报在哪里看?", "请见 [报告链接],【日期】发布。",
                           "跳过", "中文", "确认"])
    (request,) = _dm(out, "bob")
    assert "⚠ 回答里还有占位符:[报告链接]、【日期】" in request
    out = bob("/tp approve 1")
    assert "还有占位符" in out and "/tp approve 1 confirm" in out
    assert "已批准" in bob("/tp approve 1 confirm")
    bob("/lang en")
    _say_all(alice, ["/tp propose", "Annual report", "Where is it?", "See {link}, TBD.", "skip",
                     "English", "confirm"])
    out = bob("/tp approve 2")
    assert "still has placeholders: {link}, TBD" in out


@pytest.mark.sqlite_only
def test_a_bad_one_line_value_is_asked_for_and_the_options_listed(db_url, tmp_path, clock):
    app = _setup(db_url, tmp_path)
    alice = Chat(app, "alice")
    out = alice('/complaint new customer=ACME severity=blah received="next week"')
    assert "severity:请从选项中选择一个" in out and "1. 低 · 2. 普通 · 3. 高 · 4. 紧急" in out
    assert "received:我读不懂" in out
    assert "联系方式" in out  # the flow started, customer kept; severity and received asked later
    alice("取消")
    alice("/lang en")
    out = alice("/complaint new customer=ACME severity=blah")
    assert "severity: Please pick one of the options" in out and "1. low · 2. normal" in out
    assert "contact" in out.lower()


@pytest.mark.sqlite_only
def test_an_unknown_subcommand_suggests_a_likeness_or_all(db_url, tmp_path, clock):
    app = _setup(db_url, tmp_path)
    alice = Chat(app, "alice")
    out = alice("/complaint frobnicate")
    assert "/complaint new" in out and "/complaint list" in out and "/complaint close" in out
    out = alice("/complaint shwo")
    assert "可用的有:/complaint show。" in out
    alice("/lang en")
    out = alice("/meeting frobnicate")
    assert "Try /meeting new, /meeting agenda" in out and "/meeting cancel" in out


@pytest.mark.sqlite_only
def test_english_help_shows_the_chinese_aliases(db_url, tmp_path, clock):
    app = _setup(db_url, tmp_path)
    bob = Chat(app, "bob")
    bob("/lang en")
    out = bob("/help")
    assert "(also: 投诉, complaints)" in out
    assert "(also: 指派, 分配, 认领, take)" in out
    out = bob("/help remind")
    assert "(also: 列表)" in out and "(also: 推迟, 稍后)" in out
    assert "别名" in Chat(app, "carol")("/help")  # the Chinese help keeps its own wording


def test_a_critical_complaint_is_due_in_four_hours_by_default(db_url, tmp_path, clock):
    app = _setup(db_url, tmp_path)
    out = _file(Chat(app, "alice"), severity="critical")
    assert "2026年11月26日 周四 14:00" in out and "4小时" in out
    bob = Chat(app, "bob")
    bob("/lang en")
    _file(bob, owner="me", severity="low")
    assert "Fri 27 Nov 2026, 10:00" in bob("/complaint show C-2026-0002")


def test_a_reminder_for_one_console_user_prints_only_in_their_console(db_url, tmp_path, clock):
    import io

    from bot.adapters.console import ConsoleAdapter
    from schedules.worker import Sweeper

    app, _ = build_app(db_url, tmp_path)
    with app.db.session() as s:
        api.plan(s, key="training", kind="system.training", due=datetime.now(UTC),
                 target=Target.member("console", "bob"), payload={"quarter": "2026Q4"})
    alices, bobs = io.StringIO(), io.StringIO()
    alice = ConsoleAdapter(app, "alice", out=alices)
    bob = ConsoleAdapter(app, "bob", out=bobs)
    Sweeper(app, {"console": alice}).sweep()  # alice's console claims it first: not hers
    assert alices.getvalue() == ""
    clock.shift(timedelta(minutes=5))
    Sweeper(app, {"console": bob}).sweep()
    assert "── [@bob] ──" in bobs.getvalue() and alices.getvalue() == ""


def test_every_alias_the_chinese_help_names_works_on_its_own():
    import re

    import handlers
    from bot.errors import UserError
    from bot.render import templates_root
    from bot.router import Registry

    registry = Registry()
    handlers.register_all(registry)
    named = set()
    for path in (templates_root() / "zh").rglob("labels.yaml"):
        for found in re.findall(r"别名:([^);]*)", path.read_text(encoding="utf-8")):
            for phrase in found.split("、"):
                named.add(phrase.strip())
    assert {"认领", "执行", "勾选", "列表"} <= named
    for phrase in sorted(named):
        try:
            registry.parse(phrase)
        except UserError as exc:  # a usage answer is fine; not knowing the word is not
            assert exc.template not in ("errors/unknown_command", "errors/unknown_subcommand"), (
                phrase, exc.template)
