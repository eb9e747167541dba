"""Satisfaction surveys (满意度调查) as the team and the customers meet them: a questionnaire
from the complaint follow-up template, invitations e-mailed in the background over a real
SMTP server on 127.0.0.1 (tests/fakes/smtp.py) and the inviter told in chat how it went, the
customers answering on the bot's own page in headless
Chromium, a link that works once and expires, the page's polite errors in the customer's
language, the SMS text for the team's SMS tool, the results with the scores recorded in chat,
a low score becoming the complaint owner's action item, and a closed complaint offering its
customer the survey."""

from __future__ import annotations

import csv
import io
import re
import smtplib
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import select

from bot import mail
from bot.errors import DeliveryError
from bot.messages import Upload
from bot.web.app import create_app
from bot.web.server import WebServer
from handlers.meetings.models import ActionItem
from handlers.surveys import mailer, store
from handlers.surveys.mailer import LEASE, MailSender
from handlers.surveys.models import SurveyInvitation, SurveyResponse
from schedules.api import OUTBOUND
from schedules.models import Reminder
from schedules.scheduler import ReminderScheduler
from tests import seed
from tests.fakes.smtp import SmtpServer
from tests.support import Chat, RecordingAdapter, build_app, recording_adapters, run_due
from tests.test_dashboard_browser import browser, chromium, playwright  # noqa: F401 (fixtures)

LINK = re.compile(r"https?://127\.0\.0\.1(?::\d+)?/s/[A-Za-z0-9_-]{40,}")
SENDER = "Liaison Survey <survey@example.com>"
LINK_SECRET = "test-secret-" + "x" * 20


@pytest.fixture(autouse=True)
def _numbered_from_one() -> None:
    seed.reset()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer(user="survey@example.com", password="s3cret") as server:
        yield server


def _app(db_url: str, tmp_path: Path, smtp: SmtpServer | None = None, **overrides):  # noqa: ANN003, ANN202
    surveys = ({"smtp_url": smtp.url, "smtp_from": SENDER, "smtp_ca_file": smtp.ca_file,
                "link_secret": LINK_SECRET} if smtp else {})
    app, _ = build_app(db_url, tmp_path, public_url="http://127.0.0.1", surveys=surveys,
                       admins="console:alice", **overrides)
    return app


def _complaint(app, *, contact: str = "", owner: str = "bob", status: str = "resolved",  # noqa: ANN001, ANN202
               customer: str = "ACME Ltd", satisfaction: int | None = None):
    with app.db.session() as s:
        row = seed.complaint(s, datetime.now(UTC) - timedelta(days=3), customer=customer,
                             contact=contact, owner_platform="console", owner_id=owner,
                             owner_name=owner, satisfaction=satisfaction)
        row.status = status
        s.add(row)
        s.flush()
        return row.ref


def _responses(app) -> list[SurveyResponse]:  # noqa: ANN001
    with app.db.session() as s:
        return list(s.exec(select(SurveyResponse)).all())


def _english(chat: Chat) -> Chat:
    chat("/lang en")
    return chat


def _links(texts: list[str]) -> list[str]:
    return [LINK.search(t).group(0) for t in texts]


def _mail_out(app, adapters: dict[str, RecordingAdapter] | None = None) -> str:  # noqa: ANN001
    """What the background does, run here at the (fake) current time: the mail sender's run,
    then the chat outbox; returns what the chat said (the inviter's report)."""
    MailSender(app).run()
    return "\n".join(o.message.text for o in run_due(app, adapters))


# -- the whole way, in a browser -------------------------------------------------------------


@pytest.fixture
def site(sqlite_url: str, tmp_path: Path, smtp: SmtpServer) -> Iterator:
    app = _app(sqlite_url, tmp_path, smtp)
    server = WebServer(app, host="127.0.0.1", port=0).start()
    app.settings.public_url = f"http://127.0.0.1:{server.port}"
    yield app
    server.stop()
    app.db.dispose()


def test_a_complaint_survey_mailed_to_three_and_answered_on_the_page(
        chromium: Browser, site, smtp: SmtpServer, tmp_path: Path) -> None:  # noqa: ANN001, F811
    app = site
    alice = Chat(app, "alice")
    low = _complaint(app, contact="张伟 13800000000 zhang@example.com")  # owner bob
    beta = _complaint(app, customer="Beta 公司")

    summary = alice("/survey new complaint")
    assert "请确认调查" in summary and "投诉处理满意度回访" in summary
    # The 1–5 scale is shown once, by the question's type, not again in its text.
    assert "1. 您对我们处理这次投诉的整体满意度如何?(评分 1–5)\n" in summary
    assert "满意)" not in summary and summary.count("1–5") == 1
    assert "已解决 / 部分解决 / 未解决" in summary
    assert "已建立调查 S-2026-0001" in alice("确认")
    assert "4/5" in Chat(app, "bob")(f"/complaint satisfaction {beta} 4")  # a score in chat

    out = alice(f"/survey invite S-2026-0001\n张伟, zhang@example.com, zh, {low}\n"
                "Anna Lee, anna@example.com, en\n王芳, wang@example.com")
    assert "3 份邀请" in out and "3 份邀请正在发送,发送结果稍后告诉您" in out
    assert smtp.messages == []  # nothing goes out inside the command
    report = _mail_out(app)
    assert "S-2026-0001:共 3 封邀请邮件,已发出 3 封" in report
    assert "- 张伟 (zhang@example.com)" in report and "- Anna Lee (anna@example.com)" in report
    assert "未发送" not in report
    assert len(smtp.messages) == 3
    by_to = {m.recipients[0]: m for m in smtp.messages}
    zhang, anna = by_to["zhang@example.com"], by_to["anna@example.com"]
    assert zhang.subject == "投诉处理满意度回访" and "张伟,您好" in zhang.body
    assert f"感谢您在我们处理投诉({low})期间的耐心" in zhang.body
    assert anna.subject == "Complaint follow-up" and "Dear Anna Lee," in anna.body
    assert zhang.message["From"] == SENDER and zhang.sender == "survey@example.com"
    zhang_link, anna_link, wang_link = _links([zhang.body, anna.body,
                                               by_to["wang@example.com"].body])
    assert len({zhang_link, anna_link, wang_link}) == 3
    with app.db.session() as s:  # only the token's hash is kept
        assert all(zhang_link.rsplit("/", 1)[1] not in (i.token_hash)
                   for i in s.exec(select(SurveyInvitation)).all())

    context = browser(chromium)
    page = context.new_page()
    page.goto(zhang_link)
    assert page.locator("#survey-title").inner_text() == "投诉处理满意度回访"
    assert page.locator("#q1 legend").inner_text() == "1. 您对我们处理这次投诉的整体满意度如何? *"
    assert page.content().count("5 = 非常满意") == 1 and "很不满意" not in page.content()
    assert page.evaluate("document.scripts.length") == 0
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    # Nothing chosen: polite errors in Chinese, the comment typed is kept.
    page.fill("textarea[name=q3]", "<b>@channel</b> 客服态度一般")
    page.click("#submit")
    assert "请选择 1 到 5 分" not in page.content()
    assert page.locator("#q1-error").inner_text() == "请回答这道题。"
    assert page.locator("#q2-error").inner_text() == "请回答这道题。"
    assert page.locator("textarea[name=q3]").input_value() == "<b>@channel</b> 客服态度一般"
    assert _responses(app) == []
    page.check("#q1 input[value='2']")
    page.check("#q2 input[value='1']")
    page.click("#submit")
    assert page.locator("#done").inner_text() == "谢谢您!"

    other = context.new_page()
    other.goto(anna_link)
    assert other.locator("#survey-title").inner_text() == "Complaint follow-up"
    other.check("#q1 input[value='5']")
    other.check("#q2 input[value='0']")
    other.click("#submit")
    assert other.locator("#done").inner_text() == "Thank you!"

    # The same link again: refused, politely, and nothing is written.
    response = page.goto(zhang_link)
    assert response.status == 410
    assert page.locator("#gone").inner_text() == "此问卷已提交过"
    assert len(_responses(app)) == 2
    context.close()

    results = alice("/survey results S-2026-0001")
    assert "回复率:送达 3 人,2 人作答(67%)。共邀请 3 人;邮件送达 3 封,失败 0 封。" in results
    assert ("平均 3.67 分,共 3 个评分,其中 1 个是在聊天中用 /complaint satisfaction 记录的"
            in results)
    assert "1 分:0 · 2 分:1 · 3 分:0 · 4 分:1 · 5 分:1" in results
    assert "已解决:1" in results and "部分解决:1" in results and "未解决:0" in results
    assert "“<b>@channel</b> 客服态度一般”" in results  # as typed, never a mention
    # The low score is bob's action item, once.
    with app.db.session() as s:
        items = s.exec(select(ActionItem)).all()
    assert [(i.owner_id, i.origin, i.origin_ref) for i in items] == [
        ("bob", "survey", "S-2026-0001")]
    assert low in items[0].what and "2/5" in items[0].what
    assert f"低分已转为行动项跟进:{items[0].ref}" in results
    with app.db.session() as s:  # and bob was told, in a DM owed by the same transaction
        (told,) = [r for r in s.exec(select(Reminder).where(Reminder.kind == OUTBOUND)).all()
                   if r.target_id == "bob"]
    assert told.payload["message"]["title"] == f"{low} 的满意度评分偏低"
    assert f"{items[0].ref}" in Chat(app, "bob")("/action list")
    assert len(_responses(app)) == 2 and "送达 3 人,2 人作答" in alice(
        "/survey results S-2026-0001")


# -- the page without a browser ------------------------------------------------------------


def _invite_by_hand(app, lines: str, chat: Chat | None = None) -> tuple[str, list[str]]:  # noqa: ANN001
    """A survey from the complaint template, invited with e-mail not set up: the links are
    in the answer, for sending by hand."""
    alice = chat or _english(Chat(app, "alice"))
    alice("/survey new complaint")
    alice("confirm")
    out = alice(f"/survey invite S-2026-0001\n{lines}")
    return out, LINK.findall(out)


def test_an_expired_link_is_refused_and_nothing_is_written(db_url, tmp_path, clock):  # noqa: ANN001
    app = _app(db_url, tmp_path)
    alice = Chat(app, "alice", name="Alice")
    alice("/lang en")
    out, (link,) = _invite_by_hand(app, "Anna Lee, anna@example.com, en", alice)
    assert "E-mail is not set up (LIAISON_SMTP_URL), so nothing was e-mailed" in out
    assert "expires Sat 26 Dec 2026" in out  # LIAISON_SURVEY_TTL, 30 days by default
    client = create_app(app).test_client()
    path = link.split("127.0.0.1", 1)[1]
    assert client.get(path).status_code == 200
    clock.shift(timedelta(days=30, minutes=1))
    page = client.get(path)
    assert page.status_code == 410 and "This survey link has expired" in page.text
    answered = client.post(path, data={"q1": "5", "q2": "0"})
    assert answered.status_code == 410 and "This survey link has expired" in answered.text
    assert _responses(app) == []
    unknown = client.get("/s/" + "x" * 43)
    assert unknown.status_code == 404 and "找不到此问卷" in unknown.text  # the default language


def test_the_page_validates_like_the_chat_in_english(db_url, tmp_path, clock):  # noqa: ANN001
    app = _app(db_url, tmp_path)
    _, (link,) = _invite_by_hand(app, "Anna Lee, anna@example.com, en")
    client = create_app(app).test_client()
    path = link.split("127.0.0.1", 1)[1]
    shown = client.get(path).text  # the scale once: the hint under the question
    assert shown.count("5 = very satisfied") == 1
    assert "How satisfied are you with how we handled your complaint? <span" in shown
    page = client.post(path, data={"q1": "7", "q2": "9", "q3": "<script>x</script>" * 200})
    assert page.status_code == 422
    assert "Please choose a score from 1 to 5." in page.text
    assert "Please choose one of the options." in page.text
    assert "Please shorten this to 2000 characters (it has 3600)." in page.text
    assert "<script>x</script>" not in page.text and "&lt;script&gt;x&lt;/script&gt;" in page.text
    assert 'name="viewport"' in page.text and "http" not in page.text.split("<body>")[0].replace(
        "http-equiv", "")  # no outside assets
    assert _responses(app) == []
    assert 'maxlength="2000"' in page.text
    # Typed text is kept as the chat keeps it: NFC, no control or bidi-override characters.
    done = client.post(path, data={"q1": "4", "q2": "2",
                                   "q3": "Fine\x00 cafe\u0301\u202e\r\nthanks\x1b[31m"})
    assert done.status_code == 200 and "Thank you!" in done.text
    assert [r.answers for r in _responses(app)] == [
        {"q1": 4, "q2": 2, "q3": "Fine caf\u00e9\nthanks[31m"}]
    # E-mail not set up: the link went by hand, and the results say so, with no mail figures.
    results = _english(Chat(app, "alice"))("/survey results S-2026-0001")
    assert ("Response rate: links handed to 1 person (no e-mail set up), 1 answered (100%)."
            in results)
    assert "e-mails delivered" not in results and "Invited" not in results
    zh = Chat(app, "alice")
    zh("/lang zh")
    results = zh("/survey results S-2026-0001")
    assert "回复率:链接已交给 1 人(未配置邮件),1 人作答(100%)。" in results
    assert "邮件送达" not in results and "送达 1 人" not in results


def test_two_submissions_at_once_write_one_response(db_url, tmp_path, clock):  # noqa: ANN001
    app = _app(db_url, tmp_path)
    _, (link,) = _invite_by_hand(app, "Anna Lee, anna@example.com, en")
    token = link.rsplit("/", 1)[1]
    now = datetime.now(UTC)
    # Both requests found the link open...
    with app.db.session() as s:
        first, second = store.find_link(s, token, now), store.find_link(s, token, now)
    assert first is not None and first.state == second.state == "open"
    # ...the other one's answers were stored first: this one's are not.
    with app.db.session() as s:
        assert store.submit(app, s, second, {"q1": 5, "q2": 0}, now) is not None
    with app.db.session() as s:
        assert store.submit(app, s, first, {"q1": 1, "q2": 2}, now) is None
        s.rollback()
    assert [r.answers for r in _responses(app)] == [{"q1": 5, "q2": 0}]


def test_results_show_the_latest_comments_and_attach_every_answer(db_url, tmp_path, clock):  # noqa: ANN001
    app = _app(db_url, tmp_path)
    _, links = _invite_by_hand(app, "\n".join(f"P{n}, p{n}@example.com, en" for n in range(12)))
    client = create_app(app).test_client()
    for n, link in enumerate(links):
        clock.shift(timedelta(minutes=1))
        assert client.post(link.split("127.0.0.1", 1)[1], data={
            "q1": "4", "q2": "1", "q3": f"=comment {n}"}).status_code == 200
    out = Chat(app, "alice").say("/survey results S-2026-0001")
    text = "\n".join(o.message.text for o in out)
    assert "“=comment 11”" in text and "“=comment 2”" in text and "“=comment 1”" not in text
    assert "…and 2 more (every answer is in the attached CSV file)" in text
    (sheet,) = [f for o in out for f in o.message.files]
    assert sheet.filename == "S-2026-0001-answers.csv"
    rows = list(csv.reader(io.StringIO(sheet.data.decode("utf-8-sig"))))
    assert rows[0][0] == "Submitted" and len(rows) == 13
    assert rows[1][1:] == ["4", "Partly", "'=comment 0"]  # a formula stays text


def test_a_comment_is_never_a_mention_on_slack_or_dingtalk(db_url, tmp_path, clock):  # noqa: ANN001
    app, _ = build_app(db_url, tmp_path, public_url="http://127.0.0.1",
                       admins="console:alice,slack:U1,dingtalk:d1")
    _, (link,) = _invite_by_hand(app, "Anna Lee, anna@example.com, en")
    hostile = "<!channel> <@U999> @所有人 @all [x](http://evil)"
    assert create_app(app).test_client().post(link.split("127.0.0.1", 1)[1], data={
        "q1": "4", "q2": "1", "q3": hostile}).status_code == 200
    (slack,) = Chat(app, "U1", platform="slack", channel="D1").say(
        "/survey results S-2026-0001")
    assert "<!channel>" not in slack.message.text and "&lt;!channel&gt;" in slack.message.text
    assert "<@U999>" not in slack.message.text
    (ding,) = Chat(app, "d1", platform="dingtalk", channel="cid1").say(
        "/survey results S-2026-0001")
    assert "@所有人" not in ding.message.text and "@\u200d所有人" in ding.message.text
    assert "@all" not in ding.message.text and "[x](http://evil)" not in ding.message.text


def test_two_posts_at_once_from_two_threads_store_one_answer(db_url, tmp_path, clock):  # noqa: ANN001
    # The same link submitted twice at once (a double click, two tabs), on both databases.
    app = _app(db_url, tmp_path)
    _, (link,) = _invite_by_hand(app, "Anna Lee, anna@example.com, en")
    web = create_app(app)
    path = link.split("127.0.0.1", 1)[1]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def post(score: str) -> None:
        client = web.test_client()
        barrier.wait()
        statuses.append(client.post(path, data={"q1": score, "q2": "0"}).status_code)

    threads = [threading.Thread(target=post, args=(s,)) for s in ("5", "1")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(statuses) == [200, 410]
    assert len(_responses(app)) == 1


def test_a_low_score_on_a_complaint_with_no_owner_goes_to_the_surveys_owner(  # noqa: ANN001
        db_url, tmp_path, clock):
    app = _app(db_url, tmp_path)
    ref = _complaint(app, owner="")
    _, (link,) = _invite_by_hand(app, f"Mr Li, li@example.com, en, {ref}")
    assert create_app(app).test_client().post(link.split("127.0.0.1", 1)[1], data={
        "q1": "1", "q2": "2"}).status_code == 200
    with app.db.session() as s:
        items = s.exec(select(ActionItem)).all()
        told = [r for r in s.exec(select(Reminder).where(Reminder.kind == OUTBOUND)).all()
                if r.target_id == "alice"]
    assert [(i.owner_id, i.origin_ref) for i in items] == [("alice", "S-2026-0001")]
    (note,) = told
    assert (f"{ref} has no owner, so this comes to you as the survey's owner"
            in str(note.payload["message"]))


def test_a_failure_while_storing_answers_asks_politely_to_try_again(  # noqa: ANN001
        db_url, tmp_path, clock, monkeypatch):
    from bot.errors import StorageError

    app = _app(db_url, tmp_path)
    ref = _complaint(app)
    _, (link,) = _invite_by_hand(app, f"Mr Li, li@example.com, en, {ref}")
    client = create_app(app).test_client()
    path = link.split("127.0.0.1", 1)[1]

    def broken(*args: object, **kw: object) -> str:
        raise RuntimeError("the action items are away")

    monkeypatch.setattr(store, "_follow_up", broken)  # the low score's follow-up fails
    page = client.post(path, data={"q1": "1", "q2": "2", "q3": "Too slow & rude"})
    assert page.status_code == 503
    assert "your answers could not be saved just now" in page.text
    assert "Too slow &amp; rude</textarea>" in page.text and _responses(app) == []
    monkeypatch.undo()
    assert client.post(path, data={"q1": "1", "q2": "2"}).status_code == 200
    assert len(_responses(app)) == 1

    def away(*args: object, **kw: object) -> None:
        raise StorageError("could not connect", unavailable=True, wrote=False)

    monkeypatch.setattr(store, "find_link", away)
    page = client.get(path)
    assert page.status_code == 503 and "请稍后再试" in page.text  # the default language


# -- invitations in chat --------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_sms_recipients_get_the_text_to_send_not_an_sms(db_url, tmp_path, clock):  # noqa: ANN001
    app = _app(db_url, tmp_path)
    alice = Chat(app, "alice")
    summary = alice("/survey new partner")
    assert "1. 您对双方合作的整体满意度如何?(评分 1–5)\n" in summary
    assert "(1–5)" not in summary
    alice("confirm")
    out = alice.say("/survey invite S-2026-0001\nLi Lei, +86 138-0013-8000, en\n"
                    "王芳, 13900000000")
    text = "\n".join(o.message.text for o in out)
    assert "短信:Liaison 本身不发送短信" in text
    assert re.search(r"Li Lei \+8613800138000:Li Lei, please tell us how we did \(Partner "
                     r"satisfaction survey, 4 questions\): http://127\.0\.0\.1/s/\S+ \(for you "
                     r"only, valid until", text)
    assert "王芳 13900000000:王芳,请评价我们的服务(合作伙伴满意度调查,共 4 题):http" in text
    (sheet,) = [f for o in out for f in o.message.files]
    assert sheet.filename == "S-2026-0001-sms.csv"
    rows = list(csv.reader(io.StringIO(sheet.data.decode("utf-8-sig"))))
    assert rows[0] == ["name", "mobile", "language", "text"]
    # The number as the SMS tool reads it (validated, so never a formula): no apostrophe.
    assert rows[1][:3] == ["Li Lei", "+8613800138000", "en"]
    assert rows[2][:3] == ["王芳", "13900000000", "zh"]
    assert LINK.search(rows[1][3])


@pytest.mark.sqlite_only
def test_recipients_from_a_csv_file_and_what_is_refused(db_url, tmp_path, clock, smtp):  # noqa: ANN001
    app = _app(db_url, tmp_path, smtp)
    alice = _english(Chat(app, "alice", name="Alice"))
    alice("/survey new complaint")
    alice("confirm")
    bad = alice("/survey invite S-2026-0001\nZhang Wei, zhang@example\nAnna, anna@example.com")
    assert "Line 1: “zhang@example” is not an e-mail address" in bad and "Nobody was invited" in bad
    assert alice("/survey invite S-2026-0001\nAnna, anna@example.com\nAnn, ANNA@example.com"
                 ).startswith("Line 2: anna@example.com is listed twice")
    assert alice("/survey invite S-2026-0001\nLi, li@example.com, de") == (
        "Line 1: “de” is not a page language (zh or en). Nobody was invited.")
    assert Chat(app, "alice")("/lang zh") and Chat(app, "alice")(
        "/survey invite S-2026-0001\nAnna, anna@example.com, en\nLi li@example.com fr") == (
        "第 2 行:“fr”不是页面语言(zh 或 en)。没有邀请任何人。")
    alice("/lang en")
    sheet = ("姓名,邮箱,手机,语言\nZhang Wei,zhang@example.com,,zh\n"
             "No One,nobody@refused.example,,en\n")
    out = alice("/survey invite S-2026-0001", files=(Upload(
        "list.csv", "text/csv", data=("\ufeff" + sheet).encode("utf-8")),))
    assert "2 invitations are being e-mailed; I will tell you how it went" in out
    assert "- Zhang Wei (zhang@example.com)" in out
    report = _mail_out(app)
    assert "S-2026-0001: 1 of 2 invitation e-mails sent" in report
    assert ("- No One (nobody@refused.example): the mail server says this mailbox does not "
            "exist (550 5.1.1 No such mailbox here)") in report
    assert [m.recipients for m in smtp.messages] == [["zhang@example.com"]]
    # The response rate counts those reached: the failed e-mail is not one.
    assert ("Response rate: 0 of 1 reached answered (0%). Invited 2; e-mails delivered 1, "
            "failed 1.") in alice("/survey results S-2026-0001")
    assert "not a CSV file" in alice("/survey invite S-2026-0001", files=(Upload(
        "list.xlsx", data=b"PK"),))
    # A CSV row is read by its header: what is in the e-mail column must be an e-mail.
    def sent(data: bytes) -> str:
        return alice("/survey invite S-2026-0001", files=(Upload("l.csv", "text/csv",
                                                                 data=data),))
    assert sent(b"name,email\nZhao,zhao@example.com\nBad,bad\n").startswith(
        "l.csv, line 3: “bad” is not an e-mail address. Each recipient needs")
    assert sent(b"name,email,mobile,lang\nZhao,,12345,\n").startswith(
        "l.csv, line 2: “12345” is not a mobile number.")
    assert sent(b"name,email,lang\nZhao,zhao@example.com,fr\n") == (
        "l.csv, line 2: “fr” is not a page language (zh or en). Nobody was invited.")
    assert sent(b"foo,bar\n1,2\n").startswith(
        "l.csv: no name/email/mobile/lang columns found in its first row")
    assert sent(b"email;name\nx@example.com;X\n").startswith(
        "l.csv: no name/email/mobile/lang columns found")
    assert sent(b"") == "l.csv: the file is empty; there is nobody in it to invite. " \
        "Nobody was invited."
    assert sent(b"name,email\n\n").startswith("l.csv: the file is empty")
    # Chinese Excel's default "CSV" is GBK: read as GB18030, not refused.
    gbk = "姓名,邮箱\n孙七,sun@example.com\n".encode("gbk")
    assert "- 孙七 (sun@example.com)" in alice("/survey invite S-2026-0001", files=(Upload(
        "名单.csv", "text/csv", data=gbk),))
    assert ("junk.csv is neither UTF-8 nor GB18030 (GBK) text; save it as “CSV UTF-8” and "
            "send it again. Nobody was invited.") == alice("/survey invite S-2026-0001", files=(
                Upload("junk.csv", "text/csv", data=b"name,email\n\xff\xfe\x80,a@b.example\n"),))
    with app.db.session() as s:
        assert len(s.exec(select(SurveyInvitation)).all()) == 3


@pytest.mark.sqlite_only
def test_a_wrong_smtp_password_is_reported_for_each_recipient(db_url, tmp_path, clock, smtp):  # noqa: ANN001
    app = _app(db_url, tmp_path, smtp)
    app.settings.surveys.smtp_url = smtp.url.replace("s3cret", "wrong")
    _invite_by_hand(app, "Anna, anna@example.com\nBen, ben@example.com")
    report = _mail_out(app)
    assert report.count("the mail server refused Liaison's login (LIAISON_SMTP_URL) "
                        "(SMTP server 127.0.0.1") == 2 and "535" in report
    # No login at all: the server wants one before any mail (530), for each recipient.
    app.settings.surveys.smtp_url = f"smtp://127.0.0.1:{smtp.port}"
    _english(Chat(app, "alice"))("/survey invite S-2026-0001\nCleo, cleo@example.com")
    report = _mail_out(app)
    assert "- Cleo (cleo@example.com): the mail server refused Liaison's login" in report
    assert "(530" in report
    # Refusals are final: a later run tries none of them again.
    clock.shift(timedelta(hours=2))
    assert _mail_out(app) == ""
    # (the fake is a real server: no AUTH before STARTTLS, and an AUTH mechanism it does not
    # offer is refused)
    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=5) as client:
        client.ehlo()
        assert client.docmd("AUTH", "PLAIN")[0] == 538
        client.starttls(context=ssl.create_default_context(cafile=smtp.ca_file))
        client.ehlo()
        assert client.docmd("AUTH", "CRAM-SHA999")[0] == 504
    assert smtp.messages == []


def test_a_questionnaire_of_ones_own_questions(db_url, tmp_path, clock):  # noqa: ANN001
    app = _app(db_url, tmp_path)
    bob = _english(Chat(app, "bob"))
    assert "Start from which questionnaire?" in bob("/survey new")
    assert "title" in bob("my own")
    assert "one a line" in bob("Training day feedback")
    refused = bob("rating: How useful was the day?\nchoice: Length? | Too short")
    assert "needs 2 to 10 options" in refused and "Nothing of that message was kept" in refused
    assert bob("choice: Pick | A | Yes | a") == (
        "“choice: Pick | A | Yes | a”: the option “a” is listed twice; please give each option "
        "once. Nothing of that message was kept.")
    assert "Noted 3 questions (3 so far)" in bob(
        "rating: How useful was the day?\nchoice: Length? | Too short | Right | Too long\n"
        "text: What should change?")
    summary = bob("done")
    assert "2. Length? (single choice): Too short / Right / Too long" in summary
    assert "3. What should change? (free text, optional)" in summary
    assert "Survey S-2026-0001 created" in bob("confirm")
    shown = _english(Chat(app, "alice"))("/survey show S-2026-0001")
    assert "My own questions · open · owner bob · 0 of 0 invited answered" in shown
    assert "only its owner, survey managers (the surveys role) or an admin" in _english(
        Chat(app, "carol"))("/survey results S-2026-0001")


def test_the_chinese_help_names_the_questionnaires_in_chinese(db_url, tmp_path, clock):  # noqa: ANN001
    app = _app(db_url, tmp_path)
    zh = Chat(app, "bob")
    usage = re.search(r"/survey new \[(.+?)\]", zh("/help survey"))
    assert usage is not None and usage.group(1) == "投诉回访|合作伙伴|自定义"
    # Every word the help offers is one /survey new takes.
    assert "投诉处理满意度回访" in zh("/survey new 投诉回访")
    zh("cancel")
    assert "合作伙伴满意度调查" in zh("/survey new 合作伙伴")
    zh("cancel")
    assert "标题" in zh("/survey new 自定义")
    zh("cancel")
    # An unknown subcommand: no stray space after the Chinese full stop.
    refused = zh("/survey bogus")
    assert refused.startswith("“survey bogus”不是有效的子命令。")
    assert refused.endswith("。发送 /help survey 查看用法。") and "。 " not in refused


def test_back_from_the_summary_keeps_the_questions_typed(db_url, tmp_path, clock):  # noqa: ANN001
    app = _app(db_url, tmp_path)
    bob = _english(Chat(app, "bob"))
    bob("/survey new custom")
    bob("Training \U0001F600 feedback")
    bob("rating: How useful?\nchoice: Length? | Short | Right | Long\ntext: What to change?\n"
        "rating: Would you come again?")
    assert "4. Would you come again?" in bob("done")
    back = bob("back")
    assert "4 questions so far; add more or send “done”." in back and "(2/2 · " in back
    assert "Progress: 1 of 2 answered." in bob("status")
    assert "Noted 1 question (5 so far)" in bob("text: Anything else?")
    summary = bob("done")
    assert "1. How useful?" in summary and "5. Anything else?" in summary
    assert "Survey S-2026-0001 created" in bob("confirm")
    assert "5. Anything else?" in bob("/survey show S-2026-0001")
    # An empty list is not a questionnaire: "done" asks for a question.
    bob("/survey new custom")
    bob("Empty")
    assert "Add at least one question, then send “done”." in bob("done")
    zh = Chat(app, "carol")
    zh("/survey new custom")
    zh("培训反馈")
    zh("评分: 有用吗?")
    zh("完成")
    assert "目前已有 1 题;继续添加,或发送“完成”。" in zh("上一步")


def test_the_same_person_is_not_invited_twice_to_one_survey(db_url, tmp_path, clock, smtp):  # noqa: ANN001
    app = _app(db_url, tmp_path, smtp)
    ref = _complaint(app, contact="Mr Li, li@acme.example", owner="bob", status="closed")
    alice = _new_survey(app)
    alice(f"/survey invite S-2026-0001\nAnna Lee, anna@example.com, en\n"
          f"No One, nobody@refused.example, en\nMr Li, li@acme.example, en, {ref}")
    _mail_out(app)  # Anna and Mr Li got theirs; nobody@refused.example failed (550)
    clock.shift(timedelta(days=1))
    again = alice("/survey invite S-2026-0001\nAnna, ANNA@example.com\n"
                  "Nobody, nobody@refused.example\nBen, ben@example.com")
    assert ("- Anna (ANNA@example.com): already invited on Thu 26 Nov 2026, 10:00 "
            "(Asia/Shanghai); nothing sent") in again
    assert "2 invitations are being e-mailed" in again  # Ben, and the one that failed
    # A complaint's line naming another address of the same customer: the same.
    other = alice(f"/survey invite S-2026-0001\nLi, li.private@example.com, en, {ref}")
    assert "already invited on" in other and "nothing sent" in other
    assert "being e-mailed" not in other
    assert "already sent the survey" in _english(Chat(app, "bob"))(f"/survey send {ref}")
    _mail_out(app)
    assert sorted(m.recipients[0] for m in smtp.messages) == [
        "anna@example.com", "ben@example.com", "li@acme.example"]
    assert smtp.tried.count("nobody@refused.example") == 2  # tried again, as asked
    assert len(_invitations(app)) == 5


# -- a closed complaint offers the survey ---------------------------------------------------


def test_closing_a_complaint_offers_its_customer_the_survey(db_url, tmp_path, clock, smtp):  # noqa: ANN001
    app = _app(db_url, tmp_path, smtp)
    ref = _complaint(app, contact="Mr Li, li@acme.example", owner="bob")
    bob = _english(Chat(app, "bob", name="Bob"))
    out = bob.say(f"/complaint close {ref} confirm")
    closed = next(o for o in out if o.address.in_reply)
    assert "The customer's e-mail is on file" in closed.message.text
    # The complaint records no language: the owner picks the customer's.
    assert [c.value for c in closed.message.choices] == [f"/survey send {ref} zh",
                                                         f"/survey send {ref} en"]
    assert [c.label for c in closed.message.choices] == [
        "Send the survey in Chinese (中文)", "Send the survey in English"]
    # A language the pages are not in is refused, not taken for the inviter's.
    assert bob(f"/survey send {ref} fr") == (
        "“fr” is not a page language (zh or en). Nothing was sent.")
    sent = bob(f"/survey send {ref} en", is_action=True)  # the button
    assert f"Follow-up of {ref}" in sent and "1 invitation is being e-mailed" in sent
    assert "- ACME Ltd (li@acme.example)" in sent
    report = _mail_out(app)
    assert f"Follow-up of {ref}" in report and "1 of 1 invitation e-mail sent" in report
    (mail,) = smtp.messages
    assert mail.recipients == ["li@acme.example"] and mail.subject == "Complaint follow-up"
    assert f"while we handled your complaint ({ref})" in mail.body
    assert "already sent the survey" in bob(f"/survey send {ref}")
    assert len(smtp.messages) == 1
    # Another owner's complaint, and one with no e-mail: nothing offered, nothing sent.
    other = _complaint(app, contact="li@acme.example", owner="dave")
    assert "Only the owner of" in bob(f"/survey send {other}")
    phone_only = _complaint(app, contact="13800000000", owner="bob")
    out = bob.say(f"/complaint close {phone_only} confirm")
    assert all(o.message.choices == () for o in out)
    assert "no e-mail address" in bob(f"/survey send {phone_only}")
    assert len(smtp.messages) == 1


def test_zh_close_offer(db_url, tmp_path, clock, smtp):  # noqa: ANN001
    app = _app(db_url, tmp_path, smtp)
    ref = _complaint(app, contact="li@acme.example", owner="bob")
    bob = Chat(app, "bob")
    assert "客户登记了邮箱" in bob(f"/投诉 关闭 {ref} 确认")
    assert "投诉 C-2026-0001 的回访" in bob(f"/满意度调查 回访 {ref}")
    assert "共 1 封邀请邮件,已发出 1 封" in _mail_out(app)
    assert smtp.messages[0].subject == "投诉处理满意度回访"


# -- settings -------------------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_smtp_urls_and_when_the_pages_are_served(db_url, monkeypatch):  # noqa: ANN001
    from bot.config import Settings
    from bot.errors import ConfigError
    from bot.mail import parse_url

    starttls = parse_url("smtp://me%40corp:p%3Ass@mail.example.com:587?starttls=1")
    assert (starttls.user, starttls.password, starttls.port, starttls.starttls,
            starttls.implicit_tls) == ("me@corp", "p:ss", 587, True, False)
    implicit = parse_url("smtps://u:p@mail.example.com")
    assert (implicit.port, implicit.implicit_tls, implicit.starttls) == (465, True, False)
    monkeypatch.setenv("LIAISON_SMTP_URL", "http://mail.example.com")
    with pytest.raises(ConfigError, match="LIAISON_SMTP_URL"):
        Settings(database_url=db_url)
    # A login is never sent in clear: STARTTLS unless the URL says smtps://, no opt-out.
    assert parse_url("smtp://u:p@mail.example.com:587").starttls
    assert not parse_url("smtp://relay:25").starttls
    monkeypatch.setenv("LIAISON_SMTP_URL", "smtp://u:p@mail.example.com:587?starttls=0")
    with pytest.raises(ConfigError, match="LIAISON_SMTP_URL: .*never sends a password"):
        Settings(database_url=db_url)
    # The From address is required with the URL, and must be one address on one line.
    monkeypatch.setenv("LIAISON_SMTP_URL", "smtp://relay:25")
    with pytest.raises(ConfigError, match="^Setting LIAISON_SMTP_FROM: .* is needed"):
        Settings(database_url=db_url)
    for bad in ("Liaison", "Liaison <survey@example.com>\nBcc: x@example.com"):
        monkeypatch.setenv("LIAISON_SMTP_FROM", bad)
        with pytest.raises(ConfigError, match="^Setting LIAISON_SMTP_FROM: "):
            Settings(database_url=db_url)
    monkeypatch.setenv("LIAISON_SMTP_FROM", "Liaison <survey@example.com>")
    with pytest.raises(ConfigError, match="^Setting LIAISON_WEB_SECRET: at least 16"):
        Settings(database_url=db_url)  # it makes the e-mailed links
    monkeypatch.setenv("LIAISON_WEB_SECRET", LINK_SECRET)
    monkeypatch.setenv("LIAISON_SURVEY_TTL", "2d")
    settings = Settings(database_url=db_url)
    assert settings.surveys.ttl == timedelta(days=2) and not settings.web_enabled
    monkeypatch.setenv("LIAISON_PUBLIC_URL", "https://liaison.example.com")
    assert Settings(database_url=db_url).web_enabled  # the survey pages start the server


# -- e-mail in the background ---------------------------------------------------------------


@pytest.mark.sqlite_only
def test_a_login_goes_only_over_tls_and_a_server_that_does_not_fit_is_not_retried(  # noqa: ANN001
        db_url, tmp_path, clock, smtp):
    app = _app(db_url, tmp_path, smtp)
    alice = _new_survey(app)
    # The URL has a login and says nothing of STARTTLS: it is used (the server offers AUTH
    # only after it), and the mail goes.
    assert "?" not in smtp.url and smtp.url.startswith("smtp://survey%40example.com:")
    alice("/survey invite S-2026-0001\nAnna Lee, anna@example.com, en")
    assert "1 of 1 invitation e-mail sent" in _mail_out(app)
    # A server that does not offer STARTTLS: the password is not sent, the inviter is told
    # the setup does not fit, once, and it is not tried again.
    with SmtpServer(tls=False) as plain:
        app.settings.surveys.smtp_url = f"smtp://u%40example.com:s3cret@127.0.0.1:{plain.port}"
        alice("/survey invite S-2026-0001\nBen, ben@example.com")
        report = _mail_out(app)
        assert ("- Ben (ben@example.com): the mail server and LIAISON_SMTP_URL do not fit "
                "(TLS, login or greeting)") in report and "STARTTLS" in report
        clock.shift(timedelta(hours=2))
        assert _mail_out(app) == "" and plain.tried == []
    # A certificate Liaison does not trust (no LIAISON_SMTP_CA_FILE): the same, not retried.
    app.settings.surveys.smtp_url = smtp.url
    app.settings.surveys.smtp_ca_file = ""
    alice("/survey invite S-2026-0001\nCleo, cleo@example.com")
    report = _mail_out(app)
    assert "- Cleo (cleo@example.com): the mail server and LIAISON_SMTP_URL do not fit" in report
    assert "CERTIFICATE_VERIFY_FAILED" in report
    clock.shift(timedelta(hours=2))
    assert _mail_out(app) == ""
    assert [m.recipients for m in smtp.messages] == [["anna@example.com"]]


@pytest.mark.sqlite_only
def test_a_from_address_the_server_refuses_and_an_unwritable_email_fail_alone(  # noqa: ANN001
        db_url, tmp_path, clock, smtp, monkeypatch):
    app = _app(db_url, tmp_path, smtp)
    alice = _new_survey(app)
    app.settings.surveys.smtp_from = "Liaison <other@example.com>"  # not the login's address
    alice("/survey invite S-2026-0001\nAnna Lee, anna@example.com, en")
    report = _mail_out(app)
    assert ("- Anna Lee (anna@example.com): the mail server refused the From address "
            "(LIAISON_SMTP_FROM) (553 5.7.1") in report
    # One e-mail that cannot be written fails with its reason; the others go, and nothing
    # stays claimed.
    app.settings.surveys.smtp_from = SENDER
    real = mail.message  # bot.mail: the mailer imports it when it sends

    def broken(sender: str, to: str, *args: object, **kw: object):  # noqa: ANN202
        if to == "ben@example.com":
            raise ValueError("Header values may not contain linefeed or carriage return")
        return real(sender, to, *args, **kw)

    monkeypatch.setattr(mail, "message", broken)
    alice("/survey invite S-2026-0001\nBen, ben@example.com\nCleo, cleo@example.com")
    report = _mail_out(app)
    assert "1 of 2 invitation e-mails sent" in report
    assert ("- Ben (ben@example.com): Liaison could not write this e-mail (check "
            "LIAISON_SMTP_FROM and the recipient) (ValueError: Header values") in report
    assert [i.mail_status for i in _invitations(app)] == ["failed", "failed", "sent"]
    assert [m.recipients for m in smtp.messages] == [["cleo@example.com"]]
    # The same when the e-mail's text cannot be written (a template error, say).
    monkeypatch.undo()
    values = mailer.message_values

    def unwritable(survey, invitation, link):  # noqa: ANN001, ANN202
        if invitation.email == "dan@example.com":
            raise KeyError("survey_title")
        return values(survey, invitation, link)

    monkeypatch.setattr(mailer, "message_values", unwritable)
    alice("/survey invite S-2026-0001\nDan, dan@example.com\nEve, eve@example.com")
    report = _mail_out(app)
    assert "1 of 2 invitation e-mails sent" in report
    assert "- Dan (dan@example.com): Liaison could not write this e-mail" in report
    assert [m.recipients for m in smtp.messages][-1] == ["eve@example.com"]
    assert not [i for i in _invitations(app) if i.mail_status in ("queued", "sending")]


def _invitations(app) -> list[SurveyInvitation]:  # noqa: ANN001
    with app.db.session() as s:
        return list(s.exec(select(SurveyInvitation).order_by(SurveyInvitation.id)).all())


def _new_survey(app) -> Chat:  # noqa: ANN001
    alice = _english(Chat(app, "alice", name="Alice"))
    alice("/survey new complaint")
    alice("confirm")
    return alice


def test_a_commit_that_fails_after_the_invite_sends_no_email(db_url, tmp_path, clock, smtp):  # noqa: ANN001
    app = _app(db_url, tmp_path, smtp)
    woken: list[str] = []
    app.db.job_wakers.append(woken.append)  # what a running scheduler registers
    alice = _new_survey(app)
    woken.clear()

    def broken(session: OrmSession) -> None:
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    event.listen(OrmSession, "before_commit", broken)
    try:
        out = alice("/survey invite S-2026-0001\nAnna Lee, anna@example.com, en")
    finally:
        event.remove(OrmSession, "before_commit", broken)
    assert "being e-mailed" not in out
    assert woken == [] and _invitations(app) == []
    assert _mail_out(app) == "" and smtp.tried == [] and smtp.messages == []
    # Committed, the sender is woken at once and mails the link, once.
    assert "1 invitation is being e-mailed" in alice(
        "/survey invite S-2026-0001\nAnna Lee, anna@example.com, en")
    assert woken == ["surveys.mail"] and smtp.messages == []
    assert "1 of 1 invitation e-mail sent" in _mail_out(app)
    assert _mail_out(app) == "" and [m.recipients for m in smtp.messages] == [
        ["anna@example.com"]]


def test_a_busy_mail_server_is_tried_again_later_and_mails_once(db_url, tmp_path, clock, smtp):  # noqa: ANN001
    app = _app(db_url, tmp_path, smtp)
    adapters = recording_adapters()
    alice = _new_survey(app)
    smtp.busy("anna@example.com")  # 421 for the first try (the server then hangs up)
    alice("/survey invite S-2026-0001\nAnna Lee, anna@example.com, en\nBen, ben@example.com")
    assert _mail_out(app, adapters) == ""  # tried, not told yet: Anna will be tried again
    anna, ben = _invitations(app)
    assert (anna.mail_status, anna.mail_attempts) == ("queued", 1)
    assert anna.send_error.startswith("421")
    assert (ben.mail_status, ben.mail_attempts) == ("sent", 1)  # on a new connection
    assert _mail_out(app, adapters) == ""  # Anna's backing off
    assert smtp.tried == ["anna@example.com", "ben@example.com"]
    clock.shift(timedelta(minutes=1))
    # The report's first delivery to the chat fails: retried by the chat outbox, it mails
    # nobody again.
    adapters["console"].fail_with = [DeliveryError("timeout", temporary=True)]
    assert _mail_out(app, adapters) == ""
    assert len(smtp.messages) == 2
    clock.shift(timedelta(minutes=5))
    report = _mail_out(app, adapters)
    assert "S-2026-0001: 2 of 2 invitation e-mails sent" in report
    assert "- Anna Lee (anna@example.com)" in report and "NOT sent" not in report
    clock.shift(timedelta(hours=2))
    assert _mail_out(app, adapters) == ""
    assert sorted(smtp.tried) == ["anna@example.com"] * 2 + ["ben@example.com"]
    assert [m.recipients for m in smtp.messages] == [["ben@example.com"], ["anna@example.com"]]
    # The link in the e-mail is the one that works.
    path = LINK.search(smtp.messages[1].body).group(0).split("127.0.0.1", 1)[1]
    assert create_app(app).test_client().get(path).status_code == 200


def test_a_mail_server_that_never_answers_is_given_up_after_the_limit(db_url, tmp_path, clock):  # noqa: ANN001
    app = _app(db_url, tmp_path)
    with SmtpServer() as gone:
        port = gone.port  # a port nobody listens on any more
    app.settings.surveys.smtp_url = f"smtp://127.0.0.1:{port}?timeout=2"
    app.settings.surveys.smtp_from, app.settings.surveys.link_secret = SENDER, LINK_SECRET
    app.settings.surveys.mail_attempts = 2
    alice = _new_survey(app)
    alice("/survey invite S-2026-0001\nAnna Lee, anna@example.com, en")
    assert _mail_out(app) == ""
    clock.shift(timedelta(minutes=1))
    report = _mail_out(app)
    assert ("- Anna Lee (anna@example.com): the mail server could not be reached or asked to "
            "wait, 2 tries (SMTP server 127.0.0.1") in report
    assert [i.mail_status for i in _invitations(app)] == ["failed"]


def test_a_refused_mailbox_is_reported_in_the_inviters_language_and_not_retried(  # noqa: ANN001
        db_url, tmp_path, clock, smtp):
    app = _app(db_url, tmp_path, smtp)
    alice = Chat(app, "alice", name="Alice")  # Chinese
    alice("/survey new complaint")
    alice("确认")
    assert "2 份邀请正在发送" in alice(
        "/survey invite S-2026-0001\nNo One, nobody@refused.example, en\n王芳, wang@example.com")
    report = _mail_out(app)
    assert "S-2026-0001:共 2 封邀请邮件,已发出 1 封" in report
    assert "已发送:\n- 王芳 (wang@example.com)" in report
    assert ("- No One (nobody@refused.example):邮件服务器说此邮箱不存在(550 5.1.1 No such "
            "mailbox here)") in report
    clock.shift(timedelta(days=1))
    assert _mail_out(app) == ""
    assert smtp.tried.count("nobody@refused.example") == 1
    assert [(i.email, i.mail_status, i.mail_attempts) for i in _invitations(app)] == [
        ("nobody@refused.example", "failed", 1), ("wang@example.com", "sent", 1)]


def test_two_senders_at_once_mail_each_invitation_once(db_url, tmp_path, clock, smtp):  # noqa: ANN001
    app = _app(db_url, tmp_path, smtp)
    alice = _new_survey(app)
    people = [f"p{i}@example.com" for i in range(8)]
    alice("/survey invite S-2026-0001\n" + "\n".join(f"P{i}, {a}" for i, a in enumerate(people)))
    # A sender claims three and is killed before sending them: they wait for its lease.
    assert len(MailSender(app, owner="killed", batch=3).claim(datetime.now(UTC))) == 3

    def race() -> None:
        barrier = threading.Barrier(2)
        senders = [MailSender(app, owner=f"sender-{n}", batch=2) for n in range(2)]

        def go(sender: MailSender) -> None:
            barrier.wait()
            sender.run()

        threads = [threading.Thread(target=go, args=(s,)) for s in senders]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)

    race()
    assert len(smtp.messages) == 5 and len(set(smtp.tried)) == 5
    assert run_due(app) == []  # the batch is not finished: no report yet
    clock.shift(LEASE + timedelta(seconds=1))
    race()
    assert sorted(m.recipients[0] for m in smtp.messages) == sorted(people)  # each once
    assert sorted(smtp.tried) == sorted(people)
    (report,) = run_due(app)
    assert "S-2026-0001: 8 of 8 invitation e-mails sent" in report.message.text
    assert run_due(app) == []


def test_the_running_scheduler_mails_at_once_and_reports_in_chat(db_url, tmp_path, smtp):  # noqa: ANN001
    # Real time here: the interval is an hour, so only the wake-up after the commit can send.
    app = _app(db_url, tmp_path, smtp, reminder_sweep=timedelta(hours=1))
    adapters = recording_adapters()
    reported = threading.Event()
    adapters["console"].on_send = lambda outbound: reported.set()
    scheduler = ReminderScheduler(app, adapters)
    scheduler.start()
    try:
        scheduler.run_job(mailer.JOB)  # the start-up run has run; nothing was queued
        alice = _new_survey(app)
        alice("/survey invite S-2026-0001\nAnna Lee, anna@example.com, en")
        assert reported.wait(timeout=20), "the e-mail was not sent and reported"
    finally:
        scheduler.stop()
    assert [m.recipients for m in smtp.messages] == [["anna@example.com"]]
    (report,) = adapters["console"].sent
    assert report.address.user == "alice"
    assert "S-2026-0001: 1 of 1 invitation e-mail sent" in report.message.text


# -- results ----------------------------------------------------------------------------------


def test_two_consecutive_surveys_count_each_chat_score_once(db_url, tmp_path, clock):  # noqa: ANN001
    app = _app(db_url, tmp_path)
    bob = _english(Chat(app, "bob"))
    early, during, later, linked = (_complaint(app, customer=f"Customer {n}") for n in range(4))
    bob(f"/complaint satisfaction {early} 1")  # before any survey: in neither
    bob(f"/complaint satisfaction {linked} 3")  # the second survey invites its customer
    clock.shift(timedelta(hours=1))
    alice = _new_survey(app)  # S-2026-0001
    clock.shift(timedelta(hours=1))
    bob(f"/complaint satisfaction {during} 4")
    clock.shift(timedelta(hours=1))
    alice("/survey close S-2026-0001")
    clock.shift(timedelta(hours=1))
    alice("/survey new complaint")
    assert "S-2026-0002" in alice("confirm")
    clock.shift(timedelta(hours=1))
    bob(f"/complaint satisfaction {later} 5")

    first = alice("/survey results S-2026-0001")
    assert "Average 4.0 from 1 score, including 1 score recorded in chat" in first
    assert "1: 0 · 2: 0 · 3: 0 · 4: 1 · 5: 0" in first
    out = alice(f"/survey invite S-2026-0002\nMr Li, li@example.com, en, {linked}")
    second = alice("/survey results S-2026-0002")
    assert "Average 4.0 from 2 scores, including 2 scores recorded in chat" in second
    assert "1: 0 · 2: 0 · 3: 1 · 4: 0 · 5: 1" in second
    # The customer answers: their own score replaces the one typed for them.
    path = LINK.search(out).group(0).split("127.0.0.1", 1)[1]
    assert create_app(app).test_client().post(path, data={"q1": "2", "q2": "0"}).status_code \
        == 200
    second = alice("/survey results S-2026-0002")
    assert "Average 3.5 from 2 scores, including 1 score recorded in chat" in second
    assert "1: 0 · 2: 1 · 3: 0 · 4: 0 · 5: 1" in second
    assert "including 1 score recorded in chat" in alice("/survey results S-2026-0001")


def test_closing_a_survey_cancels_its_queued_emails(db_url, tmp_path, clock, smtp):  # noqa: ANN001
    app = _app(db_url, tmp_path, smtp)
    alice = _new_survey(app)
    smtp.busy("anna@example.com")  # 421 once: Anna's e-mail waits to be tried again
    alice("/survey invite S-2026-0001\nAnna Lee, anna@example.com, en\nBen, ben@example.com")
    _mail_out(app)
    alice("/survey invite S-2026-0001\nCleo, cleo@example.com")  # queued, not yet sent
    closed = alice("/survey close S-2026-0001")
    assert "S-2026-0001 is closed" in closed and "2 invitation e-mails not sent yet are " \
        "cancelled" in closed
    again = alice("/survey close S-2026-0001")
    assert re.fullmatch(r"S-2026-0001 was already closed on .+; nothing changed\.", again), again
    assert re.fullmatch(r"S-2026-0001 已于.+结束,什么都没有改动。",
                        Chat(app, "alice")("/lang zh") and Chat(app, "alice")(
                            "/survey close S-2026-0001")), "zh"
    clock.shift(timedelta(hours=2))
    _mail_out(app)
    assert [m.recipients for m in smtp.messages] == [["ben@example.com"]]
    assert [i.mail_status for i in _invitations(app)] == ["cancelled", "sent", "cancelled"]


def test_an_email_tried_again_carries_the_same_link(db_url, tmp_path, clock, smtp):  # noqa: ANN001
    # A sender claimed Anna's e-mail and may have sent it (a slow relay took it, then the
    # sender died waiting for the reply): the next try mails the same link, so whichever
    # copy she opens works.
    app = _app(db_url, tmp_path, smtp)
    alice = _new_survey(app)
    alice("/survey invite S-2026-0001\nAnna Lee, anna@example.com, en")
    (first,) = MailSender(app, owner="killed").claim(datetime.now(UTC))
    clock.shift(LEASE + timedelta(seconds=1))
    assert "1 of 1 invitation e-mail sent" in _mail_out(app)
    (mail,) = smtp.messages
    link = LINK.search(mail.body).group(0)
    assert link.endswith("/s/" + first.token)
    assert create_app(app).test_client().get(link.split("127.0.0.1", 1)[1]).status_code == 200
    # (the reply after the data may take the 10 minutes RFC 5321 allows, not 20 seconds)
    from bot.mail import parse_url

    assert parse_url(smtp.url).data_timeout == 600 and LEASE > timedelta(minutes=13)


def test_a_sender_killed_on_the_last_try_is_reported_not_mailed_again(db_url, tmp_path, clock,  # noqa: ANN001
                                                                      smtp):
    app = _app(db_url, tmp_path, smtp)
    app.settings.surveys.mail_attempts = 1
    alice = _new_survey(app)
    alice("/survey invite S-2026-0001\nAnna Lee, anna@example.com, en")
    assert len(MailSender(app, owner="killed").claim(datetime.now(UTC))) == 1
    assert _mail_out(app) == ""  # its lease holds
    clock.shift(LEASE + timedelta(seconds=1))
    report = _mail_out(app)
    assert ("- Anna Lee (anna@example.com): Liaison stopped while sending it on its last try, "
            "so it may or may not have arrived\n") in report
    assert smtp.tried == [] and [i.mail_status for i in _invitations(app)] == ["failed"]
