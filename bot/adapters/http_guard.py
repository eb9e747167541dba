"""A small WSGI middleware in front of the Slack HTTP endpoint: what a hostile or broken
client sends is answered here, in a few bytes and one log line, before Bolt parses anything.

- A body over `max_body` (1 MB) gets 413 from its Content-Length, before it is read (waitress
  is also started with the same `max_request_body_size`, for bodies without a length).
- The signature is checked before the body is parsed (Slack's "Verifying requests from
  Slack": HMAC-SHA256 of `v0:<timestamp>:<body>` with the signing secret, and a timestamp
  within five minutes): a bad or missing one gets 401.
- A signed command or interaction seen before (the same signature; it is only valid within
  those five minutes) gets 401 and changes nothing. Signatures are remembered in the
  database, so a replay sent to another replica is refused too. Events API deliveries carry
  an event id, by which the core handles each once; they are not refused.
- A signed body that does not parse (form fields, the interactivity `payload` JSON, or an
  Events API JSON body) gets 400.
- What passes goes to `slack` (Bolt's own WSGI adapter) when it is given, straight from here:
  through the web app's Flask route it cost a request context, a second reading of the body
  and a tenth of a slash command's time (issue 22). Everything else goes to `app`.
- GET /readyz answers 200 when the database answers within a second, else 503; GET /healthz
  (liveness) stays with the adapter.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from slack_sdk.signature import SignatureVerifier

from bot.db import Database, Direct, dialect_insert
from bot.errors import StorageError
from bot.models import InboundEvent

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
READY_WITHIN = 1.0  # seconds /readyz waits for the database
REPLAY_KEY = "slack-signature"  # InboundEvent.platform of remembered signatures
SLACK_PATH = "/slack/events"
WEB_PATHS = ("/dash/",)  # the dashboard's pages and forms: not Slack's (domains add theirs)

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class SlackHttpGuard:
    def __init__(self, app: Wsgi, db: Database, signing_secret: str,
                 *, max_body: int = MAX_BODY, web_paths: tuple[str, ...] = (),
                 slack: Wsgi | None = None) -> None:
        self.app = app
        self.slack = slack or app  # POST /slack/events, once it passed
        self.web_paths = WEB_PATHS + web_paths  # pages and forms the web app reads itself
        self.db = db
        self.verifier = SignatureVerifier(signing_secret)
        self.max_body = max_body
        self._ready_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="readyz")
        # One INSERT returning the new row's id, or nothing on a signature seen before (a row
        # count would not do: psycopg's is -1, truthy, once its cursor is closed).
        table = InboundEvent.__table__
        self._remember = Direct(
            dialect_insert(db.dialect)(table)
            .on_conflict_do_nothing(index_elements=["platform", "event_id"])
            .returning(table.c.id), ["platform", "event_id", "received_at"])

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]):  # noqa: ANN204
        method = environ.get("REQUEST_METHOD", "")
        if environ.get("PATH_INFO") == "/readyz" and method in ("GET", "HEAD"):
            return self._readyz(start_response, head=method == "HEAD")
        if method != "POST" or str(environ.get("PATH_INFO", "")).startswith(self.web_paths):
            # The dashboard's own forms (sign in, sign out) are not Slack's: the web app
            # reads them, under the same MAX_BODY (bot/web/app.py).
            return self.app(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _refuse(start_response, 400, "bad Content-Length")
        if length > self.max_body:
            return _refuse(start_response, 413, f"body of {length} bytes over {self.max_body}")
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        headers = {
            "timestamp": environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP"),
            "signature": environ.get("HTTP_X_SLACK_SIGNATURE"),
        }
        if not self.verifier.is_valid(body, headers["timestamp"], headers["signature"]):
            return _refuse(start_response, 401, "missing or invalid Slack signature")
        problem, event_id = _parse(body, environ.get("CONTENT_TYPE") or "")
        if problem:
            return _refuse(start_response, 400, f"malformed body: {problem}")
        # Events API deliveries carry an event id, by which the core already handles each
        # once (Slack's own retries included); commands and button presses carry none.
        if not event_id and self._replayed(str(headers["signature"])):
            return _refuse(start_response, 401, "replayed Slack request (signature seen before)")
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        if environ.get("PATH_INFO") == SLACK_PATH:
            return self.slack(environ, start_response)
        return self.app(environ, start_response)

    def _replayed(self, signature: str) -> bool:
        """Whether the signature was seen before; if not, it is remembered, durably, before
        the request goes on: one statement that commits by itself (Database.autocommit_rows)."""
        params = {"platform": REPLAY_KEY, "event_id": signature[:200],
                  "received_at": datetime.now(UTC)}
        try:
            return not self.db.autocommit_rows(self._remember, params)
        except StorageError:
            # Logged and counted by the database (once while it is away). Bolt's five-minute
            # timestamp check still applies, and the request itself meets the same outage.
            return False

    def _readyz(self, start_response: Callable[..., Any], *, head: bool) -> list[bytes]:
        future = self._ready_pool.submit(self.db.ready)
        try:
            ready = future.result(timeout=READY_WITHIN)
        except FutureTimeout:
            ready = False
        status = "200 OK" if ready else "503 Service Unavailable"
        body = b"ready\n" if ready else b"database unavailable\n"
        start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                                ("Content-Length", str(len(body)))])
        # HEAD: headers only (waitress sends whatever is returned, which a kept-alive client
        # would read as the start of its next answer).
        return [] if head else [body]


def _parse(body: bytes, content_type: str) -> tuple[str | None, str | None]:
    """(what is wrong with a signed body or None when Bolt can parse it, its event id)."""
    try:
        text = body.decode("utf-8")
        if content_type.startswith("application/json"):
            data = json.loads(text)
            if not isinstance(data, dict):
                return "JSON body is not an object", None
            return None, str(data.get("event_id") or "") or None
        payload = _form_payload(text)
        if payload is not None and not isinstance(json.loads(payload), dict):
            return "payload is not a JSON object", None
    except (UnicodeDecodeError, ValueError) as exc:
        return exc.__class__.__name__, None
    return None, None


def _form_payload(text: str) -> str | None:
    """The first `payload` field of a form body (an interaction's JSON), or None; ValueError
    for a field without `=`. What `parse_qs(text, keep_blank_values=True,
    strict_parsing=True)` refuses and finds, without decoding every value (Bolt parses the
    form itself, next)."""
    if not text:
        return None
    found = None
    for field in text.split("&"):
        name, equals, value = field.partition("=")
        if not equals:
            raise ValueError(f"bad query field: {field[:40]!r}")
        if found is None and (name == "payload" or (
                ("%" in name or "+" in name) and unquote_plus(name) == "payload")):
            found = unquote_plus(value)
    return found


def _refuse(start_response: Callable[..., Any], status: int, why: str) -> list[bytes]:
    log.warning("Slack HTTP request refused with %s: %s", status, why)
    reason = {400: "Bad Request", 401: "Unauthorized", 413: "Payload Too Large"}[status]
    start_response(f"{status} {reason}", [("Content-Type", "text/plain; charset=utf-8")])
    return [f"{reason}\n".encode()]
