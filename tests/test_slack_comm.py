"""The communication checklist in Slack, end to end: `/comm new` as a modal, the media hint's
button, and a follow-up reminder whose button ticks the step; the real slack-bolt app against
the fake Slack Web API, over signed HTTP."""

from __future__ import annotations

import json

from sqlmodel import select

from schedules.models import Reminder
from schedules.worker import Sweeper
from tests import test_slack
from tests.fakes.slack_api import message_text, trigger_id
from tests.test_slack import ALICE, DM, Harness

slack = test_slack.slack  # the same fixture: Liaison on the fake Slack, over signed HTTP


def _posted(h: Harness, text: str, before: int = 0) -> dict:
    return h.fake.wait_for("chat.postMessage", before + 1, where=lambda c: (
        c.params["channel"] == DM and text in message_text(c.params)))[-1].params


def _count(h: Harness, text: str) -> int:
    return len([c for c in h.fake.calls("chat.postMessage")
                if c.params["channel"] == DM and text in message_text(c.params)])


def test_comm_new_as_a_modal_then_the_media_hint_and_a_reminder_button(slack: Harness) -> None:
    h, fake = slack, slack.fake
    h.slack.command("/comm", "new", user=ALICE, channel=DM, channel_name="directmessage")
    started = fake.wait_for("chat.postMessage", 2)[0].params
    button = next(e for b in started["blocks"] if b["type"] == "actions" for e in b["elements"]
                  if e["action_id"] == "liaison_form_open")
    h.slack.interaction({
        "type": "block_actions", "user": {"id": ALICE}, "channel": {"id": DM},
        "trigger_id": trigger_id(), "container": {"type": "message", "message_ts": "1.0"},
        "message": {"ts": "1.0", "text": started["text"], "blocks": started["blocks"]},
        "actions": [{**button, "block_id": "b", "action_ts": "1"}],
    })
    view = fake.wait_for_form()
    # The list of materials and the complaint question (customers only) stay in the chat.
    assert [b["block_id"] for b in view["blocks"]] == [
        "audience", "audience_name", "topic", "goal", "goal_text", "channel", "strategy"]
    assert view["blocks"][0]["label"]["text"] == \
        "1. The audience: who are you communicating with?"
    selects = {"audience", "goal", "channel"}

    def submit(values: dict[str, str]) -> tuple[int, str]:
        state = {key: {"value": ({"type": "static_select", "selected_option": {"value": v}}
                                 if key in selects else {"type": "plain_text_input", "value": v})}
                 for key, v in values.items()}
        return h.slack.interaction({
            "type": "view_submission", "user": {"id": ALICE}, "trigger_id": trigger_id(),
            "view": {**view, "id": "V1", "state": {"values": state}},
        })

    values = {"audience": "media", "audience_name": "Reuters <!channel>", "topic": "x" * 81,
              "goal": "publish", "goal_text": "Coverage of the launch", "channel": "email"}
    status, body = submit(values)
    answer = json.loads(body)
    assert status == 200 and list(answer["errors"]) == ["topic"]
    assert "81" in answer["errors"]["topic"] and "80" in answer["errors"]["topic"]

    values["topic"] = "new product launch"
    assert submit(values) == (200, "")
    _posted(h, "Materials: what have you gathered?")
    h.dm("Fact sheet: https://example.com/facts")
    h.dm("done")
    # The adapter skips an optional field left empty only while it is the next question; the
    # list of materials sits between, so the strategy is asked again in the chat.
    _posted(h, "The strategy in one sentence")
    h.dm("skip")
    summary = _posted(h, "Please confirm the plan")
    text = message_text(summary)
    assert "Reuters &lt;!channel&gt;" in text and "<!channel>" not in text
    assert "only approved talking points may be used" in text
    h.press(summary, "yes")
    hint = _posted(h, "use only approved talking points")
    tp_button = next(e for b in hint["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert tp_button["value"] == '/tp "new product launch"'

    h.dm("comm check K-2026-0001 contact email")
    _posted(h, "ticked “First contact”")
    h.dm("comm check K-2026-0001 message Launch in December")
    _posted(h, "ticked “Key message delivered”")
    # The follow-up reminder was planned when execution started: make it due now.
    with h.app.db.session() as s:
        row = s.exec(select(Reminder).where(Reminder.kind == "comm.followup")).one()
        row.due_at = row.planned_at = row.created_at
        s.add(row)
    Sweeper(h.app, {"slack": h.adapter}).sweep()
    reminder = _posted(h, "Follow-up confirmation open: K-2026-0001")
    before = _count(h, "ticked “Follow-up confirmation”")
    h.press(reminder, "/comm check K-2026-0001 followup email")
    _posted(h, "ticked “Follow-up confirmation”", before)
