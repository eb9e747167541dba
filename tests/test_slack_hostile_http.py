"""Hostile HTTP at the Slack endpoint: malformed, oversized and replayed requests get a
status code and one log line, change nothing, and do not grow the process; /readyz says
whether the database answers."""

from __future__ import annotations

import logging
import resource
import socket
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest
from sqlalchemy import create_engine
from sqlmodel import select

from bot.models import ChannelRoute, InboundEvent
from tests.fakes.slack_api import trigger_id
from tests.test_slack import ADMIN, Harness, slack  # noqa: F401  (the fixture)


def _refusals(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "bot.adapters.http_guard"]


def _no_traceback(caplog: pytest.LogCaptureFixture) -> bool:
    return not any(r.exc_info for r in caplog.records)


@pytest.mark.parametrize(("body", "content_type"), [
    ('{"type": "event_callback", "event": ', "application/json"),
    ("[1, 2]", "application/json"),
    ("payload=%7Bnot+json", "application/x-www-form-urlencoded"),
    ("\xff\xfe", "application/x-www-form-urlencoded"),
])
def test_a_signed_malformed_body_gets_400_and_one_line(
        slack: Harness, caplog: pytest.LogCaptureFixture, body: str, content_type: str) -> None:  # noqa: F811
    caplog.set_level(logging.WARNING)
    status, _ = slack.slack.post(body, content_type)
    assert status == 400
    assert len(_refusals(caplog)) == 1 and "malformed" in _refusals(caplog)[0].getMessage()
    assert _no_traceback(caplog)
    assert [c.method for c in slack.fake.calls()] == ["auth.test"]


def test_an_unsigned_malformed_body_gets_401_before_it_is_parsed(
        slack: Harness, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    caplog.set_level(logging.WARNING)
    status, _ = slack.slack.post('{"broken', "application/json", signature="v0=" + "0" * 64)
    assert status == 401
    assert len(_refusals(caplog)) == 1 and _no_traceback(caplog)


def test_a_replayed_signed_command_gets_401_and_changes_nothing(
        slack: Harness, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    body = urlencode({
        "team_id": "T1", "channel_id": "CCMP", "channel_name": "complaints",
        "user_id": ADMIN, "user_name": "ada", "command": "/liaison",
        "text": "route complaints here", "response_url": "", "trigger_id": trigger_id(),
    })
    ts = int(time.time())
    signature = slack.slack.verifier.generate_signature(timestamp=str(ts), body=body)
    first = slack.slack.post(body, "application/x-www-form-urlencoded", timestamp=ts,
                             signature=signature)
    assert first[0] == 200
    slack.fake.wait_for("chat.postMessage")
    caplog.set_level(logging.WARNING)
    again = slack.slack.post(body, "application/x-www-form-urlencoded", timestamp=ts,
                             signature=signature)
    assert again[0] == 401
    assert len(_refusals(caplog)) == 1 and "replayed" in _refusals(caplog)[0].getMessage()
    with slack.app.db.session() as session:
        assert len(session.exec(select(ChannelRoute)).all()) == 1
        events = session.exec(select(InboundEvent)).all()
    assert [e.platform for e in events] == ["slack-signature"]
    # A later command from the same person in the same channel is handled after anything the
    # replay could have set off (one person's commands in one place are handled in order).
    status, _ = slack.slack.command("/liaison", "whoami", user=ADMIN, channel="CCMP")
    assert status == 200
    assert len(slack.fake.calls("chat.postMessage")) == 1


def _post_headers_only(port: int, length: int) -> bytes:
    """Announce a body of `length` bytes, send a little of it, and read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall((f"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: "
                      f"application/json\r\nContent-Length: {length}\r\n\r\n").encode())
        try:
            sock.sendall(b"x" * 65536)
        except OSError:
            pass  # the server may already have answered and closed
        return sock.recv(200)


def test_oversized_bodies_get_413_before_they_are_read(slack: Harness) -> None:  # noqa: F811
    port = int(slack.base_url.rsplit(":", 1)[1])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    answers: list[bytes] = []
    threads = [threading.Thread(target=lambda: answers.append(
        _post_headers_only(port, 50 * 1024 * 1024))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert len(answers) == 4 and all(a.startswith(b"HTTP/1.1 413") for a in answers)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024 - before
    assert grown < 20, f"the process grew by {grown} MB"
    with slack.app.db.session() as session:
        assert session.exec(select(InboundEvent)).all() == []


def test_readyz_says_whether_the_database_answers(slack: Harness) -> None:  # noqa: F811
    with urllib.request.urlopen(slack.base_url + "/readyz", timeout=5) as response:
        assert response.status == 200
    healthy = slack.app.db.engine
    # Nothing listens on port 1: the database is unreachable.
    slack.app.db.engine = create_engine("postgresql+psycopg://x@127.0.0.1:1/x",
                                        connect_args={"connect_timeout": 1})
    try:
        started = time.monotonic()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(slack.base_url + "/readyz", timeout=5)
        assert refused.value.code == 503 and time.monotonic() - started < 1.5
        with urllib.request.urlopen(slack.base_url + "/healthz", timeout=5) as response:
            assert response.status == 200  # liveness: the process is fine
    finally:
        slack.app.db.engine.dispose()
        slack.app.db.engine = healthy
    with urllib.request.urlopen(slack.base_url + "/readyz", timeout=5) as response:
        assert response.status == 200
