"""DingTalk end to end: the unmodified dingtalk-stream SDK against a fake DingTalk (Stream
gateway and OpenAPI on 127.0.0.1), driving the real core over a real database."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import time_machine
from sqlmodel import select

from bot.adapters.dingtalk import DingTalkAdapter
from bot.core import Liaison
from bot.messages import Address, Outbound, Rendered, Reply
from bot.models import Member, MemberRole
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
_LINK = re.compile(r"\[([^\]]*)\]\(" + re.escape(TAP) + r"([^)]*)\)")


def taps(text: str) -> dict[str, str]:
    """The message links of a reply: label -> what a tap sends."""
    return {label: unquote(content) for label, content in _LINK.findall(text)}


def numbered(text: str, *labels: str) -> bool:
    """The choices are numbered links, each sending its number and the question it answers."""
    found = taps(text)
    return all(re.fullmatch(rf"{i} #q[0-9a-f]{{6}}", found.get(label, ""))
               for i, label in enumerate(labels, 1))


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
    from schedules.scheduler import ReminderScheduler

    thread = threading.Thread(target=adapter.run, name="test-dingtalk")
    thread.start()
    # Answers go out through the outbox, as under `liaison run`: the delivery worker runs.
    outbox = ReminderScheduler(adapter.app, {**adapter.peers, "dingtalk": adapter})
    outbox.start()
    try:
        fake.wait_for(lambda: fake.sockets)
        yield
    finally:
        outbox.stop()
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
        self.fake.wait_for(lambda: outbox_drained(self.adapter.app))
        return "\n".join(self.fake.webhook_texts()[before:])


def outbox_drained(app: Any) -> bool:
    """Nothing queued for delivery is still waiting (the delivery worker has sent it)."""
    from sqlmodel import col

    from schedules.api import OUTBOUND

    with app.db.session() as session:
        waiting = session.exec(select(Reminder.id).where(
            Reminder.kind == OUTBOUND, col(Reminder.status).in_(("pending", "claimed")),
            col(Reminder.due_at) <= datetime.now(UTC))).first()
    return waiting is None


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
    assert "对方是哪一类" in kind and numbered(kind, "媒体", "客户")
    assert "重要程度" in zhang.say("2")
    assert "谁负责" in zhang.say("跳过")
    assert "什么时候" in zhang.say("我")
    assert "话题" in zhang.say("明天下午3点")
    zhang.say("价格")
    summary = zhang.say("完成")
    assert "请确认" in summary and numbered(summary, "确认", "取消")
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
    # The customer's markup is shown as typed, never as DingTalk's coloured text: a zero-width
    # joiner keeps the tag from forming, and no backslash or entity shows.
    assert "新拜访" in param["text"] and "<font" not in param["text"]
    assert "华为 <\u200dfont color=red>总部<\u200d/font>" in param["text"]
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
        assert "什么渠道" in channel and numbered(channel, "电话")
        assert "概括" in zhang.say("1")
        assert "详情" in zhang.say("物流延误三天")
        severity = zhang.say("设备比约定晚三天到货,\n客户要求赔偿运费。")
        assert "严重程度" in severity and numbered(severity, "低", "普通")
        assert "什么时候收到的" in zhang.say("3")
        assert "谁负责跟进" in zhang.say("跳过")
        confirm = zhang.say("我")
        assert "请确认这条投诉" in confirm and numbered(confirm, "确认", "取消")
        assert "已登记投诉" in zhang.say("1")

    # The answer through the session webhook mentions the owner for real: `@userId` in the
    # text and the id in `at.atUserIds`, which DingTalk shows as the name.
    created = fake.calls_to(WEBHOOK)[-1].body
    assert "负责人:@zhang" in created["markdown"]["text"]
    assert created["at"] == {"atUserIds": ["zhang"], "isAtAll": False}
    (card,) = fake.calls_to(GROUP_SEND)
    assert card.headers["x-acs-dingtalk-access-token"] == fake.tokens[-1]
    assert card.body["openConversationId"] == GROUP and card.body["msgKey"] == "sampleMarkdown"
    assert isinstance(card.body["msgParam"], str)
    param = json.loads(card.body["msgParam"])
    assert param["title"].startswith("新投诉")
    assert "华为技术有限公司" in param["text"] and "物流延误三天" in param["text"]
    # The OpenAPI has no `at`: the group card names the owner as DingTalk told us (senderNick).
    assert "负责人:@张三" in param["text"] and "zhang" not in param["text"]


def test_an_old_choice_link_changes_nothing_and_says_so(db_url, tmp_path, fake) -> None:
    app, adapter, _ = make(db_url, tmp_path, fake)
    with running(adapter, fake):
        Talk(fake, adapter, "manager", "王经理", group=GROUP).say(" 路由 complaints here")
        zhang = Talk(fake, adapter, "zhang", "张三")
        zhang.say("投诉 新建")
        zhang.say("华为技术有限公司")
        phone = taps(zhang.say("跳过"))["电话"]  # how did it arrive: 1. 电话 …
        assert "概括" in zhang.say(phone)
        # Tapped again, the link answers nothing: the current question is asked again.
        again = zhang.say(phone)
        assert "这个问题已经回答过了" in again and "概括" in again
        assert "详情" in zhang.say("物流延误三天")
        zhang.say("设备比约定晚三天到货")
        zhang.say("3")
        zhang.say("跳过")
        confirm = taps(zhang.say("我"))["确认"]
        assert "已登记投诉" in zhang.say(confirm)
        # The conversation is over: the same confirm link does not file a second complaint.
        assert "这个问题已经回答过了" in zhang.say(confirm)

        li = Talk(fake, adapter, "li", "李四")
        li.say("/lang en")
        li.say("/complaint new")
        li.say("ACME")
        email = taps(li.say("skip"))["email"]
        assert "Sum it up" in li.say(email)
        again = li.say(email)
        assert "That question was already answered" in again and "Sum it up" in again

    assert len(fake.calls_to(GROUP_SEND)) == 1  # one complaint, one card
    assert fake.sent_params(GROUP_SEND)[0]["text"].count("物流延误三天") == 1


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
        fake.wait_for(lambda: adapter.processed >= 1 and outbox_drained(adapter.app))
        later = Talk(fake, adapter, "li", "李四").say("/whoami")  # a later message is answered
        assert "李四" in later
    assert len(fake.calls_to(WEBHOOK)) == 2
    assert fake.ack_for(first)["code"] == 200 and fake.ack_for(second)["code"] == 200


def test_a_failing_handler_still_acknowledges_and_apologises(db_url, tmp_path, fake,
                                                              monkeypatch) -> None:
    app, adapter, _ = make(db_url, tmp_path, fake)

    def broken(inbound, **kw):  # noqa: ANN001, ANN003, ANN202
        raise RuntimeError("bug")

    monkeypatch.setattr(app, "handle", broken)
    with running(adapter, fake):
        frame = fake.push_callback(fake.robot_message("/help", user="li"))
        assert fake.wait_for(lambda: fake.ack_for(frame))["code"] == 200
        fake.wait_for(lambda: adapter.processed >= 1 and outbox_drained(adapter.app))
    (reply,) = fake.webhook_texts()
    assert "出了点问题" in reply or "抱歉" in reply


def test_acks_come_at_once_and_one_persons_messages_stay_in_order(db_url, tmp_path, fake,
                                                                   monkeypatch) -> None:
    app, adapter, _ = make(db_url, tmp_path, fake)
    real_handle, gate, order = app.handle, threading.Event(), []

    def slow(inbound, **kw):  # noqa: ANN001, ANN003, ANN202
        order.append((inbound.user, inbound.text))
        if inbound.text == "first":
            assert gate.wait(10)  # a slow database, or a slow flow
        return real_handle(inbound, **kw)

    monkeypatch.setattr(app, "handle", slow)
    with running(adapter, fake):
        first = fake.push_callback(fake.robot_message("first", user="zhang"))
        second = fake.push_callback(fake.robot_message("second", user="zhang"))
        other = fake.push_callback(fake.robot_message("/whoami", user="li", nick="李四"))
        fake.wait_for(lambda: all(fake.ack_for(f) for f in (first, second, other)))
        fake.wait_for(lambda: adapter.processed == 1)  # li was answered meanwhile
        assert sorted(order) == [("li", "/whoami"), ("zhang", "first")]  # not "second" yet
        gate.set()
        fake.wait_for(lambda: adapter.processed == 3 and outbox_drained(adapter.app))
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


def _rows(app: Liaison) -> dict[str, Reminder]:
    with app.db.session() as session:
        return {r.key: r for r in session.exec(select(Reminder)).all()}


@pytest.mark.parametrize("code", ["qps.exceed.limit", "request.overlimit",
                                  "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"])
def test_a_throttle_code_defers_the_whole_robot_and_loses_nothing(db_url, tmp_path, fake,
                                                                   code) -> None:
    app, adapter, _ = make(db_url, tmp_path, fake)
    _plan_for(app, ["zhang", "li"])
    fake.refuse = [code]
    result = Sweeper(app, {"dingtalk": adapter}).sweep()
    # The first refusal pauses the robot: the second reminder did not even ask DingTalk, and
    # is released without counting an attempt.
    assert (result.retried, result.released, result.delivered) == (1, 1, 0)
    assert len(fake.calls_to(BATCH)) == 1
    rows = _rows(app)
    assert {r.status for r in rows.values()} == {Status.PENDING}
    assert all(r.due_at > datetime.now(UTC) for r in rows.values())
    status = 403 if code.startswith("Forbidden") else 400
    assert sorted((r.last_error, r.attempts) for r in rows.values()) == sorted(
        [(f"dingtalk:{status}:{code}", 1), ("rate_limited", 0)])
    later = datetime.now(UTC) + timedelta(hours=2)
    with time_machine.travel(later):
        assert Sweeper(app, {"dingtalk": adapter}).sweep(now=later).delivered == 2


def test_people_dingtalk_flow_controls_are_retried_later(db_url, tmp_path, fake) -> None:
    app, adapter, _ = make(db_url, tmp_path, fake)
    _plan_for(app, ["zhang"])
    fake.batch_trouble = ["flow"]
    assert Sweeper(app, {"dingtalk": adapter}).sweep().retried == 1
    assert _rows(app)["ping:zhang"].last_error == "dingtalk_flow_controlled"
    later = datetime.now(UTC) + timedelta(hours=2)
    assert Sweeper(app, {"dingtalk": adapter}).sweep(now=later).delivered == 1


def test_an_invalid_token_is_renewed_and_the_reminder_delivered(db_url, tmp_path, fake) -> None:
    app, adapter, _ = make(db_url, tmp_path, fake)
    adapter.send(Outbound(Address("dingtalk", channel=GROUP), Rendered(title="", body="hi")))
    assert fake.tokens == ["token-1"]
    fake.revoke_tokens()  # DingTalk no longer takes our cached token: 400 InvalidAuthentication
    _plan_for(app, ["zhang"])
    assert Sweeper(app, {"dingtalk": adapter}).sweep().delivered == 1
    assert fake.tokens == ["token-1", "token-2"]
    refused, delivered = fake.calls_to(BATCH)
    assert refused.headers["x-acs-dingtalk-access-token"] == "token-1"
    assert delivered.headers["x-acs-dingtalk-access-token"] == "token-2"
    assert _rows(app)["ping:zhang"].status == Status.SENT


def test_a_person_dingtalk_filters_out_fails_for_good_and_admins_hear(db_url, tmp_path,
                                                                      fake) -> None:
    app, adapter, _ = make(db_url, tmp_path, fake)
    _plan_for(app, ["zhang"])
    fake.batch_trouble = ["filtered"]
    result = Sweeper(app, {"dingtalk": adapter}).sweep()
    assert result.failed == 1
    row = _rows(app)["ping:zhang"]
    assert row.status == Status.FAILED and row.last_error == "dingtalk_filtered_user"
    # The admin (LIAISON_ADMINS=dingtalk:manager) is told, with the reason, in the same sweep.
    assert result.delivered == 1
    notice = fake.calls_to(BATCH)[-1]
    assert notice.body["userIds"] == ["manager"]
    text = json.loads(notice.body["msgParam"])["text"]
    assert "提醒发送失败" in text and "dingtalk_filtered_user" in text


def test_session_webhook_answers_are_not_held_to_the_openapi_pace(db_url, tmp_path,
                                                                  fake) -> None:
    from bot.adapters.dingtalk import load_sdk

    sdk = load_sdk(fake.endpoint)
    app, adapter, _ = make(db_url, tmp_path, fake)

    def thirty_ask(**kw: Any) -> None:
        for i in range(30):
            data = fake.robot_message("/whoami", user=f"u{i}", nick=f"用户{i}", **kw)
            adapter._process(sdk.ChatbotMessage.from_dict(data), None)  # answers queued

    webhooks, batches = len(fake.calls_to(WEBHOOK)), len(fake.calls_to(BATCH))
    thirty_ask()
    # One instant for both sweeps, so that no pace refills between them; a minute ahead, so
    # that every answer queued below is due by then however slowly the steps run.
    now = datetime.now(UTC) + timedelta(minutes=1)
    result = Sweeper(app, {"dingtalk": adapter}).sweep(now=now)
    # A session webhook is no OpenAPI call: thirty people are answered at once.
    assert (result.delivered, result.released) == (30, 0), result
    assert len(fake.calls_to(WEBHOOK)) - webhooks == 30
    # Without a live webhook the answers are OpenAPI calls, 20 at once ("API调用频率限制").
    thirty_ask(webhook_ttl=0)
    result = Sweeper(app, {"dingtalk": adapter}).sweep(now=now)
    assert (result.delivered, result.released) == (20, 10), result
    assert len(fake.calls_to(BATCH)) - batches == 20


def test_permanent_and_temporary_errors_are_told_apart(db_url, tmp_path, fake) -> None:
    from bot.errors import DeliveryError

    app, adapter, _ = make(db_url, tmp_path, fake)
    message = Rendered(title="", body="hi")
    with pytest.raises(DeliveryError) as gone:
        adapter.send(Outbound(Address("dingtalk", channel="cid-not-a-member"), message))
    assert not gone.value.temporary and gone.value.reason == "dingtalk:400:resource.not.found"
    fake.refuse = ["Forbidden.AccessDenied.QpsLimitForApi"]
    with pytest.raises(DeliveryError) as busy:
        adapter.send(Outbound(Address("dingtalk", user="zhang"), message))
    # The pause covers the whole robot (the delivery worker holds back this scope).
    assert busy.value.temporary and busy.value.retry_after == 1.0
    assert busy.value.scopes == (f"dingtalk:robot:{adapter.openapi.robot_code}",)


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
        fake.wait_for(lambda: adapter.processed > done and outbox_drained(adapter.app))
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


def test_two_members_named_alike_are_granted_by_the_id_dingtalk_sends(db_url, tmp_path,
                                                                      fake) -> None:
    app, adapter, _ = make(db_url, tmp_path, fake)
    with running(adapter, fake):
        for staff in ("zw1", "zw2"):
            Talk(fake, adapter, staff, "张伟").say("/whoami")
        manager = Talk(fake, adapter, "manager", "王经理", group=GROUP)
        # The manager picks the second 张伟 from DingTalk's @ list: atUsers carries his id.
        picked = [{"dingtalkId": "$:LWCP_v1:$zw2", "staffId": "zw2"}]
        assert "已授予 张伟 审批人角色" in manager.say(
            "/role grant @张伟\u2005approver", at_users=picked)
        manager.say("/role grant @张伟 agent")  # typed by hand: no id
    (dm,) = fake.calls_to(BATCH)  # the question is for the manager only
    typed = json.loads(dm.body["msgParam"])["text"]
    assert dm.body["userIds"] == ["manager"]
    assert "有 2 位成员都叫 @张伟" in typed and "ID:zw1" in typed and "ID:zw2" in typed
    with app.db.session() as s:
        granted = s.exec(select(Member.user_id, MemberRole.role).join(
            MemberRole, MemberRole.member_id == Member.id)).all()
    assert [tuple(g) for g in granted] == [("zw2", "approver")]


def test_commands_in_a_group_are_named_with_the_robot_mention(db_url, tmp_path, fake) -> None:
    # The robot only receives group messages that @mention it, so a group reply names commands
    # as `@Liaison /command`; in a one-to-one chat plain `/command` works.
    app, adapter, _ = make(db_url, tmp_path, fake)
    with running(adapter, fake):
        in_group = Talk(fake, adapter, "zhang", "张三", group=GROUP).say("随便说说")
        assert "@Liaison /help" in in_group
        direct = Talk(fake, adapter, "li", "李四").say("随便说说")
        assert "/help" in direct and "@Liaison" not in direct
