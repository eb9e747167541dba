"""Delivery under a Slack rate limit, end to end: the real Bolt endpoint, the outbox and its
delivery worker, and a fake Slack that refuses chat.postMessage with 429 for a while."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict

import pytest

from tests.fakes.slack_api import message_text
from tests.test_slack import ADMIN, Harness, slack  # noqa: F401  (the fixture)

PEOPLE = 40
pytestmark = pytest.mark.timing  # a latency bound: never behind other tests for the CPU (Makefile)
RETRY_AFTER = 3  # seconds; Slack's 30 scaled down, the behaviour is the same


def test_forty_people_write_during_a_429_and_every_reply_arrives_in_order(
        slack: Harness) -> None:  # noqa: F811
    slack.fake.rate_limit("chat.postMessage", RETRY_AFTER)
    people = [f"UP{i:03d}" for i in range(PEOPLE)]

    def write(user: str) -> None:
        # Plain words in the bot's DM (Slack never delivers a message that starts with "/").
        slack.dm("whoami", user=user)
        slack.dm("lang en", user=user)

    writers = [threading.Thread(target=write, args=(u,)) for u in people]
    for w in writers:
        w.start()
    # Meanwhile an unrelated slash command: answered in its ack, not held up by the backlog.
    time.sleep(0.2)
    started = time.monotonic()
    status, body = slack.slack.command("/liaison", "help", user=ADMIN, channel="CGENERAL")
    answered_in = time.monotonic() - started
    assert status == 200 and json.loads(body)["response_type"] == "ephemeral"
    assert answered_in < 3.0
    for w in writers:
        w.join(timeout=30)

    def delivered() -> list:  # noqa: ANN202  (the calls Slack accepted)
        return [c for c in slack.fake.calls("chat.postMessage") if c.status == 200]

    deadline = time.monotonic() + 30
    while len(delivered()) < 2 * PEOPLE and time.monotonic() < deadline:
        time.sleep(0.1)
    calls = slack.fake.calls("chat.postMessage")
    refused = [c for c in calls if c.status == 429]
    assert refused, "the fake never rate limited"
    by_channel: dict[str, list] = defaultdict(list)
    for call in calls:
        by_channel[call.params["channel"]].append(call)
    assert len(delivered()) == 2 * PEOPLE  # 40 of 40 people got both answers, once each
    for user in people:
        sent = [c for c in by_channel["D" + user] if c.status == 200]
        texts = [message_text(c.params) for c in sent]
        assert len(texts) == 2 and "English" in texts[1], texts  # in the order written
        # After a 429 that channel was not tried again before its Retry-After.
        attempts = by_channel["D" + user]
        for before, after in zip(attempts, attempts[1:], strict=False):
            if before.status == 429:
                assert after.at - before.at >= before.retry_after - 0.05, (user, before, after)
    first_429 = min(c.at for c in refused)
    print(f"\n429s: {len(refused)}; all {2 * PEOPLE} delivered "
          f"{max(c.at for c in delivered()) - first_429:.1f} s after the first 429; "
          f"slash command answered in {answered_in * 1000:.0f} ms")
