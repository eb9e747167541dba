"""The DingTalk adapter's translations, one at a time: robot message -> Inbound, rendered
message -> DingTalk markdown, and the access token's lifetime."""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bot.adapters.dingtalk import load_sdk, markdown, shape, to_inbound
from bot.adapters.dingtalk_openapi import OpenApi, WebhookRefused
from bot.messages import Rendered, RenderedChoice
from tests.fakes.dingtalk_server import ROBOT_ID, FakeDingTalk, shared


@pytest.fixture
def fake() -> FakeDingTalk:
    fake = shared()
    fake.reset()
    return fake


def parse(fake: FakeDingTalk, data: dict[str, Any]) -> Any:
    return load_sdk(fake.endpoint).ChatbotMessage.from_dict(data)


def message(fake: FakeDingTalk, text: str, **kw: Any) -> Any:
    return parse(fake, fake.robot_message(text, **kw))


def test_a_direct_message_is_a_dm_channel_named_after_the_person(fake) -> None:
    inbound = to_inbound(message(fake, "投诉 新建", user="zhang", nick="张三", msg_id="m1"))
    assert inbound is not None
    assert (inbound.platform, inbound.channel, inbound.user) == ("dingtalk", "dm:zhang", "zhang")
    assert inbound.direct and inbound.user_name == "张三" and inbound.event_id == "m1"
    assert inbound.text == "投诉 新建"


def test_a_group_mention_loses_the_leading_space_and_the_robot(fake) -> None:
    group = "cid-group"
    plain = to_inbound(message(fake, " /route complaints here", user="u1", group=group))
    assert plain.channel == group and not plain.direct
    assert plain.text == "/route complaints here"
    # Some clients leave the @robot in the text: it is the one @word too many.
    named = to_inbound(message(fake, "@Liaison\u2005投诉 新建", user="u1", group=group))
    assert named.text == "投诉 新建"
    # A person mentioned as the answer stays, and is known as a mention.
    someone = [{"dingtalkId": "$:LWCP_v1:$li", "staffId": "li"}]
    answer = to_inbound(message(fake, " @李四\u2005", user="u1", group=group, at_users=someone))
    assert answer.text == "@李四" and answer.mentions == ("li",)
    assert ROBOT_ID not in answer.mentions


def test_a_voice_message_is_read_as_its_transcription(fake) -> None:
    data = fake.robot_message("", user="u1", msgtype="audio")
    data["content"] = {"recognition": "投诉 列表", "duration": 3}
    inbound = to_inbound(parse(fake, data))
    assert inbound.text == "投诉 列表"


def test_a_picture_becomes_an_empty_message(fake) -> None:
    data = fake.robot_message("", user="u1", msgtype="picture")
    data["content"] = {"downloadCode": "abc"}
    assert to_inbound(parse(fake, data)).text == ""


def test_markdown_has_a_heading_hard_line_breaks_and_numbered_choices() -> None:
    rendered = Rendered(
        title="请确认", body="客户:华为\n严重程度:高\n\n下一段",
        choices=(RenderedChoice("yes", "确认"), RenderedChoice("cancel", "取消")),
    )
    title, text = markdown(rendered)
    assert title == "请确认"
    assert text == "#### 请确认\n\n客户:华为  \n严重程度:高\n\n下一段\n\n1. 确认  \n2. 取消"


def test_the_notification_title_is_plain_text() -> None:
    title, _ = markdown(Rendered(title="", body="**新投诉** A_B (x) A&B\n第二行"))
    assert title == "新投诉 A_B (x) A&B"


def test_the_access_token_is_cached_and_renewed_before_it_expires(fake) -> None:
    now = [1_000_000.0]
    api = OpenApi(fake.endpoint, fake.client_id, fake.client_secret, fake.client_id,
                  clock=lambda: now[0])
    assert api.token() == "token-1"
    now[0] += 7200 - 301  # more than five minutes left: the same token
    assert api.token() == "token-1"
    now[0] += 2  # under five minutes left: renewed before DingTalk expires it
    assert api.token() == "token-2"
    assert len(fake.calls_to("/v1.0/oauth2/accessToken")) == 2


def test_a_choice_that_is_a_command_shows_the_command() -> None:
    take = RenderedChoice("/complaint assign C-2026-0001 me", "我来处理")
    _, text = markdown(Rendered(title="新投诉", body="华为", choices=(take,)))
    assert text.endswith("1. 我来处理 — /complaint assign C-2026-0001 me")


def test_in_a_direct_chat_a_choice_is_a_link_that_sends_the_answer() -> None:
    choices = (RenderedChoice("yes", "确认"), RenderedChoice("/remind snooze 7 1h", "1小时后"))
    _, text = markdown(Rendered(title="", body="?", choices=choices), tappable=True)
    tap = "dtmd://dingtalkclient/sendMessage?content="
    assert f"1. [确认]({tap}1)" in text
    assert f"2. [1小时后]({tap}%2Fremind%20snooze%207%201h)" in text
    # In a conversation the link also names the question it answers; a command stays as is.
    rendered = Rendered(title="", body="?", choices=choices, step="q1a2b3c")
    _, text = markdown(rendered, tappable=True)
    assert f"1. [确认]({tap}1%20%23q1a2b3c)" in text
    assert f"2. [1小时后]({tap}%2Fremind%20snooze%207%201h)" in text


def test_a_refused_secret_defers_rather_than_drops(fake) -> None:
    from bot.errors import DeliveryError

    api = OpenApi(fake.endpoint, fake.client_id, "wrong", fake.client_id)
    with pytest.raises(DeliveryError) as refused:
        api.send_users(["zhang"], "sampleMarkdown", '{"title": "t", "text": "x"}')
    assert refused.value.temporary and "invalidClientIdOrSecret" in refused.value.reason
    assert fake.calls_to("/v1.0/robot/oToMessages/batchSend") == []


def test_in_a_direct_chat_up_to_five_short_choices_are_action_card_buttons(fake) -> None:
    choices = (RenderedChoice("yes", "确认"), RenderedChoice("cancel", "取消"))
    card = shape(Rendered(title="请确认", body="客户:华为", choices=choices, step="q1a2b3c"),
                 tappable=True)
    tap = "dtmd://dingtalkclient/sendMessage?content="
    assert card.buttons == (("确认", f"{tap}1%20%23q1a2b3c"), ("取消", f"{tap}2%20%23q1a2b3c"))
    assert card.webhook() == {"msgtype": "actionCard", "actionCard": {
        "title": "请确认", "text": "#### 请确认\n\n客户:华为",
        "btns": [{"title": "确认", "actionURL": f"{tap}1%20%23q1a2b3c"},
                 {"title": "取消", "actionURL": f"{tap}2%20%23q1a2b3c"}],
        "btnOrientation": "0"}}
    key, param = card.openapi()
    assert key == "sampleActionCard2"
    assert json.loads(param) == {"title": "请确认", "text": "#### 请确认\n\n客户:华为",
                                 "actionTitle1": "确认", "actionURL1": f"{tap}1%20%23q1a2b3c",
                                 "actionTitle2": "取消", "actionURL2": f"{tap}2%20%23q1a2b3c"}
    single = shape(Rendered(title="", body="?", choices=choices[:1]), tappable=True).openapi()
    assert single[0] == "sampleActionCard"
    assert json.loads(single[1])["singleURL"] == f"{tap}1"
    # DingTalk takes both through batchSend.
    api = OpenApi(fake.endpoint, fake.client_id, fake.client_secret, fake.client_id)
    api.send_users(["zhang"], key, param)
    api.send_users(["zhang"], *single)
    assert [c.body["msgKey"] for c in fake.calls_to("/v1.0/robot/oToMessages/batchSend")] == [
        "sampleActionCard2", "sampleActionCard"]


def test_many_or_long_choices_and_any_group_stay_numbered_markdown() -> None:
    six = tuple(RenderedChoice(str(i), f"选项{i}") for i in range(1, 7))
    long = (RenderedChoice("form", "Fill in a form instead, please"),)
    for message, tappable in ((Rendered(title="", body="?", choices=six), True),
                              (Rendered(title="", body="?", choices=long), True),
                              (Rendered(title="", body="?", choices=six[:2]), False)):
        shaped = shape(message, tappable=tappable)
        assert shaped.buttons == ()
        assert shaped.openapi()[0] == "sampleMarkdown"
        assert shaped.webhook()["msgtype"] == "markdown"
        assert "1. " in shaped.text and ("](dtmd://" in shaped.text) == tappable


def test_a_session_webhook_answer_honours_the_proxy_settings_of_the_environment(
        fake, monkeypatch) -> None:
    """Webhook answers skip requests where nothing in the environment applies to the host; a
    proxy that applies still carries them (read once per host, as requests would read it)."""
    data = fake.robot_message("/whoami", user="li", nick="李四")
    payload = {"msgtype": "markdown", "markdown": {"title": "t", "text": "好"},
               "at": {"atUserIds": [], "isAtAll": False}}
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    direct = OpenApi(fake.endpoint, fake.client_id, fake.client_secret, fake.client_id)
    direct.post_webhook(data["sessionWebhook"], payload)
    assert direct._environment(data["sessionWebhook"])["direct"]
    assert fake.webhook_texts() == ["好"]
    # A proxy that answers nothing: the answer goes to it, and is refused (the caller then
    # uses the OpenAPI).
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    proxied = OpenApi(fake.endpoint, fake.client_id, fake.client_secret, fake.client_id)
    with pytest.raises(WebhookRefused, match="unreachable"):
        proxied.post_webhook(data["sessionWebhook"], payload)
    assert fake.webhook_texts() == ["好"]
    monkeypatch.setenv("no_proxy", "127.0.0.1")  # no_proxy covers the host: direct again
    unproxied = OpenApi(fake.endpoint, fake.client_id, fake.client_secret, fake.client_id)
    unproxied.post_webhook(data["sessionWebhook"], payload)
    assert fake.webhook_texts() == ["好", "好"]


def test_a_session_webhook_over_https_is_verified_against_the_environments_ca_bundle(
        fake, tmp_path, monkeypatch) -> None:
    """A webhook answer to an https host checks the host's certificate against the CA bundle
    requests would use (REQUESTS_CA_BUNDLE): trusted there, the answer goes; without it, a
    certificate no public CA signed is refused (the caller then uses the OpenAPI)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    bodies: list[dict[str, Any]] = []

    class Webhook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            data = b'{"errcode":0,"errmsg":"ok"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{server.server_address[1]}/robot/sendBySession?session=s1"
    payload = {"msgtype": "markdown", "markdown": {"title": "t", "text": "好"},
               "at": {"atUserIds": [], "isAtAll": False}}
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    try:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
        OpenApi(fake.endpoint, fake.client_id, fake.client_secret, fake.client_id).post_webhook(
            url, payload)
        assert [b["markdown"]["text"] for b in bodies] == ["好"]
        monkeypatch.delenv("REQUESTS_CA_BUNDLE")
        untrusting = OpenApi(fake.endpoint, fake.client_id, fake.client_secret, fake.client_id)
        with pytest.raises(WebhookRefused, match="unreachable"):
            untrusting.post_webhook(url, payload)
        assert len(bodies) == 1
    finally:
        server.shutdown()
        server.server_close()
