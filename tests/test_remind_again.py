""""Remind me again" (issue 20) through the real SDKs: a Slack button (slack-bolt against the
fake Web API) and a DingTalk tap (a `dtmd://` link in a batchSend action card, sent back as
the person's own message through dingtalk-stream) move the reminder; past its deadline the
answer refuses politely."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

from sqlmodel import select

from bot.messages import Reply
from schedules import api
from schedules.api import Target
from schedules.models import Reminder, Status
from schedules.worker import Sweeper
from tests.fakes.slack_api import message_text
from tests.test_dingtalk import BATCH, TAP, Talk, fake, make, running  # noqa: F401 (fixture)
from tests.test_slack import ALICE, Harness, slack  # noqa: F401 (fixture)

KEY = "again-1"


def _plan(app, platform: str, user: str, due: datetime, deadline: datetime) -> int:  # noqa: ANN001
    app.registry.reminder_kind("test.again")(
        lambda session, reminder, now: Reply("test/card", {"answers": {"who": "ACME"}}))
    with app.db.session() as session:
        row = api.plan(session, key=KEY, kind="test.again", due=due,
                       target=Target.member(platform, user),
                       payload={api.DEADLINE: deadline.isoformat()})
        session.flush()
        return int(row.id)


def _until(check, timeout: float = 10.0) -> None:  # noqa: ANN001
    """The delivery worker runs in its own thread: wait for what it does, not for a time."""
    import time

    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def _row(app) -> Reminder:  # noqa: ANN001
    with app.db.session() as session:
        return session.exec(select(Reminder).where(Reminder.key == KEY)).one()


def test_a_slack_button_moves_the_reminder_and_past_the_deadline_is_refused(
        slack: Harness) -> None:  # noqa: F811
    h = slack
    h.dm("hello")  # Alice (Europe/London, en-US) is known
    now = datetime.now(UTC)
    rid = _plan(h.app, "slack", ALICE, now, deadline=now + timedelta(hours=3))
    h.outbox.wake(now)  # the delivery worker sends it
    post = h.fake.wait_for("chat.postMessage",
                           where=lambda c: "ACME" in message_text(c.params))[0].params
    buttons = [e for b in post["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [(b["text"]["text"], b["value"]) for b in buttons] == [
        ("30 min later", f"/remind snooze {rid} 30m"), ("1 hour later", f"/remind snooze {rid} 1h"),
        ("2 hours later", f"/remind snooze {rid} 2h"),
        ("Tomorrow morning", f"/remind snooze {rid} tomorrow-morning"),
        ("Next working day", f"/remind snooze {rid} next-workday")]
    _until(lambda: _row(h.app).status == Status.SENT)

    pressed = datetime.now(UTC)
    h.press(post, f"/remind snooze {rid} 1h", response_url=h.fake.response_url("again"))
    # In the DM the answer is a message there.
    answer = h.fake.wait_for("chat.postMessage", where=lambda c: "moved from" in message_text(
        c.params))[0].params
    assert answer["channel"] == post["channel"] and f"#{rid}" in message_text(answer)
    row = _row(h.app)
    assert row.status == Status.PENDING
    assert timedelta(minutes=59) < row.due_at - pressed < timedelta(minutes=61)

    # Tomorrow morning is after the deadline three hours from now: a polite refusal.
    h.press(post, f"/remind snooze {rid} tomorrow-morning",
            response_url=h.fake.response_url("late"))
    refused = message_text(h.fake.wait_for(
        "chat.postMessage", where=lambda c: "too late" in message_text(c.params))[0].params)
    assert "warns about a deadline" in refused
    assert _row(h.app).due_at == row.due_at  # unchanged

    # It comes back when it was moved to.
    Sweeper(h.app, {"slack": h.adapter}).sweep(row.due_at + timedelta(seconds=1))
    assert _row(h.app).status == Status.SENT
    assert sum("ACME" in message_text(c.params) for c in h.fake.calls("chat.postMessage")) == 2


def test_a_dingtalk_tap_moves_the_reminder_and_past_the_deadline_is_refused(
        db_url, tmp_path, fake) -> None:  # noqa: F811
    app, adapter, _ = make(db_url, tmp_path, fake)
    now = datetime.now(UTC)
    rid = _plan(app, "dingtalk", "zhang", now - timedelta(seconds=1),
                deadline=now + timedelta(hours=3))
    assert Sweeper(app, {"dingtalk": adapter}).sweep().delivered == 1
    (call,) = fake.calls_to(BATCH)
    assert call.body["userIds"] == ["zhang"]
    # A one-to-one chat: five action-card buttons, each a message link.
    assert call.body["msgKey"] == "sampleActionCard5"
    param = json.loads(call.body["msgParam"])
    buttons = {param[f"actionTitle{n}"]: param[f"actionURL{n}"] for n in range(1, 6)}
    assert list(buttons) == ["30 分钟后", "1 小时后", "2 小时后", "明天早上", "下个工作日"]
    assert all(url.startswith(TAP) for url in buttons.values())
    sends = {label: unquote(url[len(TAP):]) for label, url in buttons.items()}
    assert sends["2 小时后"] == f"/remind snooze {rid} 2h"

    with running(adapter, fake):
        zhang = Talk(fake, adapter, "zhang", "张伟")
        tapped = datetime.now(UTC)
        answer = zhang.say(sends["2 小时后"])  # what the tap sends, as zhang's own message
        assert f"#{rid}" in answer
        row = _row(app)
        assert row.status == Status.PENDING
        assert timedelta(minutes=119) < row.due_at - tapped < timedelta(minutes=121)
        refused = zhang.say(sends["下个工作日"])
        assert "推迟到截止之后就来不及了" in refused
        assert _row(app).due_at == row.due_at
