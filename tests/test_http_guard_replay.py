"""The Slack HTTP guard's replay refusal on both databases: a signed request is remembered by
its signature in the database shared by every replica, and the same signature again gets 401
(tests/test_slack_hostile_http.py covers the whole Slack endpoint, on SQLite)."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from bot.adapters.http_guard import SlackHttpGuard
from bot.db import Database

SECRET = "guard-secret"


def _environ(body: str, signature: str, ts: str) -> dict[str, Any]:
    data = body.encode()
    return {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/slack/events", "QUERY_STRING": "",
        "CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": str(len(data)),
        "wsgi.input": io.BytesIO(data), "HTTP_X_SLACK_REQUEST_TIMESTAMP": ts,
        "HTTP_X_SLACK_SIGNATURE": signature,
    }


def _signed(body: str) -> tuple[str, str]:
    ts = str(int(time.time()))
    return SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body), ts


def _call(app: Callable[..., Any], environ: dict[str, Any]) -> int:
    status: list[str] = []
    b"".join(app(environ, lambda s, _h, _e=None: status.append(s)))
    return int(status[0].split()[0])


@pytest.fixture
def databases(db_url: str) -> Iterator[Callable[[], Database]]:
    """Engines on the one database, as each replica has its own; disposed after the test."""
    made: list[Database] = []

    def make() -> Database:
        made.append(Database(db_url))
        return made[-1]

    yield make
    for db in made:
        db.dispose()


def _replicas(databases: Callable[[], Database],
              app: Callable[..., Any]) -> tuple[SlackHttpGuard, SlackHttpGuard]:
    """Two replicas' guards."""
    return (SlackHttpGuard(app, databases(), SECRET), SlackHttpGuard(app, databases(), SECRET))


def test_a_replayed_button_press_is_refused_by_another_replica(
        databases: Callable[[], Database]) -> None:
    seen: list[str] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        seen.append(environ["PATH_INFO"])
        start_response("200 OK", [])
        return [b""]

    body = urlencode({"payload": json.dumps({"type": "block_actions", "actions": []})})
    signature, ts = _signed(body)
    first, second = _replicas(databases, app)
    assert _call(first, _environ(body, signature, ts)) == 200
    assert _call(second, _environ(body, signature, ts)) == 401
    assert len(seen) == 1  # the replay never reached the app


def test_a_replayed_command_is_refused_by_another_replica(
        databases: Callable[[], Database]) -> None:
    answered: list[str] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        answered.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"text": "answer"}']

    body = urlencode({"command": "/liaison", "text": "help", "user_id": "U1",
                      "channel_id": "C1", "team_id": "T1"})
    signature, ts = _signed(body)
    first, second = _replicas(databases, app)
    assert _call(first, _environ(body, signature, ts)) == 200
    assert _call(second, _environ(body, signature, ts)) == 401
    assert _call(first, _environ(body, signature, ts)) == 401
    assert len(answered) == 1  # the replays never reached the app


def test_a_replay_record_that_fails_is_logged_and_counted_not_passed_over_in_silence(
        databases: Callable[[], Database], caplog: pytest.LogCaptureFixture) -> None:
    """The record fails (here: a table the database does not have, as after a migration gone
    wrong): the command still goes on (Bolt's timestamp window still holds), and the failure
    is an error in the log, as any refused statement is, not a debug line."""
    from sqlalchemy import Column, Integer, MetaData, String, Table, insert

    from bot.db import Direct

    missing = Table("no_such_table", MetaData(), Column("id", Integer, primary_key=True),
                    Column("event_id", String))
    guard = SlackHttpGuard(lambda _e, start: start("200 OK", []) or [b""], databases(), SECRET)
    guard._remember = Direct(insert(missing).returning(missing.c.id), ["event_id"])
    body = urlencode({"command": "/liaison", "text": "help"})
    signature, ts = _signed(body)
    with caplog.at_level("DEBUG"):
        assert _call(guard, _environ(body, signature, ts)) == 200
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        "database error, change rolled back"]
