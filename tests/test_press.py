"""Press releases as people meet them in chat: drafted one question at a time, checked
against the handbook's principles, reviewed by PR and legal (never by their author),
re-reviewed after a change, published into a /comm record, reminded, and exported."""

from __future__ import annotations

from datetime import timedelta

from docx import Document
from sqlmodel import select

from handlers.comm.models import CommRecord
from handlers.press.models import PressRelease, PressVersion
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
