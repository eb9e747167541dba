"""The complaint intake in Slack, end to end: the real complaints domain behind the real
slack-bolt app, against the fake Slack Web API, over signed HTTP."""

from __future__ import annotations

import json

from tests import test_slack
from tests.fakes.slack_api import message_text, trigger_id
from tests.test_slack import ALICE, COMPLAINTS, DM, Harness, bind_complaints_channel

slack = test_slack.slack  # the same fixture: Liaison on the fake Slack, over signed HTTP


def _said(h: Harness, text: str) -> list:  # noqa: ANN001
    return [c for c in h.fake.calls("chat.postMessage")
            if c.params["channel"] == DM and text in message_text(c.params)]


def _answer(h: Harness, text: str, expect: str) -> dict:
    before = len(_said(h, expect))
    h.dm(text)
    return h.fake.wait_for("chat.postMessage", before + 1, where=lambda c: (
        c.params["channel"] == DM and expect in message_text(c.params)))[-1].params


def _press(h: Harness, params: dict, value: str, expect: str) -> dict:
    before = len(_said(h, expect))
    h.press(params, value)
    return h.fake.wait_for("chat.postMessage", before + 1, where=lambda c: (
        c.params["channel"] == DM and expect in message_text(c.params)))[-1].params


def test_complaint_new_answered_in_a_dm_until_the_card_is_in_the_complaints_channel(
    slack: Harness,
) -> None:
    h = slack
    bind_complaints_channel(h)
    status, body = h.slack.command("/complaint", "new", user=ALICE, channel="D0OTHER",
                                   channel_name="directmessage")
    assert (status, body) == (200, "")
    h.fake.wait_for("chat.postMessage", where=lambda c: "Which customer" in message_text(
        c.params) and c.params["channel"] == DM)

    # Typed literally, `<!channel>` comes escaped; a pasted address comes as Slack markup.
    _answer(h, "ACME &lt;!channel&gt; Ltd", "How can we reach them")
    ask_channel = _answer(h, "<mailto:ops@acme.com|ops@acme.com> or <https://acme.com/c|the form>",
                          "How did the complaint arrive?")
    _press(h, ask_channel, "email", "Sum it up in one line")
    _answer(h, "Delivery a week late", "The details")
    ask_severity = _answer(h, "Order 42 arrived a week late; they want a refund.",
                           "How severe is it?")
    _press(h, ask_severity, "high", "When did it arrive?")
    _answer(h, "skip", "Who owns it?")
    confirm = _answer(h, "me", "Please confirm this complaint")
    h.press(confirm, "yes")

    card = h.fake.wait_for("chat.postMessage", 2,
                           where=lambda c: c.params["channel"] == COMPLAINTS)[-1].params
    text = message_text(card)
    assert "ACME &lt;!channel&gt; Ltd" in text and "<!channel>" not in text
    assert "Delivery a week late" in text
    # Stored as typed: the address and the link's label, no Slack markup.
    assert "ops@acme.com or the form (https://acme.com/c)" in text
    assert "mailto" not in text
    filed = h.fake.wait_for("chat.postMessage", where=lambda c: (
        c.params["channel"] == DM and "filed" in message_text(c.params)))[-1].params
    assert "Complaint C-" in message_text(filed)


def test_complaint_modal_marks_the_field_that_does_not_read(slack: Harness) -> None:
    h = slack
    h.slack.command("/complaint", "new", user=ALICE, channel=DM,
                    channel_name="directmessage")
    started = h.fake.wait_for("chat.postMessage")[0].params
    button = next(e for b in started["blocks"] if b["type"] == "actions"
                  for e in b["elements"] if e["action_id"] == "liaison_form_open")
    h.slack.interaction({
        "type": "block_actions", "user": {"id": ALICE}, "channel": {"id": DM},
        "trigger_id": trigger_id(), "container": {"type": "message", "message_ts": "1.0"},
        "message": {"ts": "1.0", "text": started["text"], "blocks": started["blocks"]},
        "actions": [{**button, "block_id": "b", "action_ts": "1"}],
    })
    view = h.fake.wait_for_form()
    assert [b["block_id"] for b in view["blocks"]] == [
        "customer", "contact", "channel", "summary", "details", "severity", "received",
        "received__time", "owner"]

    def field(key: str, value: str) -> dict:
        if key in ("channel", "severity"):
            return {"value": {"type": "static_select", "selected_option": {"value": value}}}
        if key == "owner":
            return {"value": {"type": "users_select", "selected_user": value}}
        if key == "received":
            return {"value": {"type": "datepicker", "selected_date": value}}
        if key == "received__time":
            return {"value": {"type": "timepicker", "selected_time": value}}
        return {"value": {"type": "plain_text_input", "value": value}}

    # A complaint cannot have arrived in the future: the error is on the date picker.
    values = {"customer": "ACME", "channel": "email", "summary": "Late",
              "details": "A week late", "severity": "high", "received": "2099-01-01",
              "received__time": "10:00", "owner": ALICE}
    status, body = h.slack.interaction({
        "type": "view_submission", "user": {"id": ALICE},
        "view": {**view, "id": "V1", "state": {"values": {
            k: field(k, v) for k, v in values.items()}}},
    })
    answer = json.loads(body)
    assert status == 200 and answer["response_action"] == "errors"
    assert list(answer["errors"]) == ["received"]

    # Corrected, with the optional contact and arrival time left empty: nothing more is asked
    # but the confirmation.
    del values["received"], values["received__time"]
    status, body = h.slack.interaction({
        "type": "view_submission", "user": {"id": ALICE},
        "view": {**view, "id": "V1", "state": {"values": {
            k: field(k, v) for k, v in values.items()}}},
    })
    assert (status, body) == (200, "")
    confirm = h.fake.wait_for("chat.postMessage", where=lambda c: (
        "Please confirm this complaint" in message_text(c.params)))[-1].params
    assert "How can we reach them" not in texts_to(h, DM)
    assert confirm["channel"] == DM
    details = next(b for b in view["blocks"] if b["block_id"] == "details")
    assert details["element"]["multiline"] is True
    h.press(confirm, "yes")
    h.fake.wait_for("chat.postMessage", where=lambda c: "filed" in message_text(c.params))


def texts_to(h: Harness, channel: str) -> str:
    return "\n".join(message_text(c.params) for c in h.fake.calls("chat.postMessage")
                     if c.params["channel"] == channel)
