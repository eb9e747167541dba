"""Slack in HTTP mode: the real slack-bolt and slack_sdk against a fake Slack Web API on
127.0.0.1, with signed requests sent over HTTP to the bot's real endpoint."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.adapters.base import Pace
from bot.adapters.slack import SlackAdapter
from bot.core import Liaison
from bot.errors import DeliveryError
from bot.messages import Address, Outbound, Rendered, Reply
from bot.models import Member
from schedules.scheduler import ReminderScheduler
from tests.fakes.slack_api import (
    BOT_ID,
    BOT_USER,
    FakeSlack,
    SignedClient,
    message_text,
    trigger_id,
)
from tests.support import Chat, build_app, head_then_get

SECRET = "test-signing-secret"
ALICE, ADMIN = "UALICE", "UADMIN"
DM = "DUALICE"  # what the fake's conversations.open gives for Alice
COMPLAINTS = "CCOMPLAINTS"


@dataclass
class Harness:
    fake: FakeSlack
    adapter: SlackAdapter
    app: Liaison
    saved: list[dict[str, Any]]
    slack: SignedClient
    base_url: str
    events: int = 0
    outbox: Any = None  # the delivery worker (a ReminderScheduler)

    def dm(self, text: str, user: str = ALICE, **extra: Any) -> tuple[int, str]:
        return self.message(text, channel="D" + user, user=user, channel_type="im", **extra)

    def message(self, text: str, *, channel: str, user: str = ALICE,
                channel_type: str = "channel", **extra: Any) -> tuple[int, str] | None:
        """What Slack sends when someone posts `text`; None when it sends nothing (a channel
        the bot is not in)."""
        if not self.fake.delivers(channel):
            return None
        self.fake.note_message(channel, extra.get("thread_ts"))
        self.events += 1
        event = {"type": "message", "channel": channel, "user": user, "text": text,
                 "ts": f"1800000000.{self.events:06d}", "channel_type": channel_type, **extra}
        return self.slack.event(event, event_id=f"Ev{self.events:04d}")

    def press(self, call_params: dict[str, Any], value: str, *, user: str = ALICE,
              response_url: str = "") -> tuple[int, str]:
        """Press the button with `value` on the message a chat.postMessage call sent."""
        button = next(e for b in call_params.get("blocks", []) if b["type"] == "actions"
                      for e in b["elements"] if e.get("value") == value)
        channel = call_params["channel"]
        message = {"type": "message", "ts": "1700000099.000001", "text": call_params["text"],
                   "blocks": call_params["blocks"]}
        if call_params.get("thread_ts"):
            message["thread_ts"] = call_params["thread_ts"]
        return self.slack.interaction({
            "type": "block_actions", "user": {"id": user, "name": user.lower()},
            "channel": {"id": channel, "name": "x"}, "trigger_id": trigger_id(),
            "container": {"type": "message", "channel_id": channel, "message_ts": message["ts"]},
            "message": message, "response_url": response_url,
            "actions": [{**button, "type": "button", "block_id": "b", "action_ts": "1"}],
        })


def quick_pace(adapter: SlackAdapter) -> None:
    """Slack's pace (about one post a second per channel, bursts of three) a thousand times
    faster: the same scopes and bursts, so the delivery worker takes the same path, without a
    conversation of ten answers in one DM lasting ten seconds. What the pace itself does is
    tested with Slack's own figures (tests/test_reminders.py, and the timing tests)."""
    adapter.pace = {scope: Pace(per_second=pace.per_second * 1000, burst=pace.burst)
                    for scope, pace in SlackAdapter.pace.items()}


@pytest.fixture
def slack(request, db_url: str, tmp_path) -> Iterator[Harness]:  # noqa: ANN001
    fake = FakeSlack().start()
    fake.add_user(ALICE, "Alice", tz="Europe/London", locale="en-US")
    fake.add_user(ADMIN, "Ada", tz="Asia/Shanghai", locale="zh-CN")
    app, saved = build_app(db_url, tmp_path)
    adapter = SlackAdapter(app, bot_token="xoxb-test", signing_secret=SECRET,
                           api_url=fake.api_url, host="127.0.0.1", port=0)
    if request.node.get_closest_marker("timing") is None:  # latency tests keep Slack's pace
        quick_pace(adapter)
    port = adapter.listen()
    thread = threading.Thread(target=adapter.run, daemon=True)
    thread.start()
    # Answers go out through the outbox, as under `liaison run`: the delivery worker runs.
    outbox = ReminderScheduler(app, {"slack": adapter})
    outbox.start()
    base = f"http://127.0.0.1:{port}"
    yield Harness(fake, adapter, app, saved, SignedClient(base, SECRET), base, outbox=outbox)
    outbox.stop()
    adapter.stop()
    thread.join(timeout=10)
    assert not thread.is_alive(), "the HTTP server did not stop"
    fake.stop()
    app.db.dispose()


def texts(calls: list) -> str:  # noqa: ANN001
    return "\n".join(message_text(c.params) for c in calls)


def bind_complaints_channel(h: Harness) -> None:
    status, _ = h.slack.command("/liaison", "route complaints here", user=ADMIN,
                                channel=COMPLAINTS, channel_name="complaints")
    assert status == 200
    h.fake.wait_for("chat.postMessage", where=lambda c: c.params["channel"] == COMPLAINTS)


def test_healthz(slack: Harness) -> None:
    with urllib.request.urlopen(slack.base_url + "/healthz", timeout=5) as response:
        assert response.status == 200
        assert response.read() == b"ok\n"


def test_a_head_readiness_probe_gets_headers_only(slack: Harness) -> None:
    """HEAD /readyz on a kept-alive connection: headers only, then the GET's whole answer."""
    port = int(slack.base_url.rsplit(":", 1)[1])
    head, _, rest = head_then_get(port, "/readyz").partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"Content-Length: 6" in head
    assert rest.startswith(b"HTTP/1.1 200 OK") and rest.endswith(b"\r\n\r\nready\n")


def test_help_comes_back_in_the_ack_itself(slack: Harness) -> None:
    status, body = slack.slack.command("/liaison", "help", user=ALICE, channel="CGENERAL")
    assert status == 200
    answer = json.loads(body)
    assert answer["response_type"] == "ephemeral"
    # Alice's Slack locale is en-US, so she is answered in English from her first message.
    # Commands are named as Slack delivers them: `/help` is Slack's own, `/lang` no command.
    assert "• /liaison help [command]" in message_text(answer)
    assert "• /liaison lang zh|en" in message_text(answer)
    assert slack.fake.calls("chat.postMessage") == []


def test_a_command_whose_text_says_payload_reaches_its_listener(slack: Harness) -> None:
    # Bolt alone takes any form body holding "payload" for an interaction's and, finding no
    # payload field, answers 404 "unhandled request" (bot/adapters/slack_wsgi.py).
    status, body = slack.slack.command("/liaison", "help payload", user=ALICE,
                                       channel="CGENERAL")
    assert status == 200
    answer = json.loads(body)
    assert answer["response_type"] == "ephemeral" and "payload" in message_text(answer)


def test_slow_work_is_acked_at_once_and_answered_by_the_response_url(
    slack: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    handle = slack.app.handle

    def slow(inbound, **kw):  # noqa: ANN001, ANN003, ANN202
        release.wait(10)
        return handle(inbound, **kw)

    monkeypatch.setattr(slack.app, "handle", slow)
    slack.adapter.ack_budget = 0.05
    status, body = slack.slack.command("/liaison", "help", user=ALICE, channel="CGENERAL",
                                       response_url=slack.fake.response_url("slow"))
    assert (status, body) == (200, "")  # acked while the work is still going on
    release.set()
    late = slack.fake.wait_for("/response/slow")[0].params
    assert late["response_type"] == "ephemeral" and "/liaison help" in message_text(late)


def test_a_private_answer_longer_than_one_message_comes_by_the_response_url_in_parts(
    slack: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [f"line {n:02d} " + "x" * 2890 for n in range(60)]  # 60 sections: two messages
    handle = slack.app.handle

    def long(inbound, **kw):  # noqa: ANN001, ANN003, ANN202
        return [replace(o, message=Rendered(title="", body="\n".join(lines)))
                for o in handle(inbound, **kw)]

    monkeypatch.setattr(slack.app, "handle", long)
    status, body = slack.slack.command("/liaison", "help", user=ALICE, channel="CGENERAL",
                                       response_url=slack.fake.response_url("long"))
    assert (status, body) == (200, "")  # the ack holds one message: this one does not fit
    parts = slack.fake.wait_for("/response/long", 2)
    read = "\n".join(message_text({"blocks": c.params["blocks"]}) for c in parts)
    assert all(c.params["response_type"] == "ephemeral" for c in parts)
    assert [read.count(line[:8]) for line in lines] == [1] * 60
    assert slack.fake.calls("chat.postMessage") == []


def test_an_error_answer_to_a_button_comes_by_its_response_url(slack: Harness) -> None:
    # A card's command button whose record is gone: the answer is an error, still private and
    # where the person pressed it (not a chat.postEphemeral into a thread nobody opened).
    slack.slack.interaction({
        "type": "block_actions", "user": {"id": ALICE, "name": "alice"},
        "channel": {"id": "CSALES", "name": "sales"}, "trigger_id": trigger_id(),
        "container": {"type": "message", "channel_id": "CSALES",
                      "message_ts": "1700000099.000001"},
        "message": {"type": "message", "ts": "1700000099.000001", "text": "card"},
        "response_url": slack.fake.response_url("err"),
        "actions": [{"type": "button", "action_id": "liaison_choice_0", "block_id": "b",
                     "value": "/complaint show 999999", "action_ts": "1",
                     "text": {"type": "plain_text", "text": "Show"}}],
    })
    answer = slack.fake.wait_for("/response/err")[0].params
    assert answer["response_type"] == "ephemeral" and "999999" in message_text(answer)
    assert slack.fake.calls("chat.postEphemeral") == []


def test_slack_command_names_map_to_the_router(slack: Harness) -> None:
    text = slack.adapter.command_text
    assert text("/complaint", "new customer=&lt;ACME&gt;") == "/complaint new customer=<ACME>"
    # A mention shows with the member's name (Alice's profile; else the name Slack sent).
    assert text("/liaison", "role grant <@U1|bob> agent") == "/role grant @bob agent"
    assert text("/liaison", f"role grant <@{ALICE}|alice> agent") == "/role grant @Alice agent"
    assert text("/liaison", "route complaints here") == "/route complaints here"
    assert text("/liaison", "") == "/help"
    assert text("/reminders", "snooze 4 1h") == "/remind snooze 4 1h"


def test_first_contact_reads_name_zone_and_locale_once(slack: Harness) -> None:
    slack.slack.command("/liaison", "help", user=ALICE, channel="CGENERAL")
    slack.slack.command("/liaison", "whoami", user=ALICE, channel="CGENERAL")
    assert len(slack.fake.calls("users.info")) == 1
    with slack.app.db.session() as session:
        member = session.exec(select(Member).where(Member.user_id == ALICE)).one()
    assert (member.display_name, member.timezone, member.locale) == (
        "Alice", "Europe/London", "en")


def test_visit_intake_in_a_dm_until_the_card_reaches_the_complaints_channel(
    slack: Harness,
) -> None:
    h, fake = slack, slack.fake
    bind_complaints_channel(h)

    status, body = h.slack.command("/visit", "new", user=ALICE, channel=DM,
                                   channel_name="directmessage")
    assert status == 200 and body == ""
    first = fake.wait_for("chat.postMessage", 2, where=lambda c: c.params["channel"] == DM)
    assert "Who are you visiting?" in texts(first)
    assert all("thread_ts" not in c.params for c in first)

    h.dm("ACME &lt;Ltd&gt; &amp; Co")  # as Slack sends what was typed
    kind = fake.wait_for("chat.postMessage", 3, where=lambda c: c.params["channel"] == DM)[-1]
    assert "What kind of audience?" in message_text(kind.params)
    h.press(kind.params, "customer", response_url=fake.response_url("press-1"))
    # The pressed message loses its buttons, so it cannot be answered twice.
    replaced = fake.wait_for("/response/press-1")[0].params
    assert replaced["replace_original"] is True
    assert not [b for b in replaced["blocks"] if b["type"] == "actions"]

    fake.wait_for("chat.postMessage", 4, where=lambda c: c.params["channel"] == DM)
    for n, answer in enumerate(("skip", "me", "2026-12-01 15:00", "done"), start=5):
        h.dm(answer)
        fake.wait_for("chat.postMessage", n, where=lambda c: c.params["channel"] == DM)
    summary = fake.calls("chat.postMessage")[-1].params
    assert "Please confirm" in message_text(summary)
    h.press(summary, "yes")

    card = fake.wait_for("chat.postMessage", 2,
                         where=lambda c: c.params["channel"] == COMPLAINTS)[-1]
    # User text is data: it arrives escaped, never as markup.
    # Channel posts are in the default language (zh here).
    assert "ACME &lt;Ltd&gt; &amp; Co" in message_text(card.params)
    assert h.saved == [{"who": "ACME <Ltd> & Co", "kind": "customer", "score": None,
                        "owner": {"platform": "slack", "user_id": ALICE, "name": "Alice"},
                        "at": "2026-12-01T15:00:00+00:00", "topics": []}]
    fake.wait_for("chat.postMessage", where=lambda c: "Saved the visit" in message_text(
        c.params) and c.params["channel"] == DM)


def test_a_slash_command_in_a_channel_goes_on_in_a_thread(slack: Harness) -> None:
    h, fake = slack, slack.fake
    h.slack.command("/visit", "new", user=ALICE, channel="CSALES", channel_name="sales")
    first, second = fake.wait_for("chat.postMessage", 2)
    assert first.params["channel"] == "CSALES" and "thread_ts" not in first.params
    ts = first.response["ts"]
    assert second.params["thread_ts"] == ts

    # Chatter in the channel is not an answer; an answer in the thread is.
    # The bot was not in the public channel: it joined, or the answers would never arrive.
    assert fake.wait_for("conversations.join")[0].params["channel"] == "CSALES"
    h.message("lunch anyone?", channel="CSALES")
    h.message("ACME", channel="CSALES", thread_ts=ts)
    third = fake.wait_for("chat.postMessage", 3)[-1]
    assert third.params["thread_ts"] == ts
    assert "What kind of audience?" in message_text(third.params)
    assert len(fake.calls("chat.postMessage")) == 3


CANNOT_FOLLOW = [  # (who, what the hint says, the first and the second question)
    (ALICE, "invite me with /invite @liaison", "Who are you visiting?", "What kind of audience?"),
    (ADMIN, "请先发送 /invite @liaison 邀请我", "拜访谁?", "对方是哪一类?"),
]


@pytest.mark.parametrize("channel", ["private", "join_refused"])
@pytest.mark.parametrize(("user", "hint_text", "first", "second"), CANNOT_FOLLOW)
def test_a_flow_in_a_channel_the_bot_cannot_follow_goes_on_in_the_dm(
    slack: Harness, channel: str, user: str, hint_text: str, first: str, second: str,
) -> None:
    h, fake = slack, slack.fake
    dm = "D" + user
    if channel == "private":
        fake.add_channel("CSECRET", private=True)  # not a member: Slack says not_in_channel
    else:
        fake.fail("conversations.join", error="restricted_action")
    _, ack = h.slack.command("/visit", "new", user=user, channel="CSECRET",
                             channel_name="secret", response_url=fake.response_url("hint"))
    # At once, privately, in the person's language: why, and how to invite the bot. It is a
    # private answer, so it rides in the ack (by the response URL only if the ack was gone).
    hint = json.loads(ack) if ack else fake.wait_for("/response/hint")[0].params
    assert hint["response_type"] == "ephemeral"
    assert hint_text in message_text(hint)
    question = fake.wait_for("chat.postMessage", 2, where=lambda c: c.params["channel"] == dm)
    assert first in message_text(question[-1].params)
    # The conversation is in the DM now: the answer there is taken.
    h.dm("ACME", user=user)
    fake.wait_for("chat.postMessage", where=lambda c: c.params["channel"] == dm
                  and second in message_text(c.params))


def test_a_retried_event_is_handled_once(slack: Harness) -> None:
    event = {"type": "message", "channel": DM, "user": ALICE, "text": "whoami",
             "ts": "1800000000.000001", "channel_type": "im"}
    assert slack.slack.event(event, event_id="EvSAME")[0] == 200
    assert slack.slack.event(event, event_id="EvSAME", retry=1)[0] == 200
    assert slack.slack.event(event, event_id="EvSAME", retry=2)[0] == 200
    # One person's messages are handled in order, so once the answer to a later message is
    # out, any second answer to the retried event would be out before it.
    slack.dm("lang en")
    posts = slack.fake.wait_for("chat.postMessage", count=2)
    assert "Done: I'll talk to you in English" in message_text(posts[-1].params)
    assert len(slack.fake.calls("chat.postMessage")) == 2


def test_the_bot_ignores_its_own_messages(slack: Harness) -> None:
    slack.dm("whoami", user=ALICE, bot_id=BOT_ID)
    slack.message("whoami", channel=DM, user=BOT_USER, channel_type="im")
    slack.dm("whoami")
    # The bot's own messages are dropped before their requests are answered (Bolt runs the
    # listener before responding here), so by now only the real message can produce a post.
    slack.fake.wait_for("chat.postMessage")
    assert len(slack.fake.calls("chat.postMessage")) == 1


@pytest.mark.parametrize("forgery", ["signature", "stale"])
def test_a_forged_or_stale_request_gets_401_and_changes_nothing(
    slack: Harness, forgery: str
) -> None:
    signing: dict[str, Any] = (
        {"signature": "v0=" + "0" * 64} if forgery == "signature"
        else {"timestamp": int(time.time()) - 6 * 60}
    )
    status, _ = slack.slack.command("/liaison", "lang zh", user=ALICE, channel=DM,
                                    channel_name="directmessage", **signing)
    assert status == 401
    event = {"type": "message", "channel": DM, "user": ALICE, "text": "whoami",
             "ts": "1800000000.000001", "channel_type": "im"}
    assert slack.slack.event(event, event_id="EvX", **signing)[0] == 401
    # Only the start-up auth.test: nothing was read, posted or stored.
    assert [c.method for c in slack.fake.calls()] == ["auth.test"]
    with slack.app.db.session() as session:
        assert session.exec(select(Member)).all() == []


def test_a_mention_in_a_channel_is_answered_where_the_person_sees_it(slack: Harness) -> None:
    fake = slack.fake
    fake.add_channel("CSALES", joined=True)  # Slack sends app_mention only from its channels
    # A private answer to a mention outside a thread: top-level (a thread under the mention
    # does not exist, and Slack would not show it there).
    slack.slack.event({"type": "app_mention", "channel": "CSALES", "user": ALICE,
                       "text": f"<@{BOT_USER}> whoami", "ts": "1800000000.000042"},
                      event_id="EvM1")
    reply = fake.wait_for("chat.postEphemeral")[0].params
    assert "thread_ts" not in reply and reply["user"] == ALICE
    assert "Alice" in message_text(reply)
    # Inside an existing thread, the private answer stays in that thread.
    fake.note_message("CSALES", "1800000000.000001")
    slack.slack.event({"type": "app_mention", "channel": "CSALES", "user": ALICE,
                       "text": f"<@{BOT_USER}> whoami", "ts": "1800000000.000043",
                       "thread_ts": "1800000000.000001"}, event_id="EvM2")
    reply = fake.wait_for("chat.postEphemeral", 2)[-1].params
    assert reply["thread_ts"] == "1800000000.000001"
    # An answer for everyone is a normal message in the mention's thread.
    slack.slack.event({"type": "app_mention", "channel": "CSALES", "user": ALICE,
                       "text": f"<@{BOT_USER}> visit new", "ts": "1800000000.000044"},
                      event_id="EvM3")
    started = fake.wait_for("chat.postMessage")[0].params
    assert started["thread_ts"] == "1800000000.000044"


# -- delivery errors, translated once ------------------------------------------------------


def _card() -> Outbound:
    return Outbound(Address(platform="slack", channel="CX"), Rendered(title="", body="hi"))


@pytest.mark.parametrize(("status", "error", "temporary", "retry_after"), [
    (429, "ratelimited", True, 30.0),
    (500, "internal_error", True, None),
    (200, "channel_not_found", False, None),
    (200, "not_in_channel", False, None),
    (200, "is_archived", False, None),
])
def test_send_translates_slack_errors(slack: Harness, status: int, error: str,
                                      temporary: bool, retry_after: float | None) -> None:
    slack.fake.fail("chat.postMessage", status=status, error=error,
                    retry_after=30 if status == 429 else None)
    with pytest.raises(DeliveryError) as caught:
        slack.adapter.send(_card())
    assert (caught.value.reason, caught.value.temporary, caught.value.retry_after) == (
        error, temporary, retry_after)


def test_a_response_url_used_up_is_a_failed_delivery_not_a_sent_one(slack: Harness) -> None:
    """Slack takes five responses on one response_url ("Handling user interaction"); the
    sixth is refused, and the adapter says so instead of reporting it sent."""
    def answer() -> Outbound:  # a new answer each time (each notes its own progress)
        return Outbound(Address(platform="slack", channel="CGENERAL", user=ALICE,
                                ephemeral_to=ALICE, in_reply=True),
                        Rendered(title="", body="Done."),
                        meta={"response_url": slack.fake.response_url("five")})

    for _ in range(5):
        slack.adapter.send(answer())
    with pytest.raises(DeliveryError) as caught:
        slack.adapter.send(answer())
    assert (caught.value.reason, caught.value.temporary) == ("response_url:http_404", False)
    assert len([c for c in slack.fake.calls("/response/five") if c.status == 200]) == 5


def test_a_dm_to_a_member_opens_the_conversation_first(slack: Harness) -> None:
    slack.adapter.send(Outbound(Address(platform="slack", user="UBOB"),
                                Rendered(title="Reminder", body="Agenda due")))
    assert slack.fake.calls("conversations.open")[0].params["users"] == "UBOB"
    post = slack.fake.calls("chat.postMessage")[0].params
    assert post["channel"] == "DUBOB"
    assert post["blocks"][0] == {"type": "header",
                                 "text": {"type": "plain_text", "text": "Reminder"}}


# -- reminders through the sweeper ---------------------------------------------------------


def _plan_ping(h: Harness, due: datetime) -> None:
    from schedules import api

    h.app.registry.reminder_kind("test.ping")(
        lambda session, reminder, now: Reply("test/card", {"answers": {"who": "ACME"}})
    )
    with h.app.db.session() as session:
        api.plan(session, key="ping-1", kind="test.ping", due=due,
                 target=api.Target.channel("slack", "CMEET"))


def _reminder(h: Harness):  # noqa: ANN202
    from schedules.models import Reminder

    with h.app.db.session() as session:
        return session.exec(select(Reminder).where(Reminder.key == "ping-1")).one()


def test_a_reminder_is_posted_to_its_channel(slack: Harness) -> None:
    from schedules.worker import Sweeper

    slack.outbox.stop()  # this test sweeps by hand

    now = datetime.now(UTC)
    _plan_ping(slack, now)
    Sweeper(slack.app, {"slack": slack.adapter}).sweep(now)
    post = slack.fake.calls("chat.postMessage")[0].params
    assert post["channel"] == "CMEET" and "ACME" in message_text(post)
    assert _reminder(slack).status == "sent"


def test_a_rate_limited_reminder_waits_for_retry_after_and_is_not_lost(slack: Harness) -> None:
    from schedules.worker import Sweeper

    slack.outbox.stop()  # this test sweeps by hand

    now = datetime.now(UTC)
    _plan_ping(slack, now)
    slack.fake.fail("chat.postMessage", status=429, retry_after=120)
    sweeper = Sweeper(slack.app, {"slack": slack.adapter})
    sweeper.sweep(now)
    row = _reminder(slack)
    assert (row.status, row.last_error) == ("pending", "ratelimited")
    assert timedelta(seconds=120) <= row.due_at - now <= timedelta(seconds=132)

    sweeper.sweep(now + timedelta(seconds=60))  # not yet: Slack said two minutes
    assert len(slack.fake.calls("chat.postMessage")) == 1
    sweeper.sweep(now + timedelta(seconds=133))  # two minutes, plus up to 10% jitter
    assert len(slack.fake.calls("chat.postMessage")) == 2
    assert _reminder(slack).status == "sent"


def test_a_long_message_cut_short_by_a_rate_limit_goes_on_without_repeating_a_part(
    slack: Harness,
) -> None:
    from schedules import api
    from schedules.worker import Sweeper

    slack.outbox.stop()  # this test sweeps by hand

    now = datetime.now(UTC)
    lines = [f"line {n:02d} " + "x" * 2890 for n in range(60)]  # 60 sections: two messages
    with slack.app.db.session() as session:
        api.queue(session, Outbound(Address(platform="slack", channel="CMEET"),
                                    Rendered(title="", body="\n".join(lines))), now=now)
    slack.fake.fail("chat.postMessage", status=429, retry_after=30, after=1)
    sweeper = Sweeper(slack.app, {"slack": slack.adapter})
    sweeper.sweep(now)
    first, refused = slack.fake.calls("chat.postMessage")
    assert "line 00" in message_text(first.params) and refused.response["ok"] is False

    sweeper.sweep(now + timedelta(seconds=34))  # Retry-After 30 s, plus up to 10% jitter
    posted = [c for c in slack.fake.calls("chat.postMessage") if c.response.get("ok")]
    read = "\n".join(message_text({"blocks": c.params["blocks"]}) for c in posted)
    # Every line arrived exactly once, in order: the retry went on with the second part.
    assert [read.count(line[:8]) for line in lines] == [1] * 60
    assert read.index("line 49") < read.index("line 50")
    assert len(posted) == 2


# -- the intake as a modal -----------------------------------------------------------------


def _tap_form_button(h: Harness, trigger: str | None = None) -> tuple[int, dict[str, Any]]:
    """Alice starts /visit new in her DM and taps "Fill in a form instead" on the first
    question, with a fresh trigger_id unless `trigger` is given: the status of the tap, and
    the button."""
    h.slack.command("/visit", "new", user=ALICE, channel=DM, channel_name="directmessage")
    started = h.fake.wait_for("chat.postMessage", 2)[0].params
    button = next(e for b in started["blocks"] if b["type"] == "actions" for e in b["elements"])
    status, _ = h.slack.interaction({
        "type": "block_actions", "user": {"id": ALICE}, "channel": {"id": DM},
        "trigger_id": trigger or trigger_id(), "container": {"type": "message",
                                                           "message_ts": "1.0"},
        "message": {"ts": "1.0", "text": started["text"], "blocks": started["blocks"]},
        "actions": [{**button, "block_id": "b", "action_ts": "1"}],
    })
    return status, button


def test_the_intake_as_a_modal_with_a_field_error(slack: Harness) -> None:
    h, fake = slack, slack.fake
    tapped = trigger_id()
    _, button = _tap_form_button(h, tapped)
    assert button["action_id"] == "liaison_form_open"
    assert button["text"]["text"] == "Fill in a form instead"
    opened = fake.wait_for("views.open")[0]
    assert opened.params["trigger_id"] == tapped and opened.response["ok"]
    view = fake.wait_for_form()
    # Text and choice steps become inputs; the list of topics stays in the conversation.
    assert [b["block_id"] for b in view["blocks"]] == [
        "who", "kind", "score", "owner", "at", "at__time"]
    assert view["blocks"][0]["label"]["text"] == "Who are you visiting?"
    # Choices are a select, people a user picker, times a date and a time picker.
    assert [b["element"]["type"] for b in view["blocks"]] == [
        "plain_text_input", "static_select", "plain_text_input", "users_select", "datepicker",
        "timepicker"]
    kinds = view["blocks"][1]["element"]["options"]
    assert [o["value"] for o in kinds] == ["media", "customer"]

    def submit(values: dict[str, str]) -> tuple[int, str]:
        kinds = {"kind": ("static_select", "selected_option"),
                 "owner": ("users_select", "selected_user"),
                 "at": ("datepicker", "selected_date"),
                 "at__time": ("timepicker", "selected_time")}
        state = {}
        for key, v in values.items():
            kind, field = kinds.get(key, ("plain_text_input", "value"))
            value: Any = {"value": v} if field == "selected_option" else v
            state[key] = {"value": {"type": kind, field: value}}
        return h.slack.interaction({
            "type": "view_submission", "user": {"id": ALICE}, "trigger_id": trigger_id(),
            "view": {**view, "id": "V1", "state": {"values": state}},
        })

    status, body = submit({"who": "ACME", "kind": "media", "score": "9", "owner": ALICE,
                           "at": "2026-12-01", "at__time": "15:00"})
    assert status == 200
    answer = json.loads(body)
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == ["score"]
    assert "1" in answer["errors"]["score"] and "5" in answer["errors"]["score"]
    assert h.saved == []

    status, body = submit({"who": "ACME", "kind": "media", "score": "4", "owner": ALICE,
                           "at": "2026-12-01", "at__time": "15:00"})
    assert (status, body) == (200, "")
    # The form's answers are taken; the conversation asks what the form could not.
    asked = fake.wait_for("chat.postMessage", where=lambda c: "Topics?" in message_text(
        c.params))[-1].params
    assert asked["channel"] == DM
    h.dm("done")
    summary = fake.wait_for("chat.postMessage", where=lambda c: "Please confirm" in
                            message_text(c.params))[-1].params
    h.press(summary, "yes")
    fake.wait_for("chat.postMessage", where=lambda c: "Saved the visit" in message_text(
        c.params))
    assert h.saved[0]["score"] == 4 and h.saved[0]["who"] == "ACME"
    assert h.saved[0]["owner"]["user_id"] == ALICE
    assert h.saved[0]["at"] == "2026-12-01T15:00:00+00:00"


def test_slack_url_verification_is_answered(slack: Harness) -> None:
    body = json.dumps({"token": "legacy", "challenge": "c-123", "type": "url_verification"})
    status, answer = slack.slack.post(body, "application/json")
    assert status == 200 and json.loads(answer)["challenge"] == "c-123"


def test_not_in_the_channel_the_answer_still_reaches_the_asker_privately(
    slack: Harness,
) -> None:
    slack.fake.add_channel("CSECRET", private=True)
    slack.slack.command("/complaint", "list", user=ALICE, channel="CSECRET",
                        channel_name="secret", response_url=slack.fake.response_url("fallback"))
    private = slack.fake.wait_for("/response/fallback")[0].params
    assert private["response_type"] == "ephemeral"
    assert slack.fake.calls("chat.postMessage")[0].response["error"] == "not_in_channel"


def test_a_command_button_on_a_card_stays_for_others(slack: Harness) -> None:
    card = {"channel": "CSALES", "text": "card", "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": "card"}},
        {"type": "actions", "elements": [{"type": "button", "action_id": "liaison_choice_0",
                                          "text": {"type": "plain_text", "text": "Who am I"},
                                          "value": "/whoami"}]}]}
    slack.press(card, "/whoami", response_url=slack.fake.response_url("card"))
    # The private answer goes back through the action's response URL, next to the card,
    # which stays as it was for the others.
    answer = slack.fake.wait_for("/response/card")[0].params
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    assert "Alice" in message_text(answer)
    assert slack.fake.calls("chat.postEphemeral") == []
    assert len(slack.fake.calls("/response/card")) == 1


def test_a_slow_form_opens_at_once_and_is_filled_in_by_views_update(
    slack: Harness, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.adapters import slack as slack_module
    from bot.adapters import slack_forms

    h, fake = slack, slack.fake
    release = threading.Event()
    build = slack_forms.build_view

    def slow(*args: Any, **kwargs: Any) -> dict[str, Any]:
        release.wait(10)
        return build(*args, **kwargs)

    monkeypatch.setattr(slack_forms, "build_view", slow)
    monkeypatch.setattr(slack_module, "FORM_BUDGET", 0.05)
    status, _ = _tap_form_button(h)
    assert status == 200
    # Within the trigger's 3 s: a placeholder, in Alice's language.
    opened = fake.wait_for("views.open")[0]
    assert "Getting the questions ready" in opened.params["view"]["blocks"][0]["text"]["text"]
    release.set()
    updated = fake.wait_for("views.update")[0].params
    assert updated["view_id"] == opened.response["view"]["id"]
    assert updated["view"]["blocks"][0]["block_id"] == "who"


def test_a_form_that_fails_after_its_placeholder_opened_says_so_in_the_placeholder(
    slack: Harness, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The placeholder is open when building the form fails: the person is told in it to go
    on in the conversation, not left with a spinner, and gets no second notice."""
    from bot.adapters import slack as slack_module
    from bot.adapters import slack_forms

    h, fake = slack, slack.fake
    release = threading.Event()

    def broken(*args: Any, **kwargs: Any) -> dict[str, Any]:
        release.wait(10)
        raise RuntimeError("the form could not be built")

    monkeypatch.setattr(slack_forms, "build_view", broken)
    monkeypatch.setattr(slack_module, "FORM_BUDGET", 0.05)
    _tap_form_button(h)
    opened = fake.wait_for("views.open")[0]
    release.set()
    updated = fake.wait_for("views.update")[0].params
    assert updated["view_id"] == opened.response["view"]["id"]
    assert "could not be prepared" in updated["view"]["blocks"][0]["text"]["text"]
    assert fake.calls("chat.postEphemeral") == []

def test_a_form_slack_refuses_to_open_is_explained_to_the_person(slack: Harness) -> None:
    """The tap arrives with a trigger_id already past its 3 s (a slow network or a busy
    machine): Slack refuses views.open with expired_trigger_id, and the person, who saw
    nothing open, is told privately what to do, in their language."""
    h, fake = slack, slack.fake
    status, _ = _tap_form_button(h, trigger_id(age=4))
    assert status == 200
    assert fake.wait_for("views.open")[0].response["error"] == "expired_trigger_id"
    said = fake.wait_for("chat.postEphemeral")[0].params
    assert said["user"] == ALICE and said["channel"] == DM
    assert "could not open in time" in said["text"] and "Fill in a form instead" in said["text"]


@pytest.mark.parametrize(("user", "title", "new"), [
    (ALICE, "Liaison — what you have open", "New complaint"),
    (ADMIN, "Liaison — 我的待办", "新建投诉"),
])
def test_the_home_tab_shows_what_is_open_and_stays_fresh(
    slack: Harness, user: str, title: str, new: str,
) -> None:
    h, fake = slack, slack.fake
    h.slack.event({"type": "app_home_opened", "user": user, "channel": "D" + user,
                   "tab": "home", "event_ts": "1800000000.000001"}, event_id=f"EvH{user}")
    home = fake.wait_for("views.publish")[0].params
    assert home["user_id"] == user and home["view"]["type"] == "home"
    text = message_text({"blocks": home["view"]["blocks"]})
    assert title in text
    # One part per list: complaints, action items, meetings, reminders (none yet).
    assert len([b for b in home["view"]["blocks"] if b["type"] == "divider"]) == 4
    button = next(e for e in home["view"]["blocks"][1]["elements"] if e["text"]["text"] == new)
    # A button on the Home tab starts the flow in the DM; the Home is published again after.
    h.slack.interaction({
        "type": "block_actions", "user": {"id": user}, "trigger_id": trigger_id(),
        "container": {"type": "view", "view_id": "VHOME"}, "view": {"id": "VHOME"},
        "actions": [{**button, "block_id": "b", "action_ts": "1"}],
    })
    fake.wait_for("chat.postMessage", 2, where=lambda c: c.params["channel"] == "D" + user)
    fake.wait_for("views.publish", 2)


def _seed_open_items(h: Harness, user: str) -> None:
    """A new complaint the person filed, an action item they own (with its due reminders)."""
    from handlers.actions.commands import DUE
    from handlers.meetings.models import ActionItem, Meeting
    from schedules import api
    from schedules.api import Target

    chat = Chat(h.app, user, platform="slack", channel="D" + user)
    for answer in ("/complaint new", "ACME", "ops@acme.com", "email", "Delivery late",
                   "Order 42 arrived late.", "high", "skip", "me", "yes"):
        chat(answer)
    now = datetime.now(UTC)
    with h.app.db.session() as s:
        meeting = Meeting(ref="M-2026-0001", partner="ACME", partner_key="acme", title="Review",
                          starts_at=now - timedelta(days=1), duration_minutes=30,
                          organiser_platform="slack", organiser_id=user,
                          minutes_due_at=now)
        s.add(meeting)
        s.flush()
        s.add(ActionItem(ref="A-2026-0001", meeting_id=meeting.id, what="Send the quote",
                         owner_platform="slack", owner_id=user, due_at=now + timedelta(days=3)))
        api.plan(s, key="action:A-2026-0001:r0:before", kind=DUE, due=now + timedelta(days=2),
                 target=Target.member("slack", user), record_type="action",
                 record_id="A-2026-0001", payload={"rev": 0, "stage": "before", "n": 0,
                                                   "title": "Send the quote"})
        s.commit()


@pytest.mark.parametrize(("user", "respond", "done", "snooze"), [
    (ALICE, "Respond to C-", "Done: A-2026-0001", "Snooze #"),
    (ADMIN, "响应 C-", "完成 A-2026-0001", "推迟 1 小时"),
])
def test_the_home_tab_has_a_button_for_each_items_next_step(
    slack: Harness, user: str, respond: str, done: str, snooze: str,
) -> None:
    h, fake = slack, slack.fake
    _seed_open_items(h, user)
    h.slack.event({"type": "app_home_opened", "user": user, "channel": "D" + user,
                   "tab": "home", "event_ts": "1800000000.000001"}, event_id=f"EvH{user}")
    view = fake.wait_for("views.publish")[0].params["view"]
    buttons = [e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    labels = [e["text"]["text"] for e in buttons]
    assert any(respond in t for t in labels)
    assert done in labels
    assert any(snooze in t for t in labels)
    # Slack refuses a view whose action_ids repeat; each button acts on one record.
    assert len({e["action_id"] for e in buttons}) == len(buttons)
    assert "A-2026-0001" in message_text({"blocks": view["blocks"]})
    # "Mark done" runs `/action done` as the person; the Home published after no longer
    # lists the item.
    button = next(e for e in buttons if e["text"]["text"] == done)
    h.slack.interaction({
        "type": "block_actions", "user": {"id": user}, "trigger_id": trigger_id(),
        "container": {"type": "view", "view_id": "VHOME"}, "view": {"id": "VHOME"},
        "actions": [{**button, "block_id": "b", "action_ts": "1"}],
    })
    fake.wait_for("views.publish", 2)
    fresh = fake.calls("views.publish")[-1].params["view"]
    assert "A-2026-0001" not in message_text({"blocks": fresh["blocks"]})
    with h.app.db.session() as s:
        from handlers.meetings.models import ActionItem
        assert s.exec(select(ActionItem.status)).one() == "done"


def test_a_form_submission_queues_its_answers_with_its_change(
    slack: Harness, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The outbox row of an answer is written in the transaction of the change it reports:
    when writing it fails, the form's answers are not taken either, and nothing is queued."""
    from bot.models import Conversation
    from schedules import api
    from schedules.models import Reminder

    h, fake = slack, slack.fake
    _tap_form_button(h)
    view = fake.wait_for_form()
    with h.app.db.session() as s:
        queued_before = len(s.exec(select(Reminder.id)).all())
    failed = threading.Event()

    def refuse(*args: Any, **kwargs: Any) -> Any:
        failed.set()
        raise RuntimeError("the outbox is full")

    monkeypatch.setattr(api, "queue", refuse)
    state = {"who": {"value": {"type": "plain_text_input", "value": "ACME"}},
             "kind": {"value": {"type": "static_select",
                                "selected_option": {"value": "media"}}},
             "score": {"value": {"type": "plain_text_input", "value": "4"}}}
    status, _ = h.slack.interaction({
        "type": "view_submission", "user": {"id": ALICE}, "trigger_id": trigger_id(),
        "view": {**view, "id": "V1", "state": {"values": state}},
    })
    assert status == 200
    assert failed.wait(10)
    with h.app.db.session() as s:
        conv = s.exec(select(Conversation).where(Conversation.user_id == ALICE)).one()
        assert "who" not in conv.answers  # the change went with its answer
        assert len(s.exec(select(Reminder.id)).all()) == queued_before


@pytest.mark.parametrize(("user", "respond", "asked", "confirm", "done"), [
    (ALICE, "Respond to C-", "What was your first response", "Please confirm",
     "First response to C-2026-0001 recorded"),
    (ADMIN, "响应 C-", "的首次响应是什么", "请确认", "已记录 C-2026-0001 的首次响应"),
])
def test_respond_on_the_home_tab_asks_for_the_response_in_the_dm(
    slack: Harness, user: str, respond: str, asked: str, confirm: str, done: str,
) -> None:
    from handlers.complaints.models import Complaint

    h, fake = slack, slack.fake
    _seed_open_items(h, user)
    h.slack.event({"type": "app_home_opened", "user": user, "channel": "D" + user,
                   "tab": "home", "event_ts": "1800000000.000001"}, event_id=f"EvH{user}")
    view = fake.wait_for("views.publish")[0].params["view"]
    button = next(e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]
                  if respond in e["text"]["text"])
    h.slack.interaction({
        "type": "block_actions", "user": {"id": user}, "trigger_id": trigger_id(),
        "container": {"type": "view", "view_id": "VHOME"}, "view": {"id": "VHOME"},
        "actions": [{**button, "block_id": "b", "action_ts": "1"}],
    })
    in_dm = lambda text: lambda c: (  # noqa: E731
        c.params["channel"] == "D" + user and text in message_text(c.params))
    fake.wait_for("chat.postMessage", where=in_dm(asked))
    h.dm("Called them; a refund is on its way.", user=user)
    summary = fake.wait_for("chat.postMessage", where=in_dm(confirm))[-1].params
    h.press(summary, "yes", user=user)
    fake.wait_for("chat.postMessage", where=in_dm(done))
    with h.app.db.session() as s:
        c = s.exec(select(Complaint)).one()
        assert (c.status, c.response) == ("responded", "Called them; a refund is on its way.")
