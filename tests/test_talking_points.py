"""Talking points in chat: looking them up, proposing, approving (and who may), versions,
rejection, retirement, and re-verification when the verification lapses."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from schedules.models import Reminder, Status
from tests.support import Chat, build_app, run_due

PROPOSAL = ["/tp propose", "退款政策", "产品有质量问题可以退款吗?",
            "收到商品7天内可无理由退款,质量问题15天内包退换。", "退款, 投诉", "中文", "确认"]


def _team(db_url, tmp_path, **kw):  # noqa: ANN001, ANN202
    app, _ = build_app(db_url, tmp_path, **kw)
    admin = Chat(app, "admin")
    bob, carol, alice = Chat(app, "bob"), Chat(app, "carol"), Chat(app, "alice")
    for chat in (bob, carol, alice):
        chat("/whoami")
    admin("/role grant @bob approver")
    admin("/role grant @carol approver")
    Chat(app, "admin", channel="C-TP", direct=False)("/route tp here")
    return app, admin, alice, bob, carol


def _propose(chat, lines=PROPOSAL):  # noqa: ANN001, ANN202
    out = []
    for line in lines:
        out = chat.say(line)
    return out


def test_a_proposal_reaches_the_approvers_with_buttons(db_url, tmp_path, clock):
    app, admin, alice, bob, carol = _team(db_url, tmp_path)
    out = _propose(alice)
    mine = [o for o in out if o.address.in_reply]
    assert "口径提议 #1 已交审批人" in mine[0].message.text
    channel = [o for o in out if o.address.purpose == "talking_points"]
    dms = sorted(o.address.user for o in out if not o.address.in_reply and not o.address.channel)
    assert [o.address.channel for o in channel] == ["C-TP"]
    assert dms == ["bob", "carol"]
    for o in channel + [o for o in out if o.address.user in ("bob", "carol")]:
        assert "收到商品7天内可无理由退款" in o.message.text
        assert [c.value for c in o.message.choices] == ["/tp approve 1", "/tp reject 1"]
    # Not served before approval.
    assert "没有找到与“退款”相符的已批准口径" in alice("/tp 退款")


def test_only_approvers_approve_and_never_their_own_proposal(db_url, tmp_path, clock):
    app, admin, alice, bob, carol = _team(db_url, tmp_path)
    _propose(bob)
    assert "你没有权限" in alice("/tp approve 1")
    assert "是你本人提议的,须由其他审批人批准" in bob("/tp approve 1")
    assert "没有找到" in alice("/tp 退款")
    out = carol.say("/tp approve 1")
    assert "已批准 #1 第 1 版“退款政策”" in out[0].message.text
    notice = [o for o in out if o.address.user == "bob" and not o.address.in_reply]
    assert "已由 carol 批准" in notice[0].message.text
    found = alice("/tp 退款")
    assert "收到商品7天内可无理由退款" in found and "审批人:carol" in found
    assert "2027年2月24日" in found  # verified for 90 days
    assert "没有编号为 #2 的口径" in carol("/tp approve 2")


def test_an_admin_may_approve(db_url, tmp_path, clock):
    app, admin, alice, bob, carol = _team(db_url, tmp_path)
    _propose(alice)
    assert "已批准 #1" in admin("/tp approve 1")


def test_results_are_private_unless_shared(db_url, tmp_path, clock):
    app, admin, alice, bob, carol = _team(db_url, tmp_path)
    _propose(alice)
    bob("/tp approve 1")
    dave = Chat(app, "dave", channel="C-GENERAL", direct=False)
    private = dave.say("/tp 退款")
    assert private[0].address.ephemeral_to == "dave"
    shared = dave.say("/tp 退款 share")
    assert shared[0].address.ephemeral_to is None and shared[0].address.channel == "C-GENERAL"
    assert "已分享到本频道" in shared[0].message.text


def test_nothing_found_says_so_and_offers_to_propose(db_url, tmp_path, clock):
    app, admin, alice, bob, carol = _team(db_url, tmp_path)
    alice("/lang en")
    out = alice.say("/tp layoffs")
    assert "No approved talking point matches “layoffs”" in out[0].message.text
    assert [c.value for c in out[0].message.choices] == ["/tp propose"]
    assert "Usage: /tp <words>" in alice("/tp")


def test_an_edit_waits_while_the_approved_version_keeps_serving(db_url, tmp_path, clock):
    app, admin, alice, bob, carol = _team(db_url, tmp_path)
    _propose(alice)
    bob("/tp approve 1")
    alice("/tp edit 1")
    for answer in ("跳过", "跳过", "收到商品30天内可无理由退款。", "跳过", "跳过"):
        alice(answer)
    out = alice.say("确认")
    assert "#1 的第 2 版已交审批人。新版本批准前,原批准版本继续有效" in out[0].message.text
    review = [o for o in out if o.address.user == "bob"][0].message.text
    assert "收到商品30天内" in review and "现行回答:收到商品7天内" in review
    assert "7天内可无理由退款" in alice("/tp 退款")
    assert "30天内" not in alice("/tp 退款")
    carol("/tp approve 1")
    assert "30天内" in alice("/tp 退款") and "7天内可无理由" not in alice("/tp 退款")
    history = alice("/tp show 1")
    assert "第 1 版 已被取代 · alice 提议" in history and "bob 批准" in history
    assert "第 2 版 现行版本 · alice 提议" in history and "carol 批准" in history


def test_a_rejection_needs_a_reason_and_is_never_served(db_url, tmp_path, clock):
    app, admin, alice, bob, carol = _team(db_url, tmp_path)
    _propose(alice)
    assert "请写明驳回理由" in bob("/tp reject 1")
    out = bob.say("/tp reject 1 15天的说法与现行政策不符")
    assert "已驳回 #1“退款政策”的第 1 版" in out[0].message.text
    told = [o for o in out if o.address.user == "alice" and not o.address.in_reply]
    assert "理由:15天的说法与现行政策不符" in told[0].message.text
    assert "没有找到" in alice("/tp 退款")
    assert "没有等待审批的版本" in bob("/tp approve 1")
    assert "已驳回" in alice("/tp show 1")


def test_retired_points_are_not_served_and_their_reminders_stop(db_url, tmp_path, clock):
    app, admin, alice, bob, carol = _team(db_url, tmp_path)
    _propose(alice)
    bob("/tp approve 1")
    assert "你没有权限" in alice("/tp retire 1")
    assert "已停用 #1“退款政策”" in bob("/tp retire 1 确认")
    assert "没有找到" in alice("/tp 退款")
    assert "已停用,未作任何更改" in alice("/tp edit 1")
    with app.db.session() as s:
        statuses = s.exec(select(Reminder.status).where(
            Reminder.record_type == "talking_point")).all()
    assert statuses and set(statuses) == {Status.CANCELLED}


def test_verification_lapses_reminds_the_approver_and_can_be_renewed(db_url, tmp_path, clock):
    month = {"review": timedelta(days=30)}
    app, admin, alice, bob, carol = _team(db_url, tmp_path, talking_points=month)
    _propose(alice)
    bob("/tp approve 1")
    clock.shift(timedelta(days=22, hours=23))
    assert run_due(app) == []
    clock.shift(timedelta(hours=1))  # 7 days before the end
    sent = run_due(app)
    assert [o.address.user for o in sent] == ["bob"]
    assert "#1“退款政策”的核实将于" in sent[0].message.text
    assert [c.value for c in sent[0].message.choices][:-5] == ["/tp approve 1"]
    assert "7天内可无理由退款" in alice("/tp 退款")

    clock.shift(timedelta(days=7))  # lapsed
    sent = run_due(app)
    assert [o.address.user for o in sent] == ["bob"] and "已停止对外提供" in sent[0].message.text
    found = alice("/tp 退款")
    assert "没有已批准且在有效期内的口径" in found
    assert "需要重新核实" in found and "7天内可无理由退款" in found
    alice("/lang en")
    assert "Needs re-verification" in alice("/tp 退款")
    assert "Approved by" not in alice("/tp 退款")

    assert "已重新核实 #1“退款政策”,恢复对外提供" in bob("/tp approve 1")
    assert "Approved by bob" in alice("/tp 退款")
    clock.shift(timedelta(days=23))
    assert [o.address.user for o in run_due(app)] == ["bob"]  # planned afresh


def test_re_verifying_early_moves_the_reminders(db_url, tmp_path, clock):
    month = {"review": timedelta(days=30)}
    app, admin, alice, bob, carol = _team(db_url, tmp_path, talking_points=month)
    _propose(alice)
    bob("/tp approve 1")
    clock.shift(timedelta(days=20))
    carol("/tp approve 1")  # re-verified by carol: she owns the next reminder
    clock.shift(timedelta(days=4))
    assert run_due(app) == []  # bob's old reminder is cancelled
    clock.shift(timedelta(days=19))
    assert [o.address.user for o in run_due(app)] == ["carol"]


def test_a_point_id_must_be_given_and_exist(db_url, tmp_path, clock):
    app, admin, alice, bob, carol = _team(db_url, tmp_path)
    assert "请给出编号:/tp show 编号" in alice("/tp show")
    assert "没有编号为 #42 的口径" in alice("/tp show 42")
    assert "没有编号为 #42 的口径" in bob("/tp approve #42")


def test_a_hostile_answer_stays_text_in_slack(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    Chat(app, "admin")("/whoami")
    slack = Chat(app, "U1", platform="slack", channel="D1")
    approver = Chat(app, "U2", platform="slack", channel="D2")
    approver("/whoami")
    Chat(app, "UADMIN", platform="slack", channel="D3")("/role grant <@U2> approver")
    _propose(slack, ["/tp propose", "Hostile", "<!channel>?", "{{ 7*7 }} <!channel>", "skip",
                     "en", "yes"])
    approver("/tp approve 1 confirm")  # "{{ 7*7 }}" reads as a placeholder: asked first
    text = slack("/tp hostile")
    assert "&lt;!channel&gt;" in text and "<!channel>" not in text and "{{ 7*7 }}" in text


def test_the_same_question_twice_is_refused_and_nothing_saved(db_url, tmp_path, clock):
    app, admin, alice, bob, carol = _team(db_url, tmp_path)
    _propose(alice)
    out = _propose(carol, [*PROPOSAL[:2], "产品有质量问题可以退款吗?", *PROPOSAL[3:]])
    assert "口径 #1 已用同一语言回答了这个问题,本次未保存" in out[0].message.text
    assert "取消" in carol("取消")
    assert "#2" not in bob("/tp pending") and "#1 第 1 版 退款政策" in bob("/tp pending")
