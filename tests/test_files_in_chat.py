"""Files in chat: a message can carry files, and each platform delivers them its own way.

Slack: the real slack_sdk `files_upload_v2` against the fake Slack, which does the three steps
as Slack documents them (files.getUploadURLExternal, the bytes POSTed to the upload_url,
files.completeUploadExternal) and refuses what Slack refuses. DingTalk: the media upload, then
a robot file message (sampleFile), against the fake DingTalk. Console: the files are written
into a folder and their paths printed. `/press export` is the first user of it."""

from __future__ import annotations

import io
import threading
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from docx import Document
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.adapters.console import ConsoleAdapter
from bot.adapters.slack import SlackAdapter
from bot.core import Liaison
from bot.errors import DeliveryError
from bot.messages import Address, Attachment, Outbound, Rendered
from schedules.scheduler import ReminderScheduler
from tests.fakes.dingtalk_server import FakeDingTalk, shared
from tests.fakes.slack_api import FakeSlack, SignedClient, message_text
from tests.support import Chat, build_app
from tests.test_dingtalk import Talk, make, running
from tests.test_press import REF, _draft_zh

SECRET = "test-signing-secret"
ALICE = "UALICE"
DM = "DUALICE"


def _headings(data: bytes) -> list[str]:
    doc = Document(io.BytesIO(data))
    return [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]


# -- Slack ----------------------------------------------------------------------------------------


@dataclass
class Harness:
    fake: FakeSlack
    adapter: SlackAdapter
    app: Liaison
    slack: SignedClient


@pytest.fixture
def slack(db_url: str, tmp_path) -> Iterator[Harness]:  # noqa: ANN001
    fake = FakeSlack().start()
    fake.add_user(ALICE, "Alice", tz="Asia/Shanghai", locale="zh-CN")
    app, _ = build_app(db_url, tmp_path)
    adapter = SlackAdapter(app, bot_token="xoxb-test", signing_secret=SECRET,
                           api_url=fake.api_url, host="127.0.0.1", port=0)
    port = adapter.listen()
    thread = threading.Thread(target=adapter.run, daemon=True)
    thread.start()
    outbox = ReminderScheduler(app, {"slack": adapter})
    outbox.start()
    yield Harness(fake, adapter, app, SignedClient(f"http://127.0.0.1:{port}", SECRET))
    outbox.stop()
    adapter.stop()
    thread.join(timeout=10)
    fake.stop()
    app.db.dispose()


def test_a_press_export_in_the_slack_dm_arrives_as_two_files(slack: Harness, clock) -> None:
    _draft_zh(Chat(slack.app, "alice"))
    status, _ = slack.slack.command("/press", f"export {REF}", user=ALICE, channel=DM,
                                    channel_name="directmessage")
    assert status == 200
    files = slack.fake.wait_for_files(2)
    assert [(f.channel, f.filename) for f in files] == [
        (DM, f"{REF}-v1.docx"), (DM, f"{REF}-v1.md")]
    assert files[0].title == f"新闻稿 {REF} 第 1 版"
    assert _headings(files[0].data)[:3] == ["背景", "事实", "联系方式"]
    assert "王敏 press@example.com" in [p.text for p in Document(io.BytesIO(files[0].data))
                                       .paragraphs]
    assert files[1].data.decode("utf-8").startswith("![企业 logo]")
    text = "\n".join(message_text(c.params) for c in slack.fake.calls("chat.postMessage"))
    assert "文件随本消息发送" in text
    # The three documented steps, in order, for both files.
    steps = [c.method for c in slack.fake.calls() if c.method.startswith("files.")
             or c.method == "upload"]
    assert steps == ["files.getUploadURLExternal", "files.getUploadURLExternal", "upload",
                     "upload", "files.completeUploadExternal"]


def test_a_file_meant_for_one_person_in_a_channel_goes_to_their_dm(slack: Harness,
                                                                   clock) -> None:
    _draft_zh(Chat(slack.app, "alice"))
    slack.slack.command("/press", f"export {REF}", user=ALICE, channel="CGENERAL",
                        response_url=slack.fake.response_url("export"))
    answer = slack.fake.wait_for("/response/export")[0].params
    assert answer["response_type"] == "ephemeral" and "文件随本消息发送" in message_text(answer)
    files = slack.fake.wait_for_files(2)
    assert {f.channel for f in files} == {DM}  # never shared with the whole channel
    assert slack.fake.shared_files("CGENERAL") == []


def _outbound(channel: str = "CPR", *files: Attachment) -> Outbound:
    return Outbound(Address(platform="slack", channel=channel),
                    Rendered(title="", body="here it is",
                             files=files or (Attachment("a.txt", b"hello", "A"),)))


def test_a_retry_after_a_failed_upload_sends_only_the_files(slack: Harness) -> None:
    slack.fake.fail("files.completeUploadExternal", error="internal_error")
    outbound = _outbound()
    with pytest.raises(DeliveryError) as failed:
        slack.adapter.send(outbound)
    assert failed.value.temporary
    slack.adapter.send(outbound)  # the delivery worker's retry, with the progress it kept
    assert len(slack.fake.calls("chat.postMessage")) == 1
    assert [(f.channel, f.data) for f in slack.fake.shared_files()] == [("CPR", b"hello")]
    # The bot joined the public channel to share the file there (files:write has no .public).
    assert [c.params["channel"] for c in slack.fake.calls("conversations.join")] == ["CPR"]


def test_without_the_files_write_scope_slack_refuses_and_the_delivery_fails_for_good(
        slack: Harness) -> None:
    slack.fake.state.scopes.discard("files:write")
    with pytest.raises(DeliveryError) as failed:
        slack.adapter.send(_outbound())
    assert (failed.value.reason, failed.value.temporary) == ("missing_scope", False)
    refused = slack.fake.calls("files.getUploadURLExternal")[0].response
    assert refused["needed"] == "files:write"
    assert slack.fake.shared_files() == []


def test_the_fake_refuses_what_slack_refuses_in_an_upload(slack: Harness) -> None:
    client = WebClient(token="xoxb-test", base_url=slack.fake.api_url)
    with pytest.raises(SlackApiError) as unknown:
        client.files_completeUploadExternal(files=[{"id": "F99999999"}], channel_id="CPR")
    assert unknown.value.response["error"] == "file_not_found"
    with pytest.raises(SlackApiError) as no_length:
        client.api_call("files.getUploadURLExternal", params={"filename": "a.txt"})
    assert no_length.value.response["error"] == "invalid_arguments"
    issued = client.files_getUploadURLExternal(filename="a.txt", length=10)
    # Fewer bytes than announced: the upload is refused, and the file never completes.
    request = urllib.request.Request(issued["upload_url"], data=b"12345", method="POST")
    with pytest.raises(urllib.error.HTTPError) as short:
        urllib.request.urlopen(request, timeout=5)  # noqa: S310
    assert short.value.code == 400
    with pytest.raises(SlackApiError) as incomplete:
        client.files_completeUploadExternal(files=[{"id": issued["file_id"]}], channel_id="CPR")
    assert incomplete.value.response["error"] == "file_not_found"
    # An upload URL the fake never issued.
    never = urllib.request.Request(f"http://127.0.0.1:{slack.fake.port}/upload/v1/Fnope",
                                   data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as not_issued:
        urllib.request.urlopen(never, timeout=5)  # noqa: S310
    assert not_issued.value.code == 404
    # Files are shared only where the bot is a member.
    with pytest.raises(SlackApiError) as outside:
        client.files_upload_v2(channel="COTHER", content=b"x", filename="a.txt")
    assert outside.value.response["error"] == "not_in_channel"
    # The SDK's whole upload is taken when it is right.
    slack.fake.add_channel("CPR", joined=True)
    client.files_upload_v2(channel="CPR", content=b"0123456789", filename="a.txt", title="A")
    assert [(f.filename, f.data) for f in slack.fake.shared_files("CPR")] == [
        ("a.txt", b"0123456789")]


# -- DingTalk -------------------------------------------------------------------------------------


@pytest.fixture
def dingtalk() -> FakeDingTalk:
    fake = shared()
    fake.reset()
    return fake


def test_a_press_export_in_a_dingtalk_chat_arrives_as_file_messages(
        db_url: str, tmp_path: Any, dingtalk: FakeDingTalk, clock) -> None:  # noqa: ANN001
    app, adapter, _ = make(db_url, tmp_path, dingtalk, dingtalk_oapi_endpoint=dingtalk.endpoint)
    _draft_zh(Chat(app, "alice"))
    zhang = Talk(dingtalk, adapter, "zhang", "张伟")
    with running(adapter, dingtalk):
        answer = zhang.say(f"/press export {REF}")
        assert "文件随本消息发送" in answer
        sent = dingtalk.wait_for(lambda: len(dingtalk.sent_files()) == 2 and
                                 dingtalk.sent_files())
    (who, docx_name, docx), (_, md_name, md_zip) = sent
    assert (who, docx_name) == ("zhang", f"{REF}-v1.docx")
    assert _headings(docx)[:3] == ["背景", "事实", "联系方式"]
    # DingTalk's file message takes no .md: it arrives zipped, whole.
    assert md_name == f"{REF}-v1.md.zip"
    with zipfile.ZipFile(io.BytesIO(md_zip)) as archive:
        assert archive.read(f"{REF}-v1.md").decode("utf-8").startswith("![企业 logo]")
    uploads = dingtalk.calls_to("/media/upload")
    assert [u.body["type"] for u in uploads] == ["file", "file"]


def test_an_export_asked_for_in_a_dingtalk_group_comes_to_the_one_to_one_chat(
        db_url: str, tmp_path: Any, dingtalk: FakeDingTalk, clock) -> None:  # noqa: ANN001
    group = "cid-press-group=="
    dingtalk.groups.add(group)
    app, adapter, _ = make(db_url, tmp_path, dingtalk, dingtalk_oapi_endpoint=dingtalk.endpoint)
    _draft_zh(Chat(app, "alice"))
    zhang = Talk(dingtalk, adapter, "zhang", "张伟", group=group)
    with running(adapter, dingtalk):
        zhang.say(f"/press export {REF}")
        sent = dingtalk.wait_for(lambda: len(dingtalk.sent_files()) == 2 and
                                 dingtalk.sent_files())
    assert [(who, name) for who, name, _ in sent] == [
        ("zhang", f"{REF}-v1.docx"), ("zhang", f"{REF}-v1.md.zip")]
    assert not [c for c in dingtalk.calls_to("/v1.0/robot/groupMessages/send")
                if c.body.get("msgKey") == "sampleFile"]


def test_the_dingtalk_fake_refuses_an_unknown_media_id_and_an_unsupported_file_type(
        dingtalk: FakeDingTalk) -> None:
    from bot.adapters.dingtalk_openapi import OpenApi

    api = OpenApi(dingtalk.endpoint, dingtalk.client_id, dingtalk.client_secret,
                  dingtalk.client_id, oapi_endpoint=dingtalk.endpoint)
    with pytest.raises(DeliveryError) as refused:
        api.upload_media("notes.md", b"# hi", "text/markdown")
    assert refused.value.reason == "dingtalk:media:40005"
    with pytest.raises(DeliveryError) as unknown:
        api.send_users(["zhang"], "sampleFile",
                       '{"mediaId": "@nope", "fileName": "a.docx", "fileType": "docx"}')
    assert unknown.value.reason == "dingtalk:400:invalidParameter"
    dingtalk.revoke_tokens()  # a token DingTalk no longer takes: fetched again, once
    media_id = api.upload_media("a.pdf", b"%PDF-1.4", "application/pdf")
    assert dingtalk.media[media_id] == ("a.pdf", b"%PDF-1.4")


# -- Console --------------------------------------------------------------------------------------


def test_the_console_writes_the_files_into_its_folder_and_prints_their_paths(
        db_url: str, tmp_path: Any, clock) -> None:  # noqa: ANN001
    app, _ = build_app(db_url, tmp_path, console_files_dir=str(tmp_path / "out"))
    _draft_zh(Chat(app, "alice"))
    printed = io.StringIO()
    ConsoleAdapter(app, "alice", out=printed).say(f"/press export {REF}")
    docx = tmp_path / "out" / f"{REF}-v1.docx"
    assert f"📎 {docx}" in printed.getvalue()
    assert _headings(docx.read_bytes())[:3] == ["背景", "事实", "联系方式"]
    bob = ConsoleAdapter(app, "bob", out=io.StringIO())
    bob.say("/lang en")
    bob.out = printed = io.StringIO()
    bob.say(f"/press export {REF}")
    assert (f"{REF} version 1 is exported as a Word document and as Markdown; the files come "
            "with this message") in printed.getvalue()
    assert _headings(docx.read_bytes())[:3] == ["Background", "Facts", "Contact"]
    # A file name never leads outside the folder.
    outbound = Outbound(Address(platform="console", user="alice", in_reply=True),
                        Rendered(title="", body="x",
                                 files=(Attachment("../../evil.txt", b"x"),)))
    ConsoleAdapter(app, "alice", out=printed).send(outbound)
    assert (tmp_path / "out" / "evil.txt").read_bytes() == b"x"
    assert not (tmp_path.parent / "evil.txt").exists()


# -- The company logo in the Word document ---------------------------------------------------------


def _png(width: int = 2, height: int = 1) -> bytes:
    """A small valid PNG, made here (no image library needed)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                                 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_the_company_logo_is_placed_at_the_top_of_the_word_document(
        db_url: str, tmp_path: Any, clock) -> None:  # noqa: ANN001
    logo = tmp_path / "logo.png"
    logo.write_bytes(_png())
    app, _ = build_app(db_url, tmp_path, press={"logo": str(logo)})
    alice = Chat(app, "alice")
    _draft_zh(alice)
    files = alice.say(f"/press export {REF}")[0].message.files
    doc = Document(io.BytesIO(files[0].data))
    assert len(doc.inline_shapes) == 1
    first = doc.paragraphs[0]._p  # the picture is the document's first paragraph
    assert first.xpath(".//pic:pic") and doc.paragraphs[1].text.startswith("企业 logo: ")
    image = doc.part.related_parts[first.xpath(".//a:blip/@r:embed")[0]]
    assert image.blob == logo.read_bytes()
    assert doc.paragraphs[2].text == "新品 X1 今日发布,售价 1999 元"


def test_a_logo_setting_that_is_not_an_image_file_stops_the_start(db_url: str,
                                                                  tmp_path: Any) -> None:
    from bot.errors import ConfigError
    from tests.support import settings

    with pytest.raises(ConfigError, match="LIAISON_PRESS_LOGO.*no such file"):
        settings(db_url, press={"logo": str(tmp_path / "missing.png")})
    (tmp_path / "logo.txt").write_text("not an image")
    with pytest.raises(ConfigError, match="not a PNG, JPEG"):
        settings(db_url, press={"logo": str(tmp_path / "logo.txt")})
