"""Press releases as people meet them in chat: drafted one question at a time, checked
against the handbook's principles, reviewed by PR and legal (never by their author),
re-reviewed after a change, published into a /comm record, reminded, and exported."""

from __future__ import annotations

import io
from datetime import timedelta

from docx import Document
from sqlmodel import select

from bot.adapters.console import ConsoleAdapter
from handlers.comm.models import CommRecord
from handlers.press.models import PressRelease
from schedules.models import Reminder, Status
from tests.support import Chat, build_app, run_due

REF = "P-2026-0001"
LOGO = "https://example.com/logo.png"


def _team(db_url, tmp_path, **kw):  # noqa: ANN001, ANN202
    app, _ = build_app(db_url, tmp_path, **kw)
    admin = Chat(app, "admin")
    alice, pat, lee = Chat(app, "alice"), Chat(app, "pat"), Chat(app, "lee")
    for chat in (alice, pat, lee):
        chat("/whoami")
    admin("/role grant @pat pr")
    admin("/role grant @lee legal")
    admin("/role grant @alice pr")  # an author who is also PR still may not approve her own
    Chat(app, "admin", channel="C-PR", direct=False)("/route pr here")
    Chat(app, "admin", channel="C-LEGAL", direct=False)("/route legal here")
    return app, alice, pat, lee


def _draft_zh(chat: Chat) -> str:
    chat("/press new")
    chat("新品 X1 今日发布,售价 1999 元")
    chat("公司三年研发的新一代产品。")
    chat("X1 续航 20 小时\n与某某科技合作开发")
    chat("完成")
    chat("王敏 press@example.com")
    chat(LOGO)
    chat("https://example.com/x1-hd.jpg")
    chat("完成")
    chat("跳过")  # planned time
    chat("跳过")  # legal: suggested yes (figures, a partner)
    return chat("确认")


def _release(app, ref: str = REF) -> PressRelease:  # noqa: ANN001
    with app.db.session() as s:
        return s.exec(select(PressRelease).where(PressRelease.ref == ref)).one()


def _channel(out, channel: str) -> list[str]:  # noqa: ANN001
    return [o.message.text for o in out if o.address.channel == channel]


def test_release_from_draft_to_publish_with_pr_and_legal_in_chinese(db_url, tmp_path, clock):
    app, alice, pat, lee = _team(db_url, tmp_path)
    assert "标题" in alice("新闻稿 新建")
    created = _draft_zh(alice)
    assert f"已保存新闻稿 {REF}(草稿,第 1 版)" in created
    assert "需要法务审核" in created
    out = alice.say(f"/press submit {REF}")
    assert "已提交公关和法务审核" in out[0].message.text
    pr_card = [o for o in out if o.address.channel == "C-PR"]
    assert "待公关审核:新闻稿 P-2026-0001 第 1 版" in pr_card[0].message.text
    assert [c.value for c in pr_card[0].message.choices] == [
        f"/press approve {REF}", f"/press changes {REF}"]
    assert _channel(out, "C-LEGAL")

    assert "不能由你自己审核" in alice(f"/press approve {REF}")
    assert "还在等法务审核" in pat(f"/press approve {REF}")
    assert _release(app).state == "review"
    out = lee.say(f"/press approve {REF}")
    assert "所有审核已通过" in out[0].message.text
    notice = [o for o in out if o.address.user == "alice" and not o.address.in_reply]
    assert "已全部审核通过" in notice[0].message.text
    assert _release(app).state == "approved"

    assert "权限" in lee(f"/press publish {REF} 新华社")
    out = pat(f"/press publish {REF} 新华社、财新")
    assert f"{REF} 已发布" in out and "K-2026-0001" in out
    release = _release(app)
    assert release.state == "published" and release.comm_ref == "K-2026-0001"
    with app.db.session() as s:
        comm = s.exec(select(CommRecord)).one()
        assert (comm.audience, comm.channel, comm.state) == ("media", "press_release",
                                                             "executing")
        assert REF in comm.materials
        kinds = {r.kind for r in s.exec(select(Reminder).where(
            Reminder.record_id == "K-2026-0001", Reminder.status == Status.PENDING))}
        assert kinds == {"comm.followup"}
    assert "不能再修改" in alice(f"/press edit {REF} headline 新标题")


def _draft_en(chat: Chat, headline: str = "Liaison X1 goes on sale today",
              logo: str = LOGO) -> str:
    chat("/lang en")
    chat("/press new")
    chat(headline)
    chat("Three years of work went into it.")
    chat("Battery lasts all day")
    chat("done")
    assert "name with a phone number or an email" in chat("Wang Min")  # asked again
    chat("Wang Min +86 138 0013 8000")
    chat(logo) if logo else chat("skip")
    chat("skip")  # images
    chat("next monday 10am")
    assert "skipping means no" in chat.seen[-1].message.text
    chat("skip")  # legal: not suggested, no figures
    return chat("confirm")


def test_an_edit_after_approval_asks_again_in_english(db_url, tmp_path, clock):
    app, alice, pat, lee = _team(db_url, tmp_path)
    created = _draft_en(alice)
    assert f"Saved press release {REF} (draft, version 1)" in created
    assert "not needed" in created
    out = alice.say(f"/press submit {REF}")
    assert "has gone to PR for review" in out[0].message.text
    assert not _channel(out, "C-LEGAL")  # no legal review was asked for
    pat("/lang en")
    assert "Every review has passed" in pat(f"/press approve {REF}")
    assert _release(app).state == "approved"

    out = alice.say(f"/press edit {REF} headline Liaison X1 is on sale")
    mine = out[0].message.text
    assert f"{REF} is now version 2" in mine
    assert "Liaison X1 goes on sale today → Liaison X1 is on sale" in mine
    assert "gone to review again" in mine
    assert "第 2 版" in _channel(out, "C-PR")[0]  # the channel reads the default locale
    assert _release(app).state == "review"
    assert "Every review has passed: P-2026-0001 is approved" in pat(f"/press approve {REF}")

    assert "version 1" in alice(f"/press show {REF} 1")
    assert "goes on sale today" in alice(f"/press show {REF} 1")
    assert "no such version" in alice(f"/press show {REF} 3")


def test_nobody_approves_their_own_draft_and_changes_go_back_to_the_author(
        db_url, tmp_path, clock):
    app, alice, pat, lee = _team(db_url, tmp_path)
    _draft_zh(pat)  # pat, PR, drafts it himself
    pat(f"/press submit {REF}")
    assert "不能由你自己审核" in pat(f"/press approve {REF}")
    assert "不能由你自己审核" in pat(f"/press changes {REF}")
    assert _release(app).state == "review"
    out = lee.say(f"/press changes {REF} 合作方名称需要对方书面同意")
    assert "已退回" in out[0].message.text
    notice = [o.message.text for o in out if o.address.user == "pat" and not o.address.in_reply]
    assert "合作方名称需要对方书面同意" in notice[0]
    assert _release(app).state == "draft"
    assert "不在审核中" in alice(f"/press approve {REF}")
    assert "没有权限" in Chat(app, "bob")(f"/press approve {REF}")


def test_a_release_without_a_logo_cannot_be_submitted(db_url, tmp_path, clock):
    app, alice, pat, lee = _team(db_url, tmp_path)
    created = _draft_en(alice, logo="")
    assert "The company logo is still missing" in created
    assert "has no company logo yet" in alice(f"/press submit {REF}")
    assert _release(app).state == "draft"
    assert "is not a link" in alice(f"/press edit {REF} logo my-logo.png")
    assert "is now version 2" in alice(f"/press edit {REF} logo {LOGO}")
    assert "has gone to PR" in alice(f"/press submit {REF}")


def test_a_draft_with_banned_and_vague_words_gets_two_hints_and_still_saves(
        db_url, tmp_path, clock):
    app, alice, pat, lee = _team(db_url, tmp_path)
    alice("/press new")
    alice("行业最佳的新品 X1 今日发布")
    alice("经相关部门批准,X1 正式上市。")
    alice("X1 已通过检测")
    alice("完成")
    alice("王敏 13800138000")
    alice("跳过")
    alice("跳过")
    alice("跳过")
    summary = alice("跳过")
    assert "沟通原则提示" in summary
    assert "透明性原则:绝对化或最高级用语:最佳" in summary
    assert "透明性原则:掩盖事实的模糊说法:相关部门" in summary
    created = alice("确认")
    assert f"已保存新闻稿 {REF}" in created and "最佳" in created
    assert _release(app).state == "draft"
    long = alice(f"/press edit {REF} headline {'很长的标题' * 7}")
    assert "标题超过 30 个汉字" in long


def test_reviewers_are_reminded_then_each_working_morning_and_the_author_before_release(
        db_url, tmp_path, clock):
    app, alice, pat, lee = _team(db_url, tmp_path)
    _draft_en(alice)  # planned: next monday 10am (Shanghai), 2026-11-30 02:00 UTC
    alice(f"/press submit {REF}")
    clock.shift(timedelta(hours=4))
    sent = run_due(app)
    assert [o.address.channel for o in sent] == ["C-PR"]
    assert "等待公关审核" in sent[0].message.text  # a channel reads the default locale
    clock.shift(timedelta(hours=19))  # Friday 09:00 Shanghai, the next working morning
    sent = run_due(app)
    assert [o.address.channel for o in sent] == ["C-PR"]
    with app.db.session() as s:
        due = s.exec(select(Reminder).where(Reminder.kind == "press.review",
                                            Reminder.status == Status.PENDING)).one().due_at
    assert due.isoformat().startswith("2026-11-30T01:00")  # Monday 09:00: no weekend nags
    clock.shift(timedelta(days=2, hours=1))  # Sunday 10:00 Shanghai: 24h before the release
    sent = run_due(app)
    assert [o.address.user for o in sent] == ["alice"]
    assert "is not approved yet" in sent[0].message.text
    pat(f"/press approve {REF}")
    with app.db.session() as s:
        assert not s.exec(select(Reminder).where(Reminder.record_id == REF,
                                                 Reminder.status == Status.PENDING)).all()


def _console_export(app, ref: str = REF) -> str:  # noqa: ANN001
    """`/press export` typed in the console, which writes the files into ./exports."""
    out = io.StringIO()
    ConsoleAdapter(app, "alice", out=out).say(f"/press export {ref}")
    return out.getvalue()


def test_export_writes_a_word_document_and_markdown(db_url, tmp_path, clock):
    app, alice, pat, lee = _team(db_url, tmp_path)
    _draft_zh(alice)
    answer = _console_export(app)
    assert "Word 文档和 Markdown" in answer and "文件随本消息发送" in answer
    assert f"📎 exports/{REF}-v1.docx" in answer and f"📎 exports/{REF}-v1.md" in answer
    path = tmp_path / "exports" / f"{REF}-v1.docx"
    doc = Document(str(path))
    texts = [p.text for p in doc.paragraphs]
    assert texts[0] == f"企业 logo: {LOGO}"
    assert "新品 X1 今日发布,售价 1999 元" in texts
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert headings[:3] == ["背景", "事实", "联系方式"]
    assert "王敏 press@example.com" in texts
    assert "与某某科技合作开发" in texts
    markdown = (tmp_path / "exports" / f"{REF}-v1.md").read_text(encoding="utf-8")
    assert "# 新品 X1 今日发布,售价 1999 元" in markdown
    assert "## 联系方式\n\n王敏 press@example\\.com" in markdown


def test_a_draft_using_an_avoided_glossary_form_gets_the_preferred_term(db_url, tmp_path, clock):
    app, alice, pat, lee = _team(db_url, tmp_path)
    assert "没有权限" in Chat(app, "bob")("/glossary add 退款 无理由退款 avoid: 无条件退款")
    added = pat("/glossary add 退款 无理由退款 avoid: 无条件退款, 包退")
    assert "已添加术语“退款”:标准写法“无理由退款”,避免:无条件退款、包退" in added
    assert "标准写法:无理由退款" in alice("/glossary 包退")
    assert "术语表里没有“换货”" in alice("/glossary 换货")
    _draft_zh(alice)
    edited = alice(f"/press edit {REF} facts 七天无条件退款;X1 续航 20 小时")
    assert "专业性原则:术语表建议用“无理由退款”,而不是“无条件退款”" in edited
    assert "is now version 2" not in edited and "已更新为第 2 版" in edited
    pat("/lang en")
    assert "the glossary prefers “无理由退款” to “无条件退款”" in pat(f"/press show {REF}")


def test_what_people_type_stays_text_in_cards_lists_and_the_markdown(db_url, tmp_path, clock):
    app, alice, pat, lee = _team(db_url, tmp_path)
    alice("/press new")
    alice("{{ 7*7 }} <!channel> **粗体** [链接](https://x.y)")
    for line in ("背景", "事实", "完成", "王敏 13800138000", LOGO, "完成", "跳过", "否"):
        alice(line)
    created = alice("确认")
    assert "{{ 7*7 }} <!channel> **粗体** [链接](https://x.y)" in created
    assert "{{ 7*7 }}" in alice("/press list 草稿")
    assert "不是新闻稿的状态" in alice("/press list 全部")
    _console_export(app)
    markdown = (tmp_path / "exports" / f"{REF}-v1.md").read_text(encoding="utf-8")
    assert "# \\{\\{ 7\\*7 \\}\\} \\<\\!channel\\> \\*\\*粗体\\*\\* \\[链接\\]\\(https://x\\.y\\)" \
        in markdown


def test_the_next_working_morning_is_this_one_while_it_is_ahead():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from handlers.press.commands import working_morning

    zone = ZoneInfo("Asia/Shanghai")

    def at(day: int, hour: int) -> datetime:
        return datetime(2026, 11, day, hour, tzinfo=zone)

    assert working_morning(at(27, 2)) == at(27, 9)  # Friday before nine: this morning
    assert working_morning(at(26, 14)) == at(27, 9)  # Thursday afternoon: Friday
    assert working_morning(at(28, 2)) == at(30, 9)  # Saturday: Monday
    assert working_morning(at(30, 9)) == datetime(2026, 12, 1, 9, tzinfo=zone)  # at nine: next
