"""`/complaint` as people use it in the console adapter, with a fake clock: intake, the card,
the response reminders, escalation, follow-up, permissions, privacy and bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import func, select

from bot.errors import DeliveryError
from bot.models import AuditEntry
from handlers.complaints.models import Complaint
from schedules.models import Reminder, Status
from tests.support import Chat, build_app, recording_adapters, run_due

REF = "C-2026-0001"


def _setup(db_url, tmp_path, **overrides):  # noqa: ANN001, ANN202
    """Complaints and escalations channels bound; bob is an agent; carol is staff."""
    app, _ = build_app(db_url, tmp_path, **overrides)
    room = Chat(app, "admin", channel="C-COMPLAINTS", direct=False)
    room("/route complaints here")
    Chat(app, "admin", channel="C-ESC", direct=False)("/route escalations here")
    for name in ("bob", "carol", "dave"):
        Chat(app, name)("/whoami")
    Chat(app, "admin")("/role grant @bob agent")
    return app, room


def _file(chat: Chat, owner: str = "@bob", **fields: str) -> list:
    values = {"customer": "ACME 公司", "contact": "13800000000", "channel": "phone",
              "summary": "退款未到账", "details": "两周前申请退款,至今未到账", "severity": "high",
              "received": "now", "owner": owner, **fields}
    words = " ".join(f'{k}="{v}"' for k, v in values.items() if v is not None)
    chat(f"/complaint new {words}")
    return chat.say("确认")


def _texts(outbounds) -> list[str]:  # noqa: ANN001
    return [o.message.text for o in outbounds]


def _count(app, model) -> int:  # noqa: ANN001
    with app.db.session() as s:
        return s.exec(select(func.count()).select_from(model)).one()


def _complaint(app, ref: str = REF) -> Complaint:  # noqa: ANN001
    with app.db.session() as s:
        return s.exec(select(Complaint).where(Complaint.ref == ref)).one()


def test_the_whole_life_of_a_complaint_in_chinese(db_url, tmp_path, clock):
    app, room = _setup(db_url, tmp_path)
    alice, bob = Chat(app, "alice"), Chat(app, "bob")
    assert "哪位客户" in alice("/投诉 新建")
    assert "联系方式" in alice("ACME 公司")
    assert "什么渠道" in alice("13800000000")
    assert "一句话" in alice("电话")
    assert "详情" in alice("退款两周未到账")
    assert "严重程度" in alice("客户两周前申请退款\n至今未到账,要求今天答复")
    assert "什么时候收到" in alice("高")
    out = alice("今天9:30")
    assert "谁负责" in out and "投诉频道的同事认领" in out  # alice is not an agent
    summary = alice.say("@bob")[0].message
    assert summary.title == "请确认这条投诉"
    assert "响应期限:2026年11月27日 周五 09:30 (Asia/Shanghai)(收到后 1天 内)" in summary.body
    assert _count(app, Complaint) == 0  # nothing is written before the confirmation

    out = alice.say("确认")
    mine = [o for o in out if o.address.in_reply]
    assert "已登记投诉 C-2026-0001" in mine[0].message.text
    assert "剩 23小时30分钟" in mine[0].message.text
    card = next(o for o in out if o.address.channel == "C-COMPLAINTS")
    assert card.message.title == "新投诉 C-2026-0001"
    assert "🟠 高 · ACME 公司 · 退款两周未到账" in card.message.body
    assert "负责人:@bob" in card.message.body and "13800000000" in card.message.body
    assert "要求今天答复" in card.message.body
    dm = next(o for o in out if o.address.user == "bob" and not o.address.in_reply)
    assert dm.message.title == "交给你的投诉 C-2026-0001" and dm.address.channel is None

    # Due Friday 09:30 Shanghai = 01:30 UTC; reminders at 4h and 1h before.
    clock.move_to(datetime(2026, 11, 26, 21, 29, tzinfo=UTC))
    assert run_due(app) == []
    clock.move_to(datetime(2026, 11, 26, 21, 30, tzinfo=UTC))
    (four,) = run_due(app)
    assert four.address.user == "bob"
    assert four.message.title == "⏰ 投诉 C-2026-0001 还剩 4小时 需要首次响应"
    clock.move_to(datetime(2026, 11, 27, 0, 30, tzinfo=UTC))
    (one,) = run_due(app)
    assert "还剩 1小时" in one.message.title
    assert "退款两周未到账" in bob("/remind list")  # the escalation is still pending

    out = bob("/complaint respond C-2026-0001 已电话联系客户,今天内处理")
    assert "首次响应" in out and "在期限内" in out and "用时 23小时" in out
    clock.move_to(datetime(2026, 11, 27, 2, 0, tzinfo=UTC))
    assert run_due(app) == []  # the response cancelled the escalation

    assert "3天" not in bob("/complaint solution C-2026-0001 今日补发退款并致歉")
    clock.shift(timedelta(days=3))
    (nag,) = run_due(app)
    assert nag.address.user == "bob" and nag.message.title == "📞 请回访:投诉 C-2026-0001"
    assert "今日补发退款并致歉" in nag.message.body
    clock.shift(timedelta(days=3))
    (again,) = run_due(app)  # until the follow-up is recorded
    assert "解决方案提出已 6天" in again.message.body
    assert "回访提醒已停止" in bob("/投诉 回访 C-2026-0001 客户确认已到账")
    clock.shift(timedelta(days=3))
    assert run_due(app) == []

    assert "4/5" in bob("/投诉 满意度 C-2026-0001 4 处理及时")
    assert "已解决" in bob("/投诉 解决 C-2026-0001")
    assert "已关闭" in bob("/投诉 关闭 C-2026-0001 确认")
    show = bob("/投诉 查看 C-2026-0001")
    assert "投诉 C-2026-0001 · 已关闭" in show
    for line in ("alice · 登记", "bob · 首次响应:已电话联系客户,今天内处理",
                 "bob · 解决方案:今日补发退款并致歉", "bob · 回访:客户确认已到账",
                 "bob · 满意度 4/5:处理及时", "bob · 标记已解决", "bob · 关闭"):
        assert line in show
    with app.db.session() as s:
        open_rows = s.exec(select(Reminder).where(Reminder.record_id == REF,
                                                  Reminder.status == Status.PENDING)).all()
        assert open_rows == []


def test_the_whole_life_of_a_complaint_in_english(db_url, tmp_path, clock):
    app, room = _setup(db_url, tmp_path)
    alice, bob = Chat(app, "alice"), Chat(app, "bob")
    alice("/lang en")
    bob("/lang en")
    bob("/tz Europe/London")
    out = alice('/complaint new customer="ACME Ltd" severity=high')
    assert "How can we reach them" in out and "Which customer" not in out
    assert "How did the complaint arrive" in alice("skip")
    assert "one line" in alice("email")
    alice("Invoice charged twice")
    assert "When did it arrive" in alice("Charged twice for order 1142.")
    assert "Who owns it" in alice("yesterday 3pm")
    summary = alice.say("@bob")[0].message
    assert summary.title == "Please confirm this complaint"
    assert "Received: Wed 25 Nov 2026, 15:00 (Asia/Shanghai)" in summary.body
    assert "Response due: Thu 26 Nov 2026, 15:00 (Asia/Shanghai)" in summary.body
    out = alice.say("confirm")
    assert "Complaint C-2026-0001 filed" in out[0].message.text
    assert "5h left" in out[0].message.text
    dm = next(o for o in out if o.address.user == "bob" and not o.address.in_reply)
    assert dm.message.title == "Complaint C-2026-0001 is yours"
    assert "Response due: Thu 26 Nov 2026, 07:00 (Europe/London)" in dm.message.body
    listing = bob("/complaint list mine")  # times in the reader's zone
    assert "C-2026-0001 · Invoice charged twice · ACME Ltd · bob · awaiting response" in listing
    assert "5h left (due Thu 26 Nov 2026, 07:00)" in listing

    clock.shift(timedelta(hours=1))
    (four,) = run_due(app)
    assert four.message.title == "⏰ Complaint C-2026-0001: 4h left to respond"
    out = bob("/complaint respond C-2026-0001 Called them; refund on its way")
    assert "First response to C-2026-0001 recorded" in out and "within the deadline" in out
    assert run_due(app) == [] and (clock.shift(timedelta(hours=4)) or run_due(app)) == []
    assert "recorded" in bob("/complaint solution C-2026-0001 Refund the second charge")
    clock.shift(timedelta(days=3))
    (nag,) = run_due(app)
    assert nag.message.title == "📞 Follow up: complaint C-2026-0001"
    assert "follow-up reminders stopped" in bob("/complaint followup C-2026-0001 Refund seen")
    assert "5/5" in bob("/complaint satisfaction C-2026-0001 5")
    assert "is resolved" in bob("/complaint resolve C-2026-0001")
    assert "is closed" in bob("/complaint close C-2026-0001 confirm")
    show = bob("/complaint show C-2026-0001")
    assert "Complaint C-2026-0001 · closed" in show
    assert "bob · first response: Called them; refund on its way" in show
    assert "bob · satisfaction 5/5" in show


def test_a_breach_escalates_to_the_owner_and_the_escalations_channel(db_url, tmp_path, clock):
    app, room = _setup(db_url, tmp_path)
    _file(Chat(app, "alice"), contact="secret@acme.test")
    esc_id = next(r for r in _reminders(app) if r.key.endswith("breach:owner")).id
    assert "升级通知,不能推迟" in Chat(app, "bob")(f"/remind snooze {esc_id} 1h")
    clock.shift(timedelta(hours=24))
    out = run_due(app)
    to_owner = [o for o in out if o.address.user == "bob" and "超过响应期限" in o.message.title]
    to_esc = [o for o in out if o.address.channel == "C-ESC"]
    assert len(to_owner) == 1 and len(to_esc) == 1
    assert "secret@acme.test" in to_owner[0].message.text
    assert "secret@acme.test" not in to_esc[0].message.text  # not the complaints channel
    assert "ACME" not in to_esc[0].message.text and "退款未到账" in to_esc[0].message.text
    assert "@bob" in to_esc[0].message.text
    assert run_due(app) == []
    assert "超时升级" in Chat(app, "bob")("/complaint show C-2026-0001")
    clock.shift(timedelta(hours=2))
    listing = room("/complaint list overdue")
    assert "C-2026-0001" in listing and "已超时 2小时" in listing
    digest = app.registry.digests
    with app.db.session() as s:
        items = [i for provider in digest for i in provider(s, datetime.now(UTC))
                 .get("complaints", [])]
    assert [i["id"] for i in items] == [REF]


def _reminders(app) -> list[Reminder]:  # noqa: ANN001
    with app.db.session() as s:
        return list(s.exec(select(Reminder).where(Reminder.record_id == REF)).all())


def test_a_complaint_filed_late_escalates_at_once(db_url, tmp_path, clock):
    app, _ = _setup(db_url, tmp_path)
    _file(Chat(app, "alice"), received="前天上午9点")
    out = run_due(app)
    assert {o.address.user or o.address.channel for o in out} == {"bob", "C-ESC"}
    assert all("超过响应期限" in o.message.title for o in out)


def test_pause_stops_the_clock_and_resume_moves_the_due_time(db_url, tmp_path, clock):
    app, room = _setup(db_url, tmp_path)
    bob = Chat(app, "bob")
    _file(Chat(app, "alice"))
    clock.shift(timedelta(hours=2))
    out = bob("/complaint pause C-2026-0001 等客户提供订单号")
    assert "已暂停计时" in out and "剩余 22小时" in out
    assert "计时暂停(剩 22小时)" in bob("/complaint list")
    clock.shift(timedelta(hours=30))
    assert run_due(app) == []  # nothing while paused, though the old due time has passed
    assert "已经暂停" in bob("/complaint pause C-2026-0001 again")
    out = bob("/complaint resume C-2026-0001")
    assert "暂停了 1天6小时" in out and "2026年11月28日 周六 16:00" in out
    clock.shift(timedelta(hours=17, minutes=59))
    assert run_due(app) == []
    clock.shift(timedelta(minutes=1))  # 4h before the moved due time
    (four,) = run_due(app)
    assert "还剩 4小时" in four.message.title
    assert "计时没有暂停" in bob("/complaint resume C-2026-0001")
    show = bob("/complaint show C-2026-0001")
    assert "暂停计时:等客户提供订单号" in show and "恢复计时(暂停 1天6小时)" in show


def test_only_the_owner_agents_and_admins_change_a_complaint(db_url, tmp_path, clock):
    app, room = _setup(db_url, tmp_path)
    carol, dave, admin = Chat(app, "carol"), Chat(app, "dave"), Chat(app, "admin")
    _file(Chat(app, "alice"), owner="@dave")  # dave is staff but owns this one
    before = _count(app, AuditEntry)
    for command in ("respond C-2026-0001 hi", "note C-2026-0001 hi", "assign C-2026-0001 me",
                    "pause C-2026-0001 wait", "close C-2026-0001 dup", "solution C-2026-0001 x"):
        out = carol(f"/complaint {command}")
        assert "只有负责人(dave)、客服专员和管理员可以修改投诉 C-2026-0001" in out, command
    assert _count(app, AuditEntry) == before and _complaint(app).status == "new"
    assert "添加备注" in dave("/complaint note C-2026-0001 客户来电催促")
    # An admin hands it to carol: pending reminders follow the new owner.
    out = admin.say("/complaint assign C-2026-0001 @carol")
    assert "现在由 @carol 负责" in out[0].message.text
    assert any(o.address.user == "carol" and "交给你的投诉" in o.message.title for o in out)
    assert {r.target_id for r in _reminders(app) if r.status == Status.PENDING
            and r.target_kind == "member"} == {"carol"}
    clock.shift(timedelta(hours=20))
    assert [o.address.user for o in run_due(app)] == ["carol"]
    assert "只有负责人" in dave("/complaint note C-2026-0001 still mine?")
    assert "已记录" in carol("/complaint respond C-2026-0001 已回电")


def test_an_unowned_complaint_asks_the_channel_to_take_it(db_url, tmp_path, clock):
    app, room = _setup(db_url, tmp_path)
    alice, bob, carol = Chat(app, "alice"), Chat(app, "bob"), Chat(app, "carol")
    alice("/complaint new")
    for answer in ("Globex", "跳过", "邮件", "发票开错", "发票抬头错误", "普通", "跳过"):
        alice(answer)
    out = alice.say("跳过")  # not an agent: no owner, the channel picks
    assert "负责人:待认领(投诉频道认领)" in out[0].message.text
    out = alice.say("确认")
    assert "还没有负责人" in out[0].message.text
    card = next(o for o in out if o.address.channel == "C-COMPLAINTS").message
    assert "还没有人负责,请认领:/complaint assign C-2026-0001 me" in card.body
    assert [(c.value, c.label) for c in card.choices] == [
        ("/complaint assign C-2026-0001 me", "我来处理")]
    clock.shift(timedelta(hours=20))
    (four,) = run_due(app)  # nobody to remind: the complaints channel hears
    assert four.address.channel == "C-COMPLAINTS" and four.message.choices
    assert "只有负责人" in carol("/complaint assign C-2026-0001 me")  # staff cannot take
    assert "现在由 @bob 负责" in bob("/complaint assign C-2026-0001 me")  # an agent can
    clock.shift(timedelta(hours=3))
    assert [o.address.user for o in run_due(app)] == ["bob"]


def test_an_agent_who_skips_the_owner_owns_it(db_url, tmp_path, clock):
    app, room = _setup(db_url, tmp_path)
    bob = Chat(app, "bob")
    bob('/complaint new customer=Initech channel=other summary=x details=y severity=low '
        'received=now')
    assert "跳过表示由你负责" in bob("跳过")  # no contact; the owner question comes next
    assert "负责人:bob" in bob("跳过")
    out = bob.say("确认")
    assert not any(o.address.user == "bob" and not o.address.in_reply for o in out)  # no DM
    assert _complaint(app).owner_id == "bob"


def test_listings_show_private_details_only_where_they_belong(db_url, tmp_path, clock):
    app, room = _setup(db_url, tmp_path)
    _file(Chat(app, "alice"), contact="13800000000")
    _file(Chat(app, "alice"), owner="@dave", customer="Globex", summary="发票错误")
    elsewhere_bob = Chat(app, "bob", channel="C-GENERAL", direct=False)
    out = elsewhere_bob("/complaint list")
    assert "C-2026-0001 · 退款未到账 · 待响应 · 剩 1天" in out
    assert "ACME" not in out and "Globex" not in out and "bob" not in out
    assert "只显示摘要" in out
    show = elsewhere_bob("/complaint show C-2026-0001")
    assert "13800000000" not in show and "登记" not in show and "只显示摘要" in show
    in_room = room("/complaint list")
    assert "ACME 公司" in in_room and "Globex" in in_room
    assert "13800000000" in room("/complaint show C-2026-0001")
    # A DM: the agent sees everything, dave (staff) only his own complaint in full.
    assert "ACME 公司" in Chat(app, "bob")("/complaint list")
    dave = Chat(app, "dave")("/complaint list")
    assert "Globex" in dave and "ACME" not in dave
    assert "13800000000" not in Chat(app, "carol")("/complaint show C-2026-0001")
    newest_first = room("/complaint list all")
    assert newest_first.index("C-2026-0002") < newest_first.index("C-2026-0001")
    mine = Chat(app, "dave")("/complaint list mine")
    assert "C-2026-0002" in mine and "C-2026-0001" not in mine


def test_transitions_out_of_order_are_refused_and_nothing_changes(db_url, tmp_path, clock):
    app, room = _setup(db_url, tmp_path)
    bob = Chat(app, "bob")
    _file(Chat(app, "alice"))
    assert "还没有首次响应" in bob("/complaint solution C-2026-0001 refund")
    assert "还没有解决方案" in bob("/complaint followup C-2026-0001 done")
    assert "满意度在回访之后记录" in bob("/complaint satisfaction C-2026-0001 5")
    assert "还不能标记为已解决" in bob("/complaint resolve C-2026-0001")
    out = bob("/complaint close C-2026-0001")
    assert "关闭时请写明原因" in out and "什么都没有改动" in out
    assert _complaint(app).status == "new"
    assert "已关闭" in bob("/complaint close C-2026-0001 客户撤回投诉 确认")
    assert "已关闭,不能再修改" in bob("/complaint note C-2026-0001 more")
    assert "请写明原因" in bob("/complaint reopen C-2026-0001")
    out = bob("/complaint reopen C-2026-0001 客户再次来电")
    assert "已重新打开,当前状态:待响应" in out and "2026年11月27日 周五 10:00" in out
    clock.shift(timedelta(hours=20))
    assert len(run_due(app)) == 1  # the restarted clock reminds again
    bob("/complaint respond C-2026-0001 ok")
    assert "已经有首次响应了" in bob("/complaint respond C-2026-0001 again")
    assert "无需暂停" in bob("/complaint pause C-2026-0001 waiting")


def test_bad_input_is_answered_politely_at_every_step(db_url, tmp_path, clock):
    app, room = _setup(db_url, tmp_path)
    alice, bob = Chat(app, "alice"), Chat(app, "bob")
    assert "请从选项中选择" in alice("/complaint new severity=extreme")
    assert "没有 “colour” 这一项" in alice("/complaint new colour=red")
    alice("/complaint new")
    assert "太长了(201 个字符),最多 200 个字符" in alice("x" * 201)
    alice("ACME")
    alice("跳过")
    assert "请从选项中选择" in alice("pigeon")
    alice("微信")  # a synonym of social media
    assert "太长了" in alice("y" * 161)
    alice("短摘要")
    alice("详情")
    assert "请从选项中选择" in alice("medium-ish")
    alice("4")  # by number: critical
    assert "还没到" in alice("明天下午3点")  # received cannot be in the future
    assert "我读不懂时间" in alice("someday")
    alice("昨天下午3点")
    assert "我还不认识 @nobody" in alice("@nobody")
    assert "请确认" in alice("我")
    assert "已取消" in alice("取消") and _count(app, Complaint) == 0

    _file(alice)
    assert "“C-1x” 不是投诉编号" in bob("/complaint show C-1x")
    assert "找不到投诉 C-2026-0099" in bob("/complaint show C-2026-0099")
    # Without the text, the response is asked for (and can be called off).
    assert "对 C-2026-0001 的首次响应是什么" in bob("/complaint respond C-2026-0001")
    assert "已取消" in bob("取消")
    assert "用法:/complaint respond" in bob("/complaint respond")
    assert "用法:/complaint satisfaction" in bob("/complaint satisfaction C-2026-0001 9")
    assert "用法:/complaint list" in bob("/complaint list someday")
    assert "用法:/complaint assign" in bob("/complaint assign C-2026-0001")
    assert "请 @ 一位成员" in bob("/complaint assign C-2026-0001 nobody")
    assert "最多 2000 个字符" in bob("/complaint note C-2026-0001 " + "z" * 2001)
    assert "可用的有:/complaint list" in bob("/complaint lsit")
    assert "/complaint respond" in bob("/complaint")  # the family's help
    assert "投诉 C-2026-0001 · 待响应" in bob("/complaint c-2026-1")
    hostile = "<!channel> {{ 7*7 }} [x](http://evil)"
    slack = Chat(app, "UAG", platform="slack", channel="D1")
    out = slack(f'/complaint new customer="{hostile}" contact=x channel=phone summary=s '
                f'details=d severity=low received=now owner=me')
    assert "&lt;!channel&gt;" in out and "<!channel>" not in out and "49" not in out
    assert "C-2026-0002" in slack("confirm")


def test_a_per_severity_response_time(db_url, tmp_path, clock):
    app, room = _setup(db_url, tmp_path, complaints={"sla_critical": timedelta(hours=4)})
    out = _file(Chat(app, "alice"), severity="critical", received="2026-11-26T10:00:00+08:00")
    assert "收到后 4小时 内" in out[0].message.text
    assert "🔴 紧急" in next(o for o in out if o.address.channel == "C-COMPLAINTS").message.body
    clock.shift(timedelta(hours=3))
    (one,) = run_due(app)  # the 4h lead is already past at filing; the 1h one comes
    assert "还剩 1小时" in one.message.title
    clock.shift(timedelta(hours=1))
    assert len(run_due(app)) == 2  # owner and escalations


def test_in_the_console_adapter_itself(db_url, tmp_path, clock):
    import io

    from bot.adapters.console import ConsoleAdapter
    from schedules.worker import Sweeper

    app, room = _setup(db_url, tmp_path)
    Chat(app, "alice")("/whoami")
    Chat(app, "admin")("/role grant @alice agent")  # an agent who skips the owner owns it
    out = io.StringIO()
    console = ConsoleAdapter(app, "alice", out=out)
    console.run(["/complaint new", "ACME", "跳过", "2", "账单重复扣款", "同一订单扣款两次",
                 "high", "跳过", "跳过", "1"])
    printed = out.getvalue()
    assert "[1] 确认  [2] 取消" in printed and "已登记投诉 C-2026-0001" in printed
    assert "── [#complaints] ──\n【新投诉 C-2026-0001】" in printed
    clock.shift(timedelta(hours=20))
    Sweeper(app, {"console": console}).sweep()
    assert "── [@alice] ──\n【⏰ 投诉 C-2026-0001 还剩 4小时 需要首次响应】" in out.getvalue()


def test_overdue_complaints_are_in_the_daily_digest(db_url, tmp_path, clock):
    from schedules.scheduler import ReminderScheduler
    from tests.support import recording_adapters

    app, room = _setup(db_url, tmp_path)
    _file(Chat(app, "alice"))
    _file(Chat(app, "alice"), summary="还在计时")
    clock.shift(timedelta(hours=23))
    _file(Chat(app, "alice"), summary="刚登记")
    clock.shift(timedelta(hours=2))
    run_due(app)  # the escalations of the first two
    Chat(app, "bob")("/complaint respond C-2026-0002 已处理")
    assert ReminderScheduler(app, recording_adapters()).plan_digest() == 1
    (digest,) = [o for o in run_due(app) if o.address.channel == "C-COMPLAINTS"]
    assert digest.message.title == "每日逾期汇总"
    assert "C-2026-0001 退款未到账 · bob · 截止 2026年11月27日 周五 10:00" in digest.message.body
    assert "C-2026-0002" not in digest.message.body and "C-2026-0003" not in digest.message.body


def test_a_reopened_complaint_needs_a_new_solution_and_follow_up(db_url, tmp_path, clock):
    app, room = _setup(db_url, tmp_path)
    bob = Chat(app, "bob")
    _file(Chat(app, "alice"))
    for command in ("respond C-2026-0001 已回电", "solution C-2026-0001 退款",
                    "followup C-2026-0001 已到账", "resolve C-2026-0001"):
        bob(f"/complaint {command}")
    assert "本来就由 @bob 负责" in bob("/complaint assign C-2026-0001 me")
    out = bob("/complaint reopen C-2026-0001 客户说只退了一半")
    assert "当前状态:已响应" in out
    assert "还没有解决方案" in bob("/complaint followup C-2026-0001 again")
    assert "已记录" in bob("/complaint solution C-2026-0001 补退另一半")
    clock.shift(timedelta(days=3))
    (nag,) = run_due(app)
    assert "补退另一半" in nag.message.body
    bob("/complaint followup C-2026-0001 全额到账")
    show = bob("/complaint show C-2026-0001")
    assert "重新打开:客户说只退了一半" in show and "回访:全额到账" in show
    assert show.count("bob · 指派") == 0  # assigning the same owner changed nothing


def test_pausing_while_waiting_for_the_follow_up_moves_its_reminder(db_url, tmp_path, clock):
    app, room = _setup(db_url, tmp_path)
    bob = Chat(app, "bob")
    _file(Chat(app, "alice"))
    bob("/complaint respond C-2026-0001 ok")
    bob("/complaint solution C-2026-0001 退款")
    clock.shift(timedelta(days=1))
    assert "已暂停计时" in bob("/complaint pause C-2026-0001 客户出差一周")
    clock.shift(timedelta(days=3))
    assert run_due(app) == []  # the follow-up would have been due; the clock is stopped
    bob("/complaint resume C-2026-0001")
    clock.shift(timedelta(days=2) - timedelta(minutes=1))
    assert run_due(app) == []
    clock.shift(timedelta(minutes=1))  # 3 days of running clock after the solution
    (nag,) = run_due(app)
    assert "请回访" in nag.message.title


def test_a_follow_up_sent_after_two_temporary_failures_is_counted_once(db_url, tmp_path, clock):
    app, room = _setup(db_url, tmp_path)
    bob = Chat(app, "bob")
    _file(Chat(app, "alice"))
    bob("/complaint respond C-2026-0001 ok")
    bob("/complaint solution C-2026-0001 退款")
    adapters = recording_adapters()
    adapters["console"].fail_with = [
        DeliveryError("timeout", temporary=True), DeliveryError("http_503", temporary=True)]
    clock.shift(timedelta(days=3))
    assert run_due(app, adapters) == []
    clock.shift(timedelta(hours=1))  # past the backoff
    assert run_due(app, adapters) == []
    assert _complaint(app).followup_nags == 0  # a failed send renders and changes nothing
    clock.shift(timedelta(hours=1))
    (nag,) = run_due(app, adapters)
    assert "请回访" in nag.message.title and nag.address.user == "bob"
    assert _complaint(app).followup_nags == 1
    followups = [r for r in _reminders(app)
                 if r.kind == "complaint.followup" and r.status == Status.PENDING]
    assert [r.key for r in followups] == ["complaint:C-2026-0001:followup:1"]
    sent_at = datetime.now(UTC)
    assert followups[0].due_at.astimezone(UTC) == sent_at + timedelta(days=3)
    clock.shift(timedelta(days=3))
    (again,) = run_due(app, adapters)  # and the next one comes an interval after the send
    assert "请回访" in again.message.title
    assert _complaint(app).followup_nags == 2


def test_rendering_a_due_reminder_changes_nothing_and_a_breach_is_recorded_once(
        db_url, tmp_path, clock):
    app, room = _setup(db_url, tmp_path)
    _file(Chat(app, "alice"))
    clock.shift(timedelta(hours=24))
    now = datetime.now(UTC)
    with app.db.session() as s:  # what a retried send does: render again
        due = [r for r in s.exec(select(Reminder).where(Reminder.status == Status.PENDING))
               if r.due_at <= now]
        said = [app.registry.reminder_kinds[r.kind].render(s, r, now) for r in due * 2]
        assert not (s.new or s.dirty or s.deleted)
    # The leads came too late to be worth saying; the two escalations stand.
    assert sorted(r.kind for r, reply in zip(due * 2, said, strict=True) if reply) == [
        "complaint.breach"] * 4
    assert _complaint(app).breached_at is None
    assert len(run_due(app)) == 2  # the owner and the escalations channel
    assert _complaint(app).breached_at is not None
    with app.db.session() as s:  # two breach reminders sent, one escalation in the timeline
        actions = s.exec(select(AuditEntry.action).where(AuditEntry.record_id == REF)).all()
    assert actions.count("breach") == 1


def test_a_follow_up_missed_in_downtime_is_summarised_and_the_nagging_goes_on(
        db_url, tmp_path, clock):
    app, room = _setup(db_url, tmp_path)
    bob = Chat(app, "bob")
    _file(Chat(app, "alice"))
    bob("/complaint respond C-2026-0001 ok")
    bob("/complaint solution C-2026-0001 退款")
    clock.shift(timedelta(days=5))  # the bot was down when the follow-up fell due
    (summary,) = run_due(app)
    assert summary.address.user == "bob" and "离线期间错过的提醒" in summary.message.text
    assert _complaint(app).followup_nags == 1  # summarised counts as sent
    clock.shift(timedelta(days=3))
    (nag,) = run_due(app)
    assert "请回访" in nag.message.title
    assert _complaint(app).followup_nags == 2


def test_a_complaint_response_gets_principle_hints_and_is_still_saved_in_chinese(
        db_url, tmp_path, clock):
    app, _ = _setup(db_url, tmp_path)
    alice, bob = Chat(app, "alice"), Chat(app, "bob")
    _file(alice)
    Chat(app, "admin")("/role grant @bob pr")
    bob("/glossary add 退款 无理由退款 avoid: 包退")
    # Asked for in the conversation: the hints are on the summary, before it is saved.
    bob("/complaint respond C-2026-0001")
    summary = bob("我们的处理是业内最佳的,相关部门会包退。")
    assert "沟通原则提示(仅供参考,不影响保存)" in summary
    assert "• 透明性原则:绝对化或最高级用语:最佳" in summary
    assert "• 透明性原则:掩盖事实的模糊说法:相关部门" in summary
    assert "术语表建议用“无理由退款”,而不是“包退”" in summary
    saved = bob("确认")
    assert "已记录 C-2026-0001 的首次响应" in saved and "最佳" in saved
    assert _complaint(app).response == "我们的处理是业内最佳的,相关部门会包退。"
    # A plain response has no hints.
    assert "沟通原则提示" not in bob("/complaint solution C-2026-0001 今天退回第二笔扣款")


def test_a_complaint_response_gets_principle_hints_in_english(db_url, tmp_path, clock):
    app, _ = _setup(db_url, tmp_path)
    alice, bob = Chat(app, "alice"), Chat(app, "bob")
    _file(alice)
    bob("/lang en")
    out = bob("/complaint respond C-2026-0001 We guarantee this will never happen again.")
    assert "First response to C-2026-0001 recorded" in out
    assert "Principle hints (advice only; nothing is blocked)" in out
    assert "• Transparency: absolute or superlative claims: guarantee, never" in out
    assert _complaint(app).status == "responded"
