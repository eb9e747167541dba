"""DingTalk end to end: the unmodified dingtalk-stream SDK against a fake DingTalk (Stream
gateway and OpenAPI on 127.0.0.1), driving the real core over a real database."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.adapters.dingtalk import DingTalkAdapter
from bot.core import Liaison
from bot.messages import Address, Outbound, Rendered, Reply
from schedules import api
from schedules.api import Target
from schedules.models import Reminder, Status
from schedules.worker import Sweeper
from tests.fakes.dingtalk_server import FakeDingTalk, shared
from tests.support import Chat, RecordingAdapter, build_app

GROUP = "cid-complaints-group=="
BATCH = "/v1.0/robot/oToMessages/batchSend"
GROUP_SEND = "/v1.0/robot/groupMessages/send"
WEBHOOK = "/robot/sendBySession"
TAP = "dtmd://dingtalkclient/sendMessage?content="  # a tap sends this as the person's message


@pytest.fixture
def fake() -> FakeDingTalk:
    fake = shared()  # one per process: the SDK reads its endpoint once, at import
    fake.reset()
    fake.groups.add(GROUP)
    return fake


def make(db_url: str, tmp_path: Path, fake: FakeDingTalk, **overrides: Any):  # noqa: ANN201
    values: dict[str, Any] = {
        "admins": "dingtalk:manager",
        "dingtalk_client_id": fake.client_id,
        "dingtalk_client_secret": fake.client_secret,
        "dingtalk_openapi_endpoint": fake.endpoint,
    }
    values.update(overrides)
    app, saved = build_app(db_url, tmp_path, **values)
    adapter = DingTalkAdapter(app, app.settings, backoff_base=0.05, backoff_cap=0.2)
    return app, adapter, saved


@contextmanager
def running(adapter: DingTalkAdapter, fake: FakeDingTalk) -> Iterator[None]:
    thread = threading.Thread(target=adapter.run, name="test-dingtalk")
    thread.start()
    try:
        fake.wait_for(lambda: fake.sockets)
        yield
    finally:
        adapter.stop()
        thread.join(timeout=15)
        assert not thread.is_alive(), "the adapter did not stop"


class Talk:
    """One person talking to the robot: say() waits until the message is handled and returns
    the texts of the replies that came through the session webhook."""

    def __init__(self, fake: FakeDingTalk, adapter: DingTalkAdapter, user: str, nick: str,
                 group: str | None = None) -> None:
        self.fake, self.adapter = fake, adapter
        self.user, self.nick, self.group = user, nick, group

    def say(self, text: str, **kw: Any) -> str:
        before = len(self.fake.webhook_texts())
        done = self.adapter.processed
        self.fake.send_robot_message(text, user=self.user, nick=self.nick, group=self.group, **kw)
        self.fake.wait_for(lambda: self.adapter.processed > done)
        return "\n".join(self.fake.webhook_texts()[before:])


def test_the_connection_is_opened_with_the_client_id_and_secret(db_url, tmp_path, fake,
                                                                caplog) -> None:
    app, adapter, _ = make(db_url, tmp_path, fake)
    with running(adapter, fake):
        opened = fake.opened[0]
        assert opened["clientId"] == fake.client_id
        assert opened["clientSecret"] == fake.client_secret
        assert {"type": "CALLBACK", "topic": "/v1.0/im/bot/messages/get"} in opened["subscriptions"]
        assert len(fake.connected_tickets) == 1  # the WebSocket presented the issued ticket
        frame = fake.push_system("ping", {"opaque": "abc"})
        ack = fake.wait_for(lambda: fake.ack_for(frame))
        assert json.loads(ack["data"]) == {"opaque": "abc"}  # DingTalk's keep-alive, answered
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


def visit_intake(zhang: Talk) -> None:
    """The test flow (/visit new, 拜访 新建) in Chinese, answered as a person would."""
    assert "拜访谁" in zhang.say("拜访 新建")
    kind = zhang.say("华为 <font color=red>总部</font>")
    assert "对方是哪一类" in kind and f"1. [媒体]({TAP}1)  \n2. [客户]({TAP}2)" in kind
    assert "重要程度" in zhang.say("2")
    assert "谁负责" in zhang.say("跳过")
    assert "什么时候" in zhang.say("我")
    assert "话题" in zhang.say("明天下午3点")
    zhang.say("价格")
    summary = zhang.say("完成")
    assert "请确认" in summary and f"1. [确认]({TAP}1)  \n2. [取消]({TAP}2)" in summary
    assert "已保存拜访" in zhang.say("1")


def test_a_visit_intake_in_chinese_reaches_the_complaints_group(db_url, tmp_path, fake) -> None:
    app, adapter, saved = make(db_url, tmp_path, fake)
    with running(adapter, fake):
        manager = Talk(fake, adapter, "manager", "王经理", group=GROUP)
        assert "投诉频道" in manager.say(" 路由 complaints here")
        visit_intake(Talk(fake, adapter, "zhang", "张三"))

    assert saved[0]["who"] == "华为 <font color=red>总部</font>"
    assert saved[0]["kind"] == "customer" and saved[0]["owner"]["user_id"] == "zhang"
    (card,) = fake.calls_to(GROUP_SEND)
    assert card.headers["x-acs-dingtalk-access-token"] == fake.tokens[-1]
    assert card.body["openConversationId"] == GROUP
    assert card.body["robotCode"] == fake.client_id and card.body["msgKey"] == "sampleMarkdown"
    assert isinstance(card.body["msgParam"], str)
    param = json.loads(card.body["msgParam"])
    # The customer's markup arrives escaped: shown as typed, never as DingTalk's coloured text.
    assert "新拜访" in param["text"] and "<font" not in param["text"]
    assert "&lt;font color=red&gt;" in param["text"]
    assert len(fake.tokens) == 1  # the token is cached


def test_a_complaint_intake_in_chinese_reaches_the_complaints_group(db_url, tmp_path,
                                                                    fake) -> None:
    app, adapter, _ = make(db_url, tmp_path, fake)
    with running(adapter, fake):
        assert "投诉频道" in Talk(fake, adapter, "manager", "王经理", group=GROUP).say(
            " 路由 complaints here")
        zhang = Talk(fake, adapter, "zhang", "张三")
        assert "哪位客户" in zhang.say("投诉 新建")
        assert "联系方式" in zhang.say("华为技术有限公司")
        channel = zhang.say("跳过")
        assert "什么渠道" in channel and f"1. [电话]({TAP}1)" in channel
        assert "概括" in zhang.say("1")
        assert "详情" in zhang.say("物流延误三天")
        severity = zhang.say("设备比约定晚三天到货,\n客户要求赔偿运费。")
        assert "严重程度" in severity and "1. " in severity
        assert "什么时候收到的" in zhang.say("3")
        assert "谁负责跟进" in zhang.say("跳过")
        confirm = zhang.say("我")
        assert "请确认这条投诉" in confirm and f"1. [确认]({TAP}1)  \n2. [取消]({TAP}2)" in confirm
        assert "已登记投诉" in zhang.say("1")

    (card,) = fake.calls_to(GROUP_SEND)
    assert card.headers["x-acs-dingtalk-access-token"] == fake.tokens[-1]
    assert card.body["openConversationId"] == GROUP and card.body["msgKey"] == "sampleMarkdown"
    assert isinstance(card.body["msgParam"], str)
    param = json.loads(card.body["msgParam"])
    assert param["title"].startswith("新投诉")
    assert "华为技术有限公司" in param["text"] and "物流延误三天" in param["text"]


NEW_FLOWS = [("complaint", "投诉 新建"), ("meeting", "会议 新建"), ("comm", "沟通 新建"),
             ("tp", "口径 新建"), ("visit", "拜访 新建")]


def test_every_domain_flow_starts_in_dingtalk_in_chinese(db_url, tmp_path, fake) -> None:
    app, adapter, _ = make(db_url, tmp_path, fake)
    present = [(f, cmd) for f, cmd in NEW_FLOWS if f in app.registry.families]
    with running(adapter, fake):
        zhang = Talk(fake, adapter, "zhang", "张三")
        for _family, command in present:
            started = zhang.say(command)
            assert "一步一步" in started and "出了问题" not in started, (command, started)
            assert "已取消" in zhang.say("取消"), command  # every flow can be left
        help_text = Talk(fake, adapter, "zhang", "张三").say("帮助")
    for family, _ in present:
        label = app.renderer.label("zh", app.registry.families[family].label_key)
        assert label in help_text, family


def test_a_card_for_a_slack_channel_goes_to_the_slack_adapter(db_url, tmp_path, fake) -> None:
    app, adapter, _ = make(db_url, tmp_path, fake, admins="slack:UADMIN")
    slack = RecordingAdapter("slack")
    adapter.peers = {"slack": slack, "dingtalk": adapter}
    Chat(app, "UADMIN", platform="slack", channel="C0COMPLAINTS", direct=False)(
        "/route complaints here")
    with running(adapter, fake):
        visit_intake(Talk(fake, adapter, "zhang", "张三"))
    (card,) = slack.sent
    assert card.address.channel == "C0COMPLAINTS" and "新拜访" in card.message.text
    assert fake.calls_to(GROUP_SEND) == []


def test_the_same_msg_id_delivered_twice_is_handled_once(db_url, tmp_path, fake) -> None:
    app, adapter, _ = make(db_url, tmp_path, fake)
    with running(adapter, fake):
        data = fake.robot_message("/whoami", user="li", nick="李四")
        first = fake.push_callback(data)
        second = fake.push_callback(data)  # DingTalk redelivers with a new frame id
        fake.wait_for(lambda: fake.ack_for(first) and fake.ack_for(second))
        fake.wait_for(lambda: adapter.processed >= 1)
        later = Talk(fake, adapter, "li", "李四").say("/whoami")  # a later message is answered
        assert "李四" in later
    assert len(fake.calls_to(WEBHOOK)) == 2
    assert fake.ack_for(first)["code"] == 200 and fake.ack_for(second)["code"] == 200


def test_a_failing_handler_still_acknowledges_and_apologises(db_url, tmp_path, fake,
                                                              monkeypatch) -> None:
    app, adapter, _ = make(db_url, tmp_path, fake)

    def broken(inbound):  # noqa: ANN001, ANN202
        raise RuntimeError("bug")

    monkeypatch.setattr(app, "handle", broken)
    with running(adapter, fake):
        frame = fake.push_callback(fake.robot_message("/help", user="li"))
        assert fake.wait_for(lambda: fake.ack_for(frame))["code"] == 200
        fake.wait_for(lambda: adapter.processed >= 1)
    (reply,) = fake.webhook_texts()
    assert "出了点问题" in reply or "抱歉" in reply


def test_acks_come_at_once_and_one_persons_messages_stay_in_order(db_url, tmp_path, fake,
                                                                   monkeypatch) -> None:
    app, adapter, _ = make(db_url, tmp_path, fake)
    real_handle, gate, order = app.handle, threading.Event(), []

    def slow(inbound):  # noqa: ANN001, ANN202
        order.append((inbound.user, inbound.text))
        if inbound.text == "first":
            assert gate.wait(10)  # a slow database, or a slow flow
        return real_handle(inbound)

    monkeypatch.setattr(app, "handle", slow)
    with running(adapter, fake):
        first = fake.push_callback(fake.robot_message("first", user="zhang"))
        second = fake.push_callback(fake.robot_message("second", user="zhang"))
        other = fake.push_callback(fake.robot_message("/whoami", user="li", nick="李四"))
        fake.wait_for(lambda: all(fake.ack_for(f) for f in (first, second, other)))
        fake.wait_for(lambda: adapter.processed == 1)  # li was answered meanwhile
        assert sorted(order) == [("li", "/whoami"), ("zhang", "first")]  # not "second" yet
        gate.set()
        fake.wait_for(lambda: adapter.processed == 3)
    assert order[-1] == ("zhang", "second")


def _plan_for(app: Liaison, users: list[str]) -> None:
    @app.registry.reminder_kind("test.ping")
    def render(session, reminder, now):  # noqa: ANN001, ANN202
        return Reply("test/saved", {"answers": {"who": "华为"}})

    due = datetime.now(UTC) - timedelta(seconds=1)
    with app.db.session() as session:
        for user in users:
            api.plan(session, key=f"ping:{user}", kind="test.ping", due=due,
                     target=Target.member("dingtalk", user))


def test_a_reminder_to_two_users_goes_through_batch_send(db_url, tmp_path, fake) -> None:
    app, adapter, _ = make(db_url, tmp_path, fake)
    _plan_for(app, ["zhang", "li"])
    result = Sweeper(app, {"dingtalk": adapter}).sweep()
    assert result.delivered == 2
    # The sweeper sends one Outbound at a time: one batchSend call per person.
    calls = fake.calls_to(BATCH)
    assert sorted(u for c in calls for u in c.body["userIds"]) == ["li", "zhang"]
    for call in calls:
        assert call.headers["x-acs-dingtalk-access-token"] == "token-1"
        assert "已保存拜访 华为" in json.loads(call.body["msgParam"])["text"]
    # send_many coalesces the same message to several people into one call.
    message = result.sent[0].message
    outs = [Outbound(Address("dingtalk", user=u), message) for u in ("zhang", "li", "wang")]
    assert adapter.send_many(outs) == [None, None, None]
    assert fake.calls_to(BATCH)[-1].body["userIds"] == ["zhang", "li", "wang"]


def test_throttling_defers_the_reminder_and_loses_nothing(db_url, tmp_path, fake) -> None:
    app, adapter, _ = make(db_url, tmp_path, fake)
    _plan_for(app, ["zhang", "li"])
    fake.batch_trouble = ["429", "flow"]
    result = Sweeper(app, {"dingtalk": adapter}).sweep()
    assert result.retried == 2 and result.delivered == 0
    with app.db.session() as session:
        rows = session.exec(select(Reminder)).all()
        assert {r.status for r in rows} == {Status.PENDING}
        assert all(r.due_at > datetime.now(UTC) + timedelta(seconds=5) for r in rows)
        reasons = sorted(r.last_error for r in rows)
    assert reasons == ["dingtalk:429:Throttling.Api", "dingtalk_flow_controlled"]
    later = datetime.now(UTC) + timedelta(hours=2)
    assert Sweeper(app, {"dingtalk": adapter}).sweep(now=later).delivered == 2


def test_permanent_and_temporary_errors_are_told_apart(db_url, tmp_path, fake) -> None:
    from bot.errors import DeliveryError

    app, adapter, _ = make(db_url, tmp_path, fake)
    message = Rendered(title="", body="hi")
    with pytest.raises(DeliveryError) as gone:
        adapter.send(Outbound(Address("dingtalk", channel="cid-not-a-member"), message))
    assert not gone.value.temporary
    fake.batch_trouble = ["429"]
    with pytest.raises(DeliveryError) as busy:
        adapter.send(Outbound(Address("dingtalk", user="zhang"), message))
    assert busy.value.temporary and busy.value.retry_after == 7
    fake.tokens.clear()  # DingTalk forgot our token: one new token, one more try
    adapter.send(Outbound(Address("dingtalk", channel=GROUP), message))
    assert fake.tokens == ["token-1"]


def test_a_disconnect_frame_is_followed_by_a_reconnect(db_url, tmp_path, fake) -> None:
    app, adapter, _ = make(db_url, tmp_path, fake)
    with running(adapter, fake):
        frame = fake.push_system("disconnect", {"reason": "server restart"})
        fake.wait_for(lambda: len(fake.connected_tickets) == 2 and fake.sockets)
        assert fake.ack_for(frame) is not None
        assert len(fake.opened) == 2  # a fresh ticket for the new connection
        assert "李四" in Talk(fake, adapter, "li", "李四").say("/whoami")


def test_a_silent_connection_is_dropped_and_reopened(db_url, tmp_path, fake) -> None:
    app, adapter, _ = make(db_url, tmp_path, fake, dingtalk_idle=timedelta(seconds=0.3))
    with running(adapter, fake):
        fake.wait_for(lambda: len(fake.connected_tickets) >= 3)


def test_failed_connection_attempts_are_retried_with_growing_pauses(db_url, tmp_path,
                                                                   fake) -> None:
    app, adapter, _ = make(db_url, tmp_path, fake)
    fake.open_failures = 3
    with running(adapter, fake):
        assert len(fake.calls_to("/v1.0/gateway/connections/open")) == 4
        assert "李四" in Talk(fake, adapter, "li", "李四").say("/whoami")
    ceilings = [max(adapter.backoff(n) for _ in range(200)) for n in range(0, 12)]
    assert ceilings[0] <= 0.05 < ceilings[2] <= 0.2 and ceilings[-1] <= 0.2  # capped
    assert all(adapter.backoff(3) >= 0.5 * 0.2 for _ in range(50))  # jitter keeps half


def test_an_expired_session_webhook_falls_back_to_the_openapi(db_url, tmp_path, fake) -> None:
    app, adapter, _ = make(db_url, tmp_path, fake)
    with running(adapter, fake):
        # Known to be expired: straight to the OpenAPI, a 1:1 chat through batchSend.
        Talk(fake, adapter, "zhang", "张三").say("/whoami", webhook_ttl=-1)
        assert fake.calls_to(WEBHOOK) == []
        (dm,) = fake.calls_to(BATCH)
        assert dm.body["userIds"] == ["zhang"] and "张三" in json.loads(dm.body["msgParam"])["text"]
        # Refused by DingTalk although not yet due: a group answer through groupMessages/send.
        data = fake.robot_message("/route complaints here", user="manager", group=GROUP)
        fake.expire_webhook(data)
        done = adapter.processed
        fake.push_callback(data)
        fake.wait_for(lambda: adapter.processed > done)
        (group,) = fake.calls_to(GROUP_SEND)
        assert group.body["openConversationId"] == GROUP
        assert len(fake.calls_to(WEBHOOK)) == 1  # tried once, then the OpenAPI


def test_private_answers_in_a_group_go_to_a_direct_message(db_url, tmp_path, fake) -> None:
    app, adapter, _ = make(db_url, tmp_path, fake)
    with running(adapter, fake):
        # /route is for admins: the refusal is for the asker only, so it is not posted in the
        # group but sent to them.
        Talk(fake, adapter, "zhang", "张三", group=GROUP).say("/route complaints here")
    assert fake.calls_to(WEBHOOK) == []
    (dm,) = fake.calls_to(BATCH)
    assert dm.body["userIds"] == ["zhang"]


def test_stop_does_not_wait_for_a_gateway_that_does_not_answer(db_url, tmp_path, fake) -> None:
    app, adapter, _ = make(db_url, tmp_path, fake)
    fake.open_gate = gate = threading.Event()
    thread = threading.Thread(target=adapter.run)
    thread.start()
    try:
        fake.wait_for(lambda: fake.calls_to("/v1.0/gateway/connections/open#held"))
        adapter.stop()
        thread.join(timeout=10)  # the held request would take 30 s
        assert not thread.is_alive()
    finally:
        gate.set()
        adapter.stop()
        thread.join(timeout=10)


def test_stop_ends_run_cleanly_while_connected(db_url, tmp_path, fake) -> None:
    app, adapter, _ = make(db_url, tmp_path, fake)
    with running(adapter, fake):
        pass  # running() asserts the thread ends after stop()
    fake.wait_for(lambda: not fake.sockets)


def test_commands_in_a_group_are_named_with_the_robot_mention(db_url, tmp_path, fake) -> None:
    # The robot only receives group messages that @mention it, so a group reply names commands
    # as `@Liaison /command`; in a one-to-one chat plain `/command` works.
    app, adapter, _ = make(db_url, tmp_path, fake)
    with running(adapter, fake):
        in_group = Talk(fake, adapter, "zhang", "张三", group=GROUP).say("随便说说")
        assert "@Liaison /help" in in_group
        direct = Talk(fake, adapter, "li", "李四").say("随便说说")
        assert "/help" in direct and "@Liaison" not in direct
