"""Interviews as people meet them in chat: recorded, prepared with the approved talking points
that match, signed off by PR (and legal), reminded, and debriefed into new proposals."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from handlers.comm.models import CommRecord
from handlers.interviews.models import Interview
from tests.support import Chat, build_app, run_due

REF = "I-2026-0001"
PROPOSAL = ["/tp propose", "退款政策", "产品有质量问题可以退款吗?",
            "收到商品7天内可无理由退款,质量问题15天内包退换。", "退款, 投诉", "中文", "确认"]


def _team(db_url, tmp_path):  # noqa: ANN001, ANN202
    app, _ = build_app(db_url, tmp_path)
    admin = Chat(app, "admin")
    people = {n: Chat(app, n) for n in ("alice", "bob", "carol", "pat", "lee")}
    for chat in people.values():
        chat("/whoami")
    admin("/role grant @bob approver")
    admin("/role grant @pat pr")
    admin("/role grant @lee legal")
    Chat(app, "admin", channel="C-PR", direct=False)("/route pr here")
    Chat(app, "admin", channel="C-LEGAL", direct=False)("/route legal here")
    for line in PROPOSAL:
        people["alice"](line)
    people["bob"]("/tp approve 1")
    return app, people


def _comm(app) -> CommRecord:  # noqa: ANN001
    with app.db.session() as s:
        return s.exec(select(CommRecord)).one()


def _interview(app) -> Interview:  # noqa: ANN001
    with app.db.session() as s:
        return s.exec(select(Interview)).one()


def test_an_interview_from_new_through_signoff_reminders_and_debrief(db_url, tmp_path, clock):
    app, p = _team(db_url, tmp_path)
    alice, carol, pat, lee = p["alice"], p["carol"], p["pat"], p["lee"]
    assert "哪家媒体" in alice("采访 新建")
    alice("新华社")
    alice("李记者")
    alice("退款")
    alice("后天下午3点")  # Saturday 15:00 Shanghai
    alice("电话")
    alice("@carol")
    alice("质量问题 退款\n新品什么时候上市?")
    alice("完成")
    assert "请确认采访信息" in alice("是")  # legal signs off too
    out = alice.say("确认")
    created = out[0].message.text
    assert f"已登记采访 {REF}" in created
    assert "#1 第 1 版 退款政策:产品有质量问题可以退款吗?" in created
    assert "1. 新品什么时候上市?" in created
    assert "保持冷静,避免情绪化表达" in created
    pr_card = [o for o in out if o.address.channel == "C-PR"][0]
    assert [c.value for c in pr_card.message.choices] == [
        f"/interview signoff {REF}", '/tp propose topic="退款" question="新品什么时候上市?"']
    assert [o for o in out if o.address.channel == "C-LEGAL"]
    assert [o for o in out if o.address.user == "carol"]

    clock.shift(timedelta(hours=5))  # 48 hours before
    sent = run_due(app)
    assert sorted(o.address.channel for o in sent) == ["C-LEGAL", "C-PR"]
    assert "等待公关确认" in [o for o in sent if o.address.channel == "C-PR"][0].message.text

    assert "没有权限" in alice(f"/interview signoff {REF}")
    assert "还在等法务" in pat(f"/interview signoff {REF}")
    out = lee.say(f"/interview signoff {REF}")
    assert "采访已确认" in out[0].message.text
    told = [o.message.text for o in out if o.address.user == "carol"]
    assert "内容已全部确认" in told[0]
    assert _interview(app).state == "confirmed"

    clock.shift(timedelta(hours=24))  # 24 hours before: signed, so no one is nagged
    assert run_due(app) == []
    clock.shift(timedelta(hours=23))  # an hour before
    sent = run_due(app)
    assert [o.address.user for o in sent] == ["carol"]
    assert "一小时后采访" in sent[0].message.text
    clock.shift(timedelta(hours=2))  # an hour after
    sent = run_due(app)
    assert [o.address.user for o in sent] == ["carol"]
    assert f"/interview debrief {REF}" in [c.value for c in sent[0].message.choices]

    assert "没准备到的问题" in carol(f"/interview debrief {REF}")
    carol("竞品 价格 怎么看")
    carol("完成")
    summary = carol("我说对方的报道很荒谬,应改为:我们尊重报道,会补充数据。")
    assert "需要更正的说法:我说对方的报道很荒谬" in summary
    assert "专业性原则:情绪化表达:荒谬" in summary  # a hint; it is still saved
    out = carol.say("确认")
    assert f"采访 {REF} 已复盘" in out[0].message.text
    assert [c.value for c in out[0].message.choices] == [
        '/tp propose topic="退款" question="竞品 价格 怎么看"']
    # The debrief opens the interview's /comm record; a correction is a follow-up still owed.
    assert "已记入对媒体的沟通记录 K-2026-0001" in out[0].message.text
    assert "勾选跟进确认" in out[0].message.text
    told = [o for o in out if o.address.user == "alice" and not o.address.in_reply]
    assert "采访 I-2026-0001 已由 carol 复盘" in told[0].message.text
    assert [c.value for c in told[0].message.choices] == ["/comm show K-2026-0001"]
    comm = _comm(app)
    assert (comm.owner_id, comm.audience, comm.audience_name, comm.state) == (
        "alice", "media", "新华社", "executing")
    assert [f["text"] for f in comm.feedback] == [
        "竞品 价格 怎么看", "我说对方的报道很荒谬,应改为:我们尊重报道,会补充数据。"]
    assert "效果评估" not in alice("/comm review K-2026-0001")  # the follow-up is still open
    alice("/comm check K-2026-0001 followup call")
    assert "复盘 K-2026-0001 · 新华社 · 退款" in alice("/comm review K-2026-0001")
    assert _interview(app).state == "debriefed"
    assert "已经复盘过了" in carol(f"/interview debrief {REF}")
    # The button proposes a talking point with the topic and question already filled in.
    assert "回答" in carol('/tp propose topic="退款" question="竞品 价格 怎么看"')


def test_an_interview_in_english_signed_off_by_pr_alone(db_url, tmp_path, clock):
    app, p = _team(db_url, tmp_path)
    alice, pat = p["alice"], p["pat"]
    alice("/lang en")
    alice("/interview new")
    for answer in ("Reuters", "Jane Doe", "refunds", "tomorrow 3pm", "video", "me", "skip"):
        alice(answer)
    assert "Sign-off: PR alone" in alice("skip")
    created = alice("confirm")
    assert f"Interview {REF} recorded" in created
    # 29 hours ahead: the 48-hour reminder would be in the past, so it is not promised.
    assert ("they are reminded 24 hours before until they sign off, and the spokesperson gets "
            "the card again an hour before.") in created
    assert "48" not in created
    assert "stay calm and avoid emotional wording" in created
    assert "No approved talking point matches" in created  # 退款 is not 'refunds'
    pat("/lang en")
    assert "The interview is confirmed" in pat(f"/interview signoff {REF}")
    assert "nothing left to sign off" in pat(f"/interview signoff {REF}")
    assert "只有 I-2026-0001 的发言人" in p["bob"](f"/interview debrief {REF}")  # bob reads zh


def test_a_debrief_with_nothing_to_correct_opens_the_comm_review_in_english(db_url, tmp_path,
                                                                            clock):
    app, p = _team(db_url, tmp_path)
    alice, pat = p["alice"], p["pat"]
    alice("/lang en")
    alice("/interview new")
    for answer in ("Reuters", "Jane Doe", "refunds", "tomorrow 3pm", "video", "me", "skip",
                   "skip", "confirm"):
        alice(answer)
    pat(f"/interview signoff {REF}")
    clock.shift(timedelta(days=2))
    alice(f"/interview debrief {REF}")
    alice("When does X1 ship?")
    alice("done")
    alice("skip")  # nothing to correct
    out = alice.say("confirm")
    debriefed = out[0].message.text
    assert f"Interview {REF} debriefed" in debriefed
    assert "Recorded as the communication with the media K-2026-0001" in debriefed
    assert "You can review it now: /comm review K-2026-0001 (you are reminded in 7d)" in debriefed
    assert [c.value for c in out[0].message.choices] == [
        '/tp propose topic="refunds" question="When does X1 ship?"', "/comm review K-2026-0001"]
    assert len(out) == 1  # the organiser debriefed: nobody else to tell
    comm = _comm(app)
    assert (comm.state, comm.channel, comm.contact_how) == ("executed", "video", "video")
    assert comm.materials == [REF]
    assert "Reviewing K-2026-0001 · Reuters · refunds" in alice("/comm review K-2026-0001")
    alice("cancel")
    clock.shift(timedelta(days=7, minutes=1))
    sent = run_due(app)
    assert any("K-2026-0001" in o.message.text for o in sent if o.address.user == "alice")
