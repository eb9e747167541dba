"""LIAISON_LOG_FORMAT=json: one JSON object a line, and the request id of an inbound message
found again on the delivery of its answers, with nothing people typed in the log."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot import logs
from bot.messages import Inbound
from tests.support import Chat, build_app, recording_adapters, run_due


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.formatter("json"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def test_the_request_id_of_an_inbound_follows_it_to_its_delivery(
    sqlite_url: str, tmp_path, clock, captured: io.StringIO,  # noqa: ANN001
) -> None:
    app, _ = build_app(sqlite_url, tmp_path)
    Chat(app, "admin", channel="C-COMPLAINTS", direct=False)("/route complaints here")
    Chat(app, "bob")("/whoami")
    Chat(app, "admin")("/role grant @bob agent")
    captured.truncate(0)
    captured.seek(0)

    # As the platform adapters hand messages over: the answers go to the outbox.
    text = ('/complaint new customer="ACME 公司" contact=13800000000 channel=phone '
            'summary=退款未到账 details=两周前申请退款 severity=high received=now owner=@bob')
    for said in (text, "确认"):
        app.handle(Inbound(platform="console", channel="console", user="alice", text=said,
                           direct=True, user_name="Alice Wong"), queue=True)
    sent = run_due(app, recording_adapters())
    assert len(sent) >= 3  # the summary, the confirmation, the card, bob's DM

    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert all(set(entry) >= {"time", "level", "logger", "message", "platform", "request_id"}
               for entry in lines)
    handled = [e for e in lines if e["message"].startswith("handled a message")]
    assert len(handled) == 2 and all(e["platform"] == "console" for e in handled)
    confirm_id = handled[1]["request_id"]
    assert confirm_id and confirm_id != handled[0]["request_id"]
    delivered = [e for e in lines if e["message"].startswith("delivered")
                 and e["request_id"] == confirm_id]
    # The confirmation, the channel's card and bob's DM: all under the "确认" request's id.
    assert len(delivered) == 3, [e["message"] for e in lines]
    assert {e["message"].rsplit(" to ", 1)[1] for e in delivered} == {
        "console:console:alice", "console:C-COMPLAINTS:", "console::bob"}
    everything = captured.getvalue()
    for private in ("ACME", "13800000000", "退款", "Alice Wong", "确认"):
        assert private not in everything


def test_plain_text_stays_the_default_and_names_the_request() -> None:
    record = logging.LogRecord("bot.core", logging.INFO, __file__, 1, "handled %s", ("x",),
                               None)
    plain = logs.formatter("text")
    assert plain.format(record).endswith("INFO bot.core: handled x")
    with logs.request("dingtalk", "abc123"):
        assert plain.format(record).endswith("handled x [dingtalk abc123]")
        entry = json.loads(logs.formatter("json").format(record))
    assert (entry["platform"], entry["request_id"], entry["message"]) == (
        "dingtalk", "abc123", "handled x")
