"""Partner disputes (纠纷) as a person meets them in chat: the written file with two points and
both sides' positions, entries that are superseded but never changed, a mediator with the
reminders around the agreed date, the partner's other records linked, the file exported as
Word and Markdown, and closing it read-only. The clock starts on Thursday 26 November 2026,
10:00 in Shanghai."""

from __future__ import annotations

import io
from datetime import timedelta

import docx
from sqlmodel import select

from handlers.disputes.models import Dispute, DisputeEntry
from schedules.models import Reminder, Status
from tests.support import Chat, build_app, run_due

REF = "D-2026-0001"


def _entries(app) -> list[DisputeEntry]:  # noqa: ANN001
    with app.db.session() as s:
        return list(s.exec(select(DisputeEntry).order_by(DisputeEntry.n)).all())


def _mine(sent):  # noqa: ANN001, ANN202
    """What the dispute's reminders sent (the meeting's own reminders are not this test's)."""
    return [o for o in sent if "D-2026-0001" in o.message.title]


def _files(out):  # noqa: ANN001, ANN202
    return {f.filename: f for o in out for f in o.message.files}


def _open_zh(alice: Chat) -> str:
    assert "纠纷是关于什么" in alice("/dispute new ACME 科技")
    assert "争议点有哪些" in alice("三季度交付延迟的赔偿")
    alice("延迟责任归属\n赔偿金额")
    ours = alice("完成")
    assert "我方在每个争议点上的立场" in ours and "P2 赔偿金额" in ours
    assert "需要 2 行" in alice("只写了一行")  # one line per point, or asked again
    assert "对方在每个争议点上的立场" in alice("延迟因对方需求变更\n最多承担合同额 2%")
    assert "金额或利益" in alice("延迟因我方排期\n要求合同额 10%")
    alice("合同款 120 万元")
    alice("跳过")  # owner: me
    alice("发送书面回复")
    summary = alice("下周一上午10点")
    assert "P1 延迟责任归属\n  我方:延迟因对方需求变更\n  对方:延迟因我方排期" in summary
    return alice("确认")


def test_a_dispute_with_two_points_a_mediator_and_an_agreed_outcome(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    alice = Chat(app, "alice")
    # The partner's earlier records, found by its name.
    alice('/meeting new partner="ACME 科技" title="交付复盘" start="今天下午3点"')
    for answer in ("跳过", "@alice", "复盘", "完成", "跳过", "跳过", "确认"):
        alice(answer)

    created = _open_zh(alice)
    assert "已建立纠纷档案 D-2026-0001" in created
    assert "下一步:发送书面回复(2026年11月30日 周一 10:00" in created
    assert "P1 延迟责任归属 · 未解决" in created
    assert "  我方:延迟因对方需求变更  #2" in created
    assert "会议 M-2026-0001 交付复盘" in created  # linked by the partner's name
    with app.db.session() as s:
        d = s.exec(select(Dispute)).one()
        assert (d.partner, d.stake, d.owner_id, d.entries) == ("ACME 科技", "合同款 120 万元",
                                                               "alice", 7)

    # A new position supersedes the old one; both stay in the file.
    out = alice(f"/dispute point {REF} 对方 P2 可接受合同额 6%")
    assert "#8" in out and "(取代 #6)" in out and "记录不会被修改" in out
    card = alice(f"/dispute show {REF}")
    assert "  对方:要求合同额 10%  #6" in card and "(已被 #8 取代)" in card
    assert "  对方:可接受合同额 6%  #8" in card
    out = alice(f'/dispute point {REF} add 违约金条款解释 我方="按合同 5.2 条" 对方="按补充协议"'
                )
    assert "争议点 P3:违约金条款解释" in out and "立场 P3(对方):按补充协议" in out
    alice(f"/dispute log {REF} 电话沟通:对方同意先不发律师函")
    alice(f"/dispute attach {REF} https://files.example.com/acme/letter.pdf 我方书面回复")
    assert "没有争议点 “P9”" in alice(f"/dispute point {REF} agree P9 x")
    assert "用法" in alice(f"/dispute point {REF} dance")

    # Mediation: the mediator, the date both sides agreed, a reminder a day before, the
    # outcome question after.
    out = alice(f"/dispute mediator {REF} 王律师 上海商事调解中心 13800000000 "
                '日期="12月3日上午10点"')
    assert "王律师 · 上海商事调解中心 · 13800000000" in out
    assert "王律师" in alice(f"/dispute show {REF}")

    # Someone else may read but not write.
    bob = Chat(app, "bob")
    assert "ACME 科技" in bob(f"/dispute {REF}")
    assert "只有负责人" in bob(f"/dispute log {REF} 我也来写一笔")

    # Monday 10:00: the next step is due.
    clock.shift(timedelta(days=4))
    sent = _mine(run_due(app))
    assert [o.message.title for o in sent] == [f"纠纷下一步到期:{REF}"]
    assert sent[0].address.user == "alice" and "发送书面回复" in sent[0].message.body
    # Wednesday 2 Dec 10:00: a day before the mediation.
    clock.shift(timedelta(days=2))
    sent = _mine(run_due(app))
    assert [o.message.title for o in sent] == [f"明天调解:{REF}"]
    assert "王律师(上海商事调解中心)" in sent[0].message.body
    # Thursday 13:00: what came of it?
    clock.shift(timedelta(days=1, hours=3))
    titles = sorted(o.message.title for o in _mine(run_due(app)))
    # …and a week without a new entry has gone by too.
    assert titles == [f"纠纷已 7天3小时 没有新记录:{REF}", f"调解结果如何:{REF}"]

    alice(f"/dispute point {REF} agree P1 双方各承担一半责任")
    alice(f"/dispute point {REF} agree P2 按合同额 5% 赔偿")
    alice(f"/dispute point {REF} escalate P3 提交管理层")
    card = alice(f"/dispute show {REF}")
    assert "P1 延迟责任归属 · 已达成一致" in card and "✓ 一致意见:双方各承担一半责任" in card
    assert "P3 违约金条款解释 · 已升级" in card

    out = alice.say(f"/dispute export {REF}")
    files = _files(out)
    assert set(files) == {f"{REF}.docx", f"{REF}.md"}
    document = docx.Document(io.BytesIO(files[f"{REF}.docx"].data))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "纠纷档案 D-2026-0001" in text
    assert "P1 延迟责任归属 (已达成一致)" in text
    assert "要求合同额 10%" in text and "已被取代: #8" in text  # the superseded one, marked
    assert "王律师 · 上海商事调解中心 · 13800000000 · 调解时间 2026-12-03 10:00" in text
    assert "电话沟通:对方同意先不发律师函" in text
    assert "M-2026-0001 交付复盘" in text
    cells = [c.text for row in document.tables[0].rows for c in row.cells]
    assert cells[:4] == ["合作伙伴", "ACME 科技", "争议内容", "三季度交付延迟的赔偿"]
    md = files[f"{REF}.md"].data.decode("utf-8")
    assert md.startswith("# 纠纷档案 D\\-2026\\-0001")
    assert "https://files\\.example\\.com" in md

    out = alice(f"/dispute close {REF} 调解达成:按合同额 5% 赔偿,责任各半")
    assert f"{REF} 已结案" in out
    assert "只读" in alice(f"/dispute log {REF} 再补一句")
    assert "只读" in alice(f"/dispute point {REF} agree P3 x")
    assert "结果:调解达成" in alice(f"/dispute show {REF}")
    count = len(_entries(app))
    with app.db.session() as s:
        pending = s.exec(select(Reminder).where(Reminder.record_id == REF,
                                                Reminder.status == Status.PENDING)).all()
        assert pending == []
    clock.shift(timedelta(days=30))
    assert _mine(run_due(app)) == []
    assert len(_entries(app)) == count


def test_in_english_with_a_hand_link_and_the_weekly_staleness_reminder(db_url, tmp_path,
                                                                       clock):
    app, _ = build_app(db_url, tmp_path, disputes={"stale": timedelta(days=3)})
    dana = Chat(app, "dana")
    dana("/lang en")
    # A complaint from "globex  " and a communication with "GLOBEX": the same partner, folded.
    dana('/complaint new customer="globex " contact=x@globex.com channel=email summary="Late" '
         'details="Invoice dispute" severity=low received=now owner=me')
    dana("confirm")
    dana('/comm new audience=partner audience_name="GLOBEX" topic="Payment terms" goal=solve '
         'goal_text="agree terms" channel=email')
    dana("skip")
    dana("skip")
    dana("yes")
    dana("/dispute new")
    assert "What is the dispute about" in dana("Globex")
    dana("Unpaid invoices for October")
    dana("Invoice 1042 amount\nLate fee")
    dana("done")
    dana("USD 20,000 is owed\nThe late fee is in the contract")
    dana("USD 15,000 was agreed by mail\nNo late fee was agreed")
    dana("USD 20,000")
    dana("me")
    dana("Send the signed order")
    summary = dana("next friday 5pm")
    assert "P2 Late fee\n  Ours: The late fee is in the contract\n  Theirs: No late fee" in summary
    created = dana("confirm")
    assert "Dispute file D-2026-0001 opened" in created
    assert "• complaint C-2026-0001 Late" in created
    assert "• communication K-2026-0001 Payment terms" in created
    assert "whenever nothing is added for 3d" in created

    assert "There is no “M-2026-0042”" in dana(f"/dispute link {REF} M-2026-0042")
    dana('/comm new audience=partner audience_name="Other Co" topic="Invoices" goal=solve '
         'goal_text="get paid" channel=email')
    dana("skip")
    dana("skip")
    dana("yes")
    out = dana(f"/dispute link {REF} K-2026-0002")
    assert "linked record: K-2026-0002" in out
    card = dana(f"/dispute show {REF}")
    assert "communication K-2026-0002 Invoices" in card and "(by hand)" in card
    assert "Other Co" not in card
    assert "already linked" in dana(f"/dispute link {REF} K-2026-0002")
    out = dana(f'/dispute point {REF} propose P1 ours "Split the difference: USD 17,500"')
    assert "proposal P1 (ours): Split the difference: USD 17,500" in out

    # Three quiet days: the owner hears, then weekly while nothing is added.
    clock.shift(timedelta(days=3))
    sent = _mine(run_due(app))
    assert [o.message.title for o in sent] == [f"Nothing added to {REF} for 3d"]
    clock.shift(timedelta(days=7))
    titles = [o.message.title for o in _mine(run_due(app))]
    assert f"Nothing added to {REF} for 10d" in titles  # weekly after the first
    dana(f"/dispute log {REF} Sent the signed order by mail")
    clock.shift(timedelta(days=2))
    assert [o.message.title for o in _mine(run_due(app))] == []
    # The entry restarted the count: three days after it, not a week after the last notice.
    clock.shift(timedelta(days=1))
    assert [o.message.title for o in _mine(run_due(app))] == [f"Nothing added to {REF} for 3d"]

    out = dana.say(f"/dispute export {REF}")
    files = _files(out)
    document = docx.Document(io.BytesIO(files[f"{REF}.docx"].data))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "Dispute file D-2026-0001" in text
    assert "Our position" in text and "Their position" in text
    assert "USD 15,000 was agreed by mail" in text
    assert "Split the difference: USD 17,500" in text
    assert "K-2026-0002 Invoices" in text and "C-2026-0001 Late" in text
    assert "Closed" not in text
    assert "read-only from now on" in dana(f"/dispute close {REF} Paid USD 17,500")
    assert "read-only" in dana(f"/dispute next {REF} call them at=tomorrow")


def test_bad_input_gets_a_polite_answer(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    alice = Chat(app, "alice")
    assert "找不到纠纷档案" in alice("/dispute show D-2026-0099")
    assert "用法" in alice("/dispute show")
    assert "用法" in alice("/dispute list dance")
    assert "没有纠纷" in alice("/dispute list")
