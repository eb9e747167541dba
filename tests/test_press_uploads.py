"""A press release's logo sent as a file, as people do it: `file:PATH` in the console, a file
shared in the Slack DM. The image is kept with the release, named in the summary, and placed
as the first picture of the Word export; a file too big, or not an image, is refused politely
and nothing is kept."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from docx import Document
from sqlmodel import select

from bot.adapters.console import ConsoleAdapter
from handlers.press.models import PressUpload, PressVersion
from tests import test_slack
from tests.fakes.dingtalk_server import FakeDingTalk, shared
from tests.fakes.slack_api import message_text
from tests.support import Chat, build_app
from tests.test_dingtalk import Talk, make, outbox_drained, running
from tests.test_files_in_chat import _png
from tests.test_slack import ALICE

REF = "P-2026-0001"
slack = test_slack.slack  # the fixture: the bot in HTTP mode against the fake Slack


def _jpeg() -> bytes:
    """The smallest header python-docx reads as a JPEG (SOI, a JFIF APP0, an SOF0 frame)."""
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0\x00\x0b\x08\x00\x01\x00\x01\x01\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


class Console:
    """The console as a person uses it: one line in, the printed answer back."""

    def __init__(self, app: Any, user: str = "alice") -> None:  # noqa: ANN401
        self.out = io.StringIO()
        self.adapter = ConsoleAdapter(app, user, out=self.out)

    def __call__(self, line: str) -> str:
        start = self.out.tell()
        self.adapter.say(line)
        return self.out.getvalue()[start:]


def _first_picture(path: Any) -> bytes:  # noqa: ANN401
    doc = Document(str(path))
    first = doc.paragraphs[0]._p  # the picture is the document's first paragraph
    assert first.xpath(".//pic:pic")
    return doc.part.related_parts[first.xpath(".//a:blip/@r:embed")[0]].blob


def _logos(app: Any) -> list[PressUpload]:  # noqa: ANN401
    with app.db.session() as s:
        return list(s.exec(select(PressUpload)).all())


def test_a_logo_uploaded_in_the_console_is_the_first_picture_of_the_export_in_chinese(
        db_url, tmp_path, clock, monkeypatch):  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    logo = tmp_path / "acme-logo.png"
    logo.write_bytes(_png(200, 100) + b"\x00" * 34 * 1024)  # about 34 KB, trailing bytes kept
    company = tmp_path / "company.png"
    company.write_bytes(_png(3, 3))
    app, _ = build_app(db_url, tmp_path, press={"logo": str(company)})
    say = Console(app)
    say("/press new")
    say("新品 X1 今日发布")
    say("公司三年研发的新一代产品。")
    say("X1 续航 20 小时")
    say("完成")
    asked = say("王敏 press@example.com")
    assert "直接发送图片(PNG 或 JPEG,不超过 10 MB;控制台里回答 file:路径" in asked
    taken = say(f"file:{logo}")
    assert taken.startswith("高清图片:直接发送图片文件")  # taken: the next question, the images
    say("完成")
    say("跳过")
    summary = say("跳过")
    assert "logo:acme-logo.png(已上传,34 KB)" in summary
    created = say("确认")
    assert f"已保存新闻稿 {REF}" in created
    assert "logo:acme-logo.png(已上传,34 KB)" in say(f"/press show {REF}")
    # The uploaded logo counts as the logo a release needs before it can be submitted.
    assert f"{REF} 第 1 版已提交" in say(f"/press submit {REF}")

    exported = say(f"/press export {REF}")
    assert f"📎 exports/{REF}-v1.docx" in exported
    # The uploaded logo, not the company logo (LIAISON_PRESS_LOGO), comes first, same bytes.
    assert _first_picture(tmp_path / "exports" / f"{REF}-v1.docx") == logo.read_bytes()
    markdown = (tmp_path / "exports" / f"{REF}-v1.md").read_text(encoding="utf-8")
    assert markdown.startswith("企业 logo: acme\\-logo\\.png")


def test_an_uploaded_jpeg_logo_in_english_and_an_edit_keeps_it(db_url, tmp_path, clock,
                                                                 monkeypatch):  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    logo = tmp_path / "logo.jpg"
    logo.write_bytes(_jpeg())
    app, _ = build_app(db_url, tmp_path)
    say = Console(app)
    say("/lang en")
    say("/press new")
    say("Liaison X1 goes on sale today")
    say("Three years of work went into it.")
    say("Battery lasts all day")
    say("done")
    asked = say("Wang Min +86 138 0013 8000")
    assert "send the image (PNG or JPEG, up to 10 MB: answer file:PATH" in asked
    say(f"file:{logo}")
    say("skip")  # images
    say("skip")  # planned
    summary = say("skip")  # legal
    assert "Logo: logo.jpg (uploaded, 1 KB)" in summary
    say("confirm")
    assert "version 2" in say(f"/press edit {REF} headline Liaison X1 is on sale")
    assert "Logo: logo.jpg (uploaded, 1 KB)" in say(f"/press show {REF}")
    say(f"/press export {REF}")
    assert _first_picture(tmp_path / "exports" / f"{REF}-v2.docx") == logo.read_bytes()


def test_a_file_that_is_not_an_image_or_too_big_is_refused_and_not_kept(
        db_url, tmp_path, clock, monkeypatch):  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    big = tmp_path / "big.png"
    big.write_bytes(_png() + b"\x00" * 3 * 1024 * 1024)
    app, _ = build_app(db_url, tmp_path, upload_max_bytes=2 * 1024 * 1024)
    say = Console(app)
    say("/press new")
    say("新品 X1 今日发布")
    assert "这个问题不接收文件,所以没有保存 notes.txt" in say(f"file:{notes}")
    say("公司三年研发的新一代产品。")
    say("X1 续航 20 小时")
    say("完成")
    say("王敏 press@example.com")
    refused = say(f"file:{notes}")
    assert "“notes.txt”不是 PNG 或 JPEG 图片,所以没有保存" in refused
    assert "企业 logo:直接发送图片" in refused  # asked again
    assert "不是 PNG 或 JPEG 图片" in say(f"file:{fake}")
    assert "“big.png”有 3.0 MB,超过了 2 MB 的上限,所以没有保存" in say(f"file:{big}")
    assert "无法读取“missing.png”" in say(f"file:{tmp_path / 'missing.png'}")
    assert _logos(app) == []
    say("/lang en")
    assert "“notes.txt” is not a PNG or JPEG image, so I did not keep it" in say(
        f"file:{notes}")
    assert "“big.png” is 3.0 MB, more than the 2 MB I can take" in say(f"file:{big}")
    assert _logos(app) == []


# -- Slack: a file shared in the DM with the bot ---------------------------------------------

ADA, ADA_DM = "UADMIN", "DUADMIN"  # zh-CN in the fake's profile
ALICE_DM = "DUALICE"


def _slack_draft_to_logo(app: Any, user: str, channel: str, en: bool) -> Any:  # noqa: ANN401
    """The questions before the logo, answered through the core (as typed in the DM)."""
    return _slack_draft_to_logo_on(app, user, channel, en=en, platform="slack")


def _slack_draft_to_logo_on(app: Any, user: str, channel: str, *, en: bool = False,  # noqa: ANN401
                            platform: str = "dingtalk") -> Any:  # noqa: ANN401
    chat = Chat(app, user, platform=platform, channel=channel)
    if en:
        chat("/lang en")
        answers = ["/press new", "Liaison X1 goes on sale today", "Three years of work.",
                   "Battery lasts all day", "done", "Wang Min +86 138 0013 8000"]
    else:
        answers = ["/press new", "新品 X1 今日发布", "公司三年研发的新一代产品。",
                   "X1 续航 20 小时", "完成", "王敏 press@example.com"]
    for line in answers:
        chat(line)
    return chat


def _share(h: Any, user: str, channel: str, file: dict[str, Any]) -> None:  # noqa: ANN401
    h.message("", channel=channel, user=user, channel_type="im", subtype="file_share",
              files=[file])


def _posted(h: Any, channel: str, words: str) -> str:  # noqa: ANN401
    call = h.fake.wait_for("chat.postMessage", where=lambda c: c.params["channel"] == channel
                           and words in message_text(c.params))[-1]
    return message_text(call.params)


def test_a_logo_shared_in_the_slack_dm_is_downloaded_with_the_bot_token_in_chinese(
        slack: Any, clock) -> None:  # noqa: ANN001, ANN401
    png = _png(120, 60)
    chat = _slack_draft_to_logo(slack.app, ADA, ADA_DM, en=False)
    file = slack.fake.add_file("ada-logo.png", png, "image/png")
    _share(slack, ADA, ADA_DM, file)
    _posted(slack, ADA_DM, "高清图片:直接发送图片文件")  # the logo was taken: the next question
    (get,) = slack.fake.downloads()
    assert get.status == 200 and get.headers.get("Authorization") == "Bearer xoxb-test"
    chat("完成")
    chat("跳过")
    assert "logo:ada-logo.png(已上传,1 KB)" in chat("跳过")
    assert f"已保存新闻稿 {REF}" in chat("确认")
    files = chat.say(f"/press export {REF}")[0].message.files
    doc = Document(io.BytesIO(files[0].data))
    first = doc.paragraphs[0]._p
    assert doc.part.related_parts[first.xpath(".//a:blip/@r:embed")[0]].blob == png


def test_slack_without_the_right_token_or_files_read_gives_no_file_and_a_polite_answer(
        slack: Any, clock) -> None:  # noqa: ANN001, ANN401
    _slack_draft_to_logo(slack.app, ALICE, ALICE_DM, en=True)
    file = slack.fake.add_file("logo.png", _png(), "image/png")
    slack.fake.state.bot_token = "xoxb-someone-else"  # the bot's token is not this install's
    _share(slack, ALICE, ALICE_DM, file)
    assert "I could not read “logo.png”, so nothing was kept" in _posted(
        slack, ALICE_DM, "could not read")
    assert [c.status for c in slack.fake.downloads()] == [200]  # the sign-in page, no file
    slack.fake.state.bot_token = "xoxb-test"
    slack.fake.state.scopes.discard("files:read")  # installed before the scope was asked for
    _share(slack, ALICE, ALICE_DM, file)
    slack.fake.wait_for("chat.postMessage", 2, where=lambda c: "could not read" in
                        message_text(c.params))
    with slack.app.db.session() as s:
        assert not s.exec(select(PressUpload)).all()


def test_a_too_large_or_non_image_file_in_slack_is_refused_politely_in_english(
        slack: Any, clock) -> None:  # noqa: ANN001, ANN401
    chat = _slack_draft_to_logo(slack.app, ALICE, ALICE_DM, en=True)
    big = slack.fake.add_file("huge.png", _png() + b"\x00" * (10 * 1024 * 1024), "image/png")
    _share(slack, ALICE, ALICE_DM, big)
    assert "“huge.png” is 10.0 MB, more than the 10 MB I can take" in _posted(
        slack, ALICE_DM, "huge.png")
    assert slack.fake.downloads() == []  # not fetched at all
    pdf = slack.fake.add_file("brief.pdf", b"%PDF-1.4 a brief", "application/pdf")
    _share(slack, ALICE, ALICE_DM, pdf)
    assert "“brief.pdf” is not a PNG or JPEG image, so I did not keep it" in _posted(
        slack, ALICE_DM, "brief.pdf")
    with slack.app.db.session() as s:
        assert not s.exec(select(PressUpload)).all()
    assert "Logo: https://example.com/logo.png" in "\n".join([
        chat("https://example.com/logo.png"), chat("skip"), chat("skip"), chat("skip")])


# -- DingTalk: a picture or a file sent in the one-to-one chat with the robot ------------------


@pytest.fixture
def dingtalk() -> FakeDingTalk:
    fake = shared()
    fake.reset()
    return fake


def test_a_logo_sent_to_the_dingtalk_robot_is_fetched_by_its_download_code(
        db_url: str, tmp_path: Any, dingtalk: FakeDingTalk, clock) -> None:  # noqa: ANN001
    app, adapter, _ = make(db_url, tmp_path, dingtalk)
    _slack_draft_to_logo_on(app, "zhang", "dm:zhang")
    zhang = Talk(dingtalk, adapter, "zhang", "张伟")
    png = _png(64, 32)
    with running(adapter, dingtalk):
        # A file that is not an image, then one DingTalk never issued a code for.
        done = adapter.processed
        dingtalk.push_callback(dingtalk.file_message(
            "brief.pdf", dingtalk.add_message_file(b"%PDF-1.4", "application/pdf"),
            user="zhang"))
        dingtalk.wait_for(lambda: adapter.processed > done)
        dingtalk.wait_for(lambda: outbox_drained(app))
        assert "“brief.pdf”不是 PNG 或 JPEG 图片,所以没有保存" in "\n".join(
            dingtalk.webhook_texts())
        assert "无法读取“picture”,所以没有保存" in zhang.say("dc-never-issued",
                                                          msgtype="picture")
        answer = zhang.say(dingtalk.add_message_file(png, "image/png"), msgtype="picture")
        assert "高清图片:直接发送图片文件" in answer
    asked = dingtalk.calls_to("/v1.0/robot/messageFiles/download")
    assert asked[-1].body["robotCode"] == dingtalk.client_id
    assert asked[-1].headers.get("x-acs-dingtalk-access-token") in dingtalk.tokens
    chat = Chat(app, "zhang", platform="dingtalk", channel="dm:zhang")
    chat("完成")
    chat("跳过")
    assert "logo:picture.png(已上传,1 KB)" in chat("跳过")
    chat("确认")
    files = chat.say(f"/press export {REF}")[0].message.files
    doc = Document(io.BytesIO(files[0].data))
    first = doc.paragraphs[0]._p
    assert doc.part.related_parts[first.xpath(".//a:blip/@r:embed")[0]].blob == png


def test_an_answer_that_only_starts_like_file_stays_text(db_url, tmp_path, clock):  # noqa: ANN001
    app, _ = build_app(db_url, tmp_path)
    say = Console(app)
    say("/press new")
    assert "正文第一段 · 背景" in say("File: 新品 X1 今日发布")  # the headline, taken
    assert "正文第二段 · 事实" in say("file: 三年研发的新一代产品。")


def test_a_logo_of_a_cancelled_draft_is_forgotten_by_the_daily_purge(db_url, tmp_path, clock,
                                                                    monkeypatch):  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    logo = tmp_path / "logo.png"
    logo.write_bytes(_png())
    app, _ = build_app(db_url, tmp_path)
    say = Console(app)
    for line in ("/press new", "新品 X1 今日发布", "背景。", "事实一", "完成",
                 "王敏 press@example.com", f"file:{logo}"):
        say(line)
    say("取消")
    say("/press new")
    for line in ("新品 X2 今日发布", "背景。", "事实一", "完成", "王敏 press@example.com",
                 f"file:{logo}", f"file:{logo}", "完成", "跳过", "跳过"):
        say(line)  # the same picture as the logo and as a high-resolution image
    assert "已保存新闻稿" in say("确认")
    assert len(_logos(app)) == 3
    app.purge(datetime.now(UTC))  # a draft could still be saved: all stay
    assert len(_logos(app)) == 3
    app.purge(datetime.now(UTC) + app.settings.conversation_timeout + timedelta(days=2))
    kept = {row.id for row in _logos(app)}  # only those a version uses
    with app.db.session() as s:
        version = s.exec(select(PressVersion)).one()
        assert kept == {version.logo_file_id, version.images[0]["id"]}


def test_the_fake_slack_serves_a_shared_file_only_to_the_bot_token_with_files_read() -> None:
    import urllib.request

    from tests.fakes.slack_api import FakeSlack

    fake = FakeSlack().start()
    try:
        file = fake.add_file("logo.png", _png(), "image/png")

        def get(url: str, token: str | None) -> tuple[str, bytes]:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            request = urllib.request.Request(url, headers=headers)
            with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
                return answer.headers["Content-Type"], answer.read()

        for url in (file["url_private_download"], file["url_private"]):
            assert get(url, "xoxb-test") == ("image/png", _png())
            assert get(url, None)[0].startswith("text/html")  # the sign-in page, not the file
            assert get(url, "xoxb-other")[0].startswith("text/html")
        fake.state.bad_tokens.add("xoxb-test")  # revoked
        assert get(file["url_private_download"], "xoxb-test")[0].startswith("text/html")
    finally:
        fake.stop()


def test_high_resolution_images_uploaded_beside_links_are_placed_in_the_export_in_english(
        db_url, tmp_path, clock, monkeypatch):  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    photo, notes = tmp_path / "launch-photo.jpg", tmp_path / "notes.txt"
    photo.write_bytes(_jpeg())
    notes.write_text("not a picture")
    app, _ = build_app(db_url, tmp_path)
    say = Console(app)
    say("/lang en")
    for line in ("/press new", "Liaison X1 goes on sale today", "Three years of work.",
                 "Battery lasts all day", "done", "Wang Min +86 138 0013 8000",
                 "https://example.com/logo.png"):
        asked = say(line)
    assert "High-resolution images: send the image files (PNG or JPEG" in asked
    assert "Noted “launch-photo.jpg” (uploaded, 1 KB) (1 so far)" in say(f"file:{photo}")
    assert "“notes.txt” is not a PNG or JPEG image" in say(f"file:{notes}")
    assert "(2 so far)" in say("https://example.com/x1-hd.jpg")
    say("done")
    say("skip")
    summary = say("skip")
    assert "  - launch-photo.jpg (uploaded, 1 KB)\n  - https://example.com/x1-hd.jpg" in summary
    say("confirm")
    say(f"/press export {REF}")
    doc = Document(str(tmp_path / "exports" / f"{REF}-v1.docx"))
    assert len(doc.inline_shapes) == 1  # the uploaded image (the logo is a link here)
    (jpeg,) = [p for p in doc.part.related_parts.values() if p.partname.endswith(".jpeg")
               or p.partname.endswith(".jpg")]
    assert jpeg.blob == photo.read_bytes()
    texts = [p.text for p in doc.paragraphs]
    assert texts[texts.index("launch-photo.jpg") + 1] == "https://example.com/x1-hd.jpg"
    markdown = (tmp_path / "exports" / f"{REF}-v1.md").read_text(encoding="utf-8")
    assert "- launch\\-photo\\.jpg\n- <https://example.com/x1-hd.jpg>" in markdown

    edited = say(f"/press edit {REF} images https://example.com/other.jpg")
    assert "launch-photo.jpg; https://example.com/x1-hd.jpg → https://example.com/other.jpg" \
        in edited
    say(f"/press export {REF}")
    assert len(Document(str(tmp_path / "exports" / f"{REF}-v2.docx")).inline_shapes) == 0


class _Catcher:
    """A web server on loopback that records what it is asked and, when told, redirects."""

    def __init__(self, redirect_to: str | None = None) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        seen = self.seen = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                seen.append(dict(self.headers))
                if redirect_to:
                    self.send_response(302)
                    self.send_header("Location", redirect_to)
                else:
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png")
                self.end_headers()

            def log_message(self, *args: Any) -> None:  # noqa: ANN401
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_bot_token_goes_to_slacks_file_host_only_never_elsewhere_or_through_a_redirect(
        slack: Any, clock) -> None:  # noqa: ANN001, ANN401
    """Slack's files are on its own host ("Working with files"); a file address that names any
    other host, or a Slack address that redirects elsewhere, is not followed with the token."""
    elsewhere = _Catcher()
    try:
        _slack_draft_to_logo(slack.app, ALICE, ALICE_DM, en=True)
        file = slack.fake.add_file("logo.png", _png(), "image/png")
        # `localhost` is not the host of the API URL the adapter was given (127.0.0.1).
        _share(slack, ALICE, ALICE_DM, {**file, "url_private_download":
                                        f"http://localhost:{elsewhere.port}/logo.png",
                                        "url_private": f"http://localhost:{elsewhere.port}/x"})
        assert "I could not read “logo.png”, so nothing was kept" in _posted(
            slack, ALICE_DM, "could not read")
        assert elsewhere.seen == []
        bounce = _Catcher(redirect_to=f"http://localhost:{elsewhere.port}/logo.png")
        try:
            # the same host as the API, redirecting to another one
            _share(slack, ALICE, ALICE_DM, {**file, "url_private_download":
                                            f"http://127.0.0.1:{bounce.port}/logo.png"})
            slack.fake.wait_for("chat.postMessage", 2, where=lambda c: "could not read" in
                                message_text(c.params))
            assert bounce.seen[0].get("Authorization") == "Bearer xoxb-test"
            assert elsewhere.seen == []  # the redirect was not followed
        finally:
            bounce.stop()
    finally:
        elsewhere.stop()
    with slack.app.db.session() as s:
        assert not s.exec(select(PressUpload)).all()
