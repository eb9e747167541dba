"""A fake Slack: the Web API over HTTP, response URLs, and a Socket Mode WebSocket server.

The real slack_sdk / slack-bolt code talks to it unmodified (WebClient(base_url=fake.api_url)).
Every call is recorded with its parameters, so tests assert what Slack would have received.
Failures are scripted per method: `fake.fail("chat.postMessage", status=429, retry_after=7)`.

It refuses what Slack refuses, so a test cannot pass on an assumption Slack does not share:
- Block Kit payloads are checked with slack_sdk's own models and the documented limits
  ("Block Kit" reference, docs.slack.dev: 50 blocks in a message, 100 in a modal or Home tab;
  "chat.postMessage method": text is truncated past 40,000 characters, msg_too_long).
- The bot is a member of DMs and of the channels it joined (`add_channel(..., joined=True)` or
  conversations.join). Posting into a private channel it is not in answers `not_in_channel`;
  public ones work without joining, since the manifest asks for chat:write.public
  ("chat:write.public scope": send messages to channels your app isn't a member of).
  conversations.join works on public channels only (private ones answer
  `method_not_supported_for_channel_type`, "conversations.join method"). conversations.info
  tells is_member and is_private; a private channel the bot is not in is invisible to it
  (`channel_not_found`, "conversations.info method").
- Events of a channel reach the bot only when it is a member (`delivers`); the harness asks
  before sending one ("Events API": message.channels is sent for channels the app is in).
- Scopes: every Web API answer lists the token's scopes in the `x-oauth-scopes` header, and a
  method called without its required scope answers `missing_scope` with `needed` and
  `provided` ("Scopes and permissions" and each method's "Required scopes", docs.slack.dev).
  The token has the scopes manifest.yaml asks for unless a test sets `state.scopes`.
- A revoked or wrong token (`state.bad_tokens`) answers `invalid_auth` to any method
  ("auth.test method": invalid_auth, "Some aspect of authentication cannot be validated").
- chat.postEphemeral with a thread_ts of a thread that does not exist: Slack accepts it and
  never shows it ("chat.postEphemeral method": "Ephemeral messages in threads are only shown
  if there is already an active thread"). The fake refuses it (`thread_not_found`) so that a
  message nobody would see fails the test.
- Files, in the three steps slack_sdk's `files_upload_v2` takes ("files.getUploadURLExternal
  method", "files.completeUploadExternal method", and "Working with files": the old
  files.upload is retired). files.getUploadURLExternal needs `files:write`, a `filename` and
  a `length` (a positive integer: "Size in bytes of the file being uploaded") and answers an
  `upload_url` (here on 127.0.0.1) and a `file_id`. The bytes are then POSTed to that URL, raw
  or multipart ("Files can be sent as raw bytes or can be multipart form encoded. Slack will
  return HTTP 200 if the upload is successful"): the fake answers 404 for a URL it never
  issued and 400 when the bytes are not the `length` announced (the status of that refusal
  is the fake's choice; the docs say only that success is 200). files.completeUploadExternal
  (`files:write`) takes `files`, a JSON list of {id, title}, and shares them into
  `channel_id` (and `thread_ts`): an id never issued, or not uploaded yet, answers
  `file_not_found`; a channel the bot is not a member of, `not_in_channel` (public ones too:
  files:write has no `.public` counterpart as chat:write has, so the fake asks membership
  everywhere, the stricter reading). Shared files are in `fake.files` with their bytes.
- Modals open only from a fresh interaction: views.open and views.push take a `trigger_id`
  in the format Slack documents ("132456.7890123.abcdef", else `invalid_trigger_id`), once
  (`exchanged_trigger_id`), and within 3 seconds of the interaction ("Modals": "trigger_id
  ... expires 3 seconds after it's sent to your app"; `expired_trigger_id`; errors as listed
  in the "views.open method" and "views.push method" references). The ids come from
  `trigger_id()`, which the harness's commands and the tests' interactions use; the fake reads
  the time the id was sent from the id itself.
- Files people share with the bot (`add_file`, then a message event with subtype file_share
  carrying the file object) are served at their `url_private_download` on 127.0.0.1 only to
  a request with `Authorization: Bearer <the bot token>` whose token has `files:read`
  ("Working with files", section "Authentication for files"; Slack Platform Blog, "Important
  Changes to Files in the Web API": "url_private and url_private_download ... require an
  authorization header with a token that has either the files:read or read scopes"). Without
  that, the fake answers as people report Slack does: HTTP 200 with an HTML sign-in page, not
  the file (the docs do not name a status; the page is the stricter reading, since a client
  that only checks the status would take it for the file).
"""

from __future__ import annotations

import itertools
import json
import math
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

BOT_USER = "UBOT"
TRIGGER_TTL = 3.0  # seconds a trigger_id can open a modal ("Modals", docs.slack.dev)
_TRIGGER = re.compile(r"^(\d+)\.(\d+)\.[0-9a-f]+$")
_TRIGGERS = itertools.count(1)


def trigger_id(age: float = 0.0) -> str:
    """A trigger_id as Slack sends it with a slash command or an interaction, in the documented
    format ("132456.7890123.abcdef"); its first part is when it was sent (ms), `age` seconds
    ago, so the fake API can refuse it once it is older than TRIGGER_TTL."""
    sent_ms = int((time.time() - age) * 1000)
    return f"{sent_ms}.{next(_TRIGGERS)}.{secrets.token_hex(4)}"
BOT_ID = "BBOT"
TEAM = "T0001"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    response: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)
    status: int = 200
    retry_after: int | None = None


@dataclass
class Failure:
    status: int = 200
    error: str = ""
    retry_after: int | None = None
    times: int = 1
    after: int = 0  # calls that still succeed first


@dataclass
class _State:
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    socket_url: str = ""
    joined: set[str] = field(default_factory=set)  # channels the bot is a member of
    private: set[str] = field(default_factory=set)
    threads: set[tuple[str, str]] = field(default_factory=set)  # (channel, ts) with replies
    views: dict[str, dict[str, Any]] = field(default_factory=dict)  # view id -> view
    home: dict[str, dict[str, Any]] = field(default_factory=dict)  # user -> published Home
    # method -> seconds of refusal that its next call starts; method -> refused until
    limits: dict[str, float] = field(default_factory=dict)
    limited_until: dict[str, float] = field(default_factory=dict)
    scopes: set[str] = field(default_factory=lambda: set(manifest_scopes()))
    bad_tokens: set[str] = field(default_factory=set)  # tokens Slack answers invalid_auth
    # file id -> {"filename", "length", "title", "data" (None until uploaded)}
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: list[SharedFile] = field(default_factory=list)  # what completeUploadExternal shared
    # Files people shared with the bot: path -> (bytes, mimetype); served to the bot token.
    private_files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    bot_token: str = "xoxb-test"  # the token the app was installed with
    exchanged: set[str] = field(default_factory=set)  # trigger_ids that opened a view


@dataclass
class SharedFile:
    """A file shared into a conversation: what people there can open."""

    id: str
    filename: str
    title: str
    data: bytes
    channel: str
    thread_ts: str | None = None


# The scope each method the bot calls requires ("Required scopes" on each method's page).
METHOD_SCOPES = {
    "chat.postMessage": "chat:write", "chat.postEphemeral": "chat:write",
    "conversations.open": "im:write", "conversations.join": "channels:join",
    "users.info": "users:read", "conversations.info": "channels:read",
    "files.getUploadURLExternal": "files:write", "files.completeUploadExternal": "files:write",
}


def manifest_scopes() -> list[str]:
    """The bot scopes manifest.yaml asks for: what an install from it grants."""
    from pathlib import Path

    import yaml

    manifest = Path(__file__).resolve().parents[2] / "manifest.yaml"
    return list(yaml.safe_load(manifest.read_text())["oauth_config"]["scopes"]["bot"])


MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
MESSAGE_TEXT = 40000


def block_errors(blocks: Any, limit: int) -> str | None:
    """What Slack would refuse in `blocks`: slack_sdk's validators plus the block count."""
    from slack_sdk.errors import SlackObjectFormationError
    from slack_sdk.models.blocks import Block

    if blocks is None:
        return None
    if not isinstance(blocks, list) or len(blocks) > limit:
        return "invalid_blocks"
    try:
        for block in Block.parse_all(blocks):
            if block is None:
                return "invalid_blocks"
            block.validate_json()
            inner = block.to_dict()
            if inner.get("type") == "actions" and len(inner.get("elements", [])) > 25:
                return "invalid_blocks"
    except (SlackObjectFormationError, KeyError, TypeError, ValueError):
        return "invalid_blocks"
    return None


class FakeSlack:
    """The Web API at `api_url`, response URLs at `response_url(name)`."""

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency  # seconds each Web API call takes
        self.state = _State()
        self._cond = threading.Condition()
        self._ts = itertools.count(1)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                status, kind, answer = fake._download(self.path, dict(self.headers))
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if self.path.startswith("/upload/"):
                    status = fake._upload(self.path, body, self.headers.get("Content-Type", ""))
                    answer = b"OK - %d" % len(body) if status == 200 else b"refused"
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                    return
                raw = body.decode()
                ctype = self.headers.get("Content-Type", "")
                if "json" in ctype:
                    params = json.loads(raw or "{}")
                else:
                    params = dict(parse_qsl(raw, keep_blank_values=True))
                for key in ("blocks", "view", "attachments", "files"):
                    if isinstance(params.get(key), str):
                        params[key] = json.loads(params[key])
                path = self.path.split("?", 1)[0]
                method = path.rsplit("/", 1)[-1] if path.startswith("/api/") else path
                if fake.latency:
                    time.sleep(fake.latency)
                status, body, headers = fake._answer(method, params, dict(self.headers))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client killed mid-call (kill -9 tests) is not news

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.api_url = f"http://127.0.0.1:{self.port}/api/"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                        daemon=True)  # stop() waits 50 ms at most

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- scripting ---------------------------------------------------------------------------

    def add_user(
        self, user_id: str, name: str, *, tz: str = "Asia/Shanghai", locale: str = "zh-CN"
    ) -> None:
        self.state.users[user_id] = {
            "id": user_id, "name": name.lower(), "real_name": name, "tz": tz, "locale": locale,
            "profile": {"display_name": name, "real_name": name},
        }

    def fail(
        self, method: str, *, status: int = 200, error: str = "", retry_after: int | None = None,
        times: int = 1, after: int = 0,
    ) -> None:
        """The next `times` calls of `method` (after `after` that succeed) fail this way."""
        if status == 429 and not error:
            error = "ratelimited"
        self.state.failures.setdefault(method, []).append(
            Failure(status, error, retry_after, times, after)
        )

    def add_channel(self, channel: str, *, private: bool = False, joined: bool = False) -> None:
        with self._cond:
            if private:
                self.state.private.add(channel)
            if joined:
                self.state.joined.add(channel)

    def is_member(self, channel: str) -> bool:
        return channel.startswith("D") or channel in self.state.joined

    def delivers(self, channel: str) -> bool:
        """Whether Slack sends the bot events from this channel (it must be a member)."""
        with self._cond:
            return self.is_member(channel)

    def note_message(self, channel: str, thread_ts: str | None) -> None:
        """A person's message arrived (in a thread): the thread now exists."""
        if thread_ts:
            with self._cond:
                self.state.threads.add((channel, thread_ts))

    def rate_limit(self, method: str, seconds: float) -> None:
        """The next call of `method` is over its limit: it and every call for `seconds` after
        it get 429 with Retry-After, the seconds left (Slack's "Rate limits" page: "HTTP 429
        Too Many Requests ... a Retry-After HTTP header containing the number of seconds
        until you can retry")."""
        with self._cond:
            self.state.limits[method] = seconds

    def response_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/response/{name}"

    # -- reading -----------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        with self._cond:
            return [c for c in self.state.calls if method is None or c.method == method]

    def wait_for(
        self, method: str, count: int = 1, timeout: float = 10.0,
        where: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Block until `count` calls of `method` (matching `where`) arrived, or fail."""
        deadline = time.monotonic() + timeout

        def found() -> list[Call]:
            return [c for c in self.state.calls
                    if c.method == method and (where is None or where(c))]

        with self._cond:
            while len(found()) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(c.method, c.params.get("channel")) for c in self.state.calls]
                    raise AssertionError(f"expected {count} {method} call(s); saw {seen}")
                self._cond.wait(left)
            return found()

    def wait_for_form(self, timeout: float = 10.0) -> dict[str, Any]:
        """The form a button opened, as the person finally sees it. The adapter opens it at
        once when it is ready within its budget, else opens a placeholder (no input blocks) and
        fills it in with views.update ("Modals": a trigger_id lasts 3 s); which of the two
        happens depends on how busy the machine is, and either is right."""
        opened = self.wait_for("views.open", timeout=timeout)[0].params["view"]
        if any(b.get("type") == "input" for b in opened.get("blocks", [])):
            return opened
        return self.wait_for("views.update", timeout=timeout)[0].params["view"]

    def shared_files(self, channel: str | None = None) -> list[SharedFile]:
        """The files shared (files.completeUploadExternal), into `channel` if given."""
        with self._cond:
            return [f for f in self.state.files if channel is None or f.channel == channel]

    def add_file(self, name: str, data: bytes, mimetype: str) -> dict[str, Any]:
        """A file someone uploads into Slack: the file object a file_share message event
        carries in `files` (the fields "File object" documents that the bot reads)."""
        with self._cond:
            file_id = f"F{len(self.state.private_files) // 2 + 1:07d}"
            path = f"/files-pri/{TEAM}-{file_id}/download/{name}"
            self.state.private_files[path] = (data, mimetype)  # url_private_download
            self.state.private_files[path.replace("/download/", "/")] = (data, mimetype)
        base = f"http://127.0.0.1:{self.port}"
        return {"id": file_id, "name": name, "title": name, "mimetype": mimetype,
                "filetype": name.rsplit(".", 1)[-1], "size": len(data), "mode": "hosted",
                "url_private": base + path.replace("/download/", "/"),
                "url_private_download": base + path}

    def downloads(self) -> list[Call]:
        """The GETs of shared files, with their headers and the status answered."""
        return self.calls("files-pri")

    def _download(self, path: str, headers: dict[str, str]) -> tuple[int, str, bytes]:
        path = path.split("?", 1)[0]
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        with self._cond:
            call = Call("files-pri", {"path": path}, headers)
            self.state.calls.append(call)
            self._cond.notify_all()
            found = self.state.private_files.get(path)
            token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else ""
            allowed = (token == self.state.bot_token and token not in self.state.bad_tokens
                       and "files:read" in self.state.scopes)
            if not allowed or found is None:
                call.status = 200 if not allowed else 404
                page = b"<!DOCTYPE html><html><body>Sign in to Slack</body></html>"
                return call.status, "text/html; charset=utf-8", page if not allowed else b""
            return 200, found[1], found[0]

    def wait_for_files(self, count: int = 1, timeout: float = 10.0) -> list[SharedFile]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.state.files) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} shared file(s); saw "
                                         f"{[f.filename for f in self.state.files]}")
                self._cond.wait(left)
            return list(self.state.files)

    def posted_text(self, channel: str | None = None) -> list[str]:
        """Everything posted with chat.postMessage (to `channel`), as text and blocks' text."""
        return [message_text(c.params) for c in self.calls("chat.postMessage")
                if channel is None or c.params.get("channel") == channel]

    # -- answering ---------------------------------------------------------------------------

    def _answer(
        self, method: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._cond:
            call = Call(method, params, headers)
            now = time.monotonic()
            if method in self.state.limits:
                self.state.limited_until[method] = now + self.state.limits.pop(method)
            if self.state.limited_until.get(method, 0.0) > now:
                left = self.state.limited_until[method] - now
                call.status, call.response = 429, {"ok": False, "error": "ratelimited"}
                call.retry_after = max(1, math.ceil(left))
                self.state.calls.append(call)
                self._cond.notify_all()
                return 429, call.response, {"Retry-After": str(call.retry_after)}
            queue = self.state.failures.get(method) or []
            if queue and queue[0].after > 0:
                queue[0].after -= 1
                queue = []
            if queue:
                failure = queue[0]
                failure.times -= 1
                if failure.times <= 0:
                    queue.pop(0)
                extra = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
                status, call.response = failure.status, {"ok": False, "error": failure.error}
                call.status = status
            elif method.startswith("/response/") and sum(
                    c.method == method and c.status == 200 for c in self.state.calls) >= 5:
                # "Handling user interaction": a response_url takes up to five responses
                # (within 30 minutes); after that Slack refuses it.
                status, extra, call.response = 404, {}, {"ok": False, "error": "used_up"}
                call.status = status
            else:
                status, extra, call.response = 200, {}, self._authorised(method, headers)
                if call.response.get("ok", True):
                    call.response = self._ok(method, params)
                if method.startswith("/response/") and not call.response["ok"]:
                    status = 400  # a response URL answers a bad payload with HTTP 400
                call.status = status
            if not method.startswith("/response/"):
                extra["x-oauth-scopes"] = ",".join(sorted(self.state.scopes))
            self.state.calls.append(call)
            self._cond.notify_all()
            return status, call.response, extra

    def _authorised(self, method: str, headers: dict[str, str]) -> dict[str, Any]:
        """invalid_auth for a bad token, missing_scope for a method the token may not call."""
        if method.startswith("/response/"):
            return {"ok": True}
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if auth.removeprefix("Bearer ") in self.state.bad_tokens:
            return {"ok": False, "error": "invalid_auth"}
        needed = METHOD_SCOPES.get(method)
        if needed and needed not in self.state.scopes:
            return {"ok": False, "error": "missing_scope", "needed": needed,
                    "provided": ",".join(sorted(self.state.scopes))}
        return {"ok": True}

    def _upload(self, path: str, body: bytes, content_type: str) -> int:
        """The bytes of a file, POSTed to the upload_url files.getUploadURLExternal gave."""
        file_id = path.split("?", 1)[0].rsplit("/", 1)[-1]
        with self._cond:
            pending = self.state.uploads.get(file_id)
            self.state.calls.append(Call("upload", {"file_id": file_id, "bytes": len(body)}, {}))
            self._cond.notify_all()
            if pending is None:
                return 404
            data = _multipart_file(body, content_type) if "multipart/form-data" in \
                content_type else body
            if data is None or len(data) != pending["length"]:
                return 400
            pending["data"] = data
            return 200

    def _refusal(self, method: str, params: dict[str, Any]) -> str | None:
        """The error Slack would answer this call with, if any."""
        posting = method in ("chat.postMessage", "chat.postEphemeral")
        if posting or method.startswith("/response/"):
            if block_errors(params.get("blocks"), MESSAGE_BLOCKS):
                return "invalid_blocks"
            if len(str(params.get("text") or "")) > MESSAGE_TEXT:
                return "msg_too_long"
            if not params.get("text") and not params.get("blocks") and posting:
                return "no_text"
        if method in ("views.open", "views.update", "views.publish", "views.push"):
            from slack_sdk.errors import SlackObjectFormationError
            from slack_sdk.models.views import View

            view = params.get("view") or {}
            if block_errors(view.get("blocks"), VIEW_BLOCKS):
                return "invalid_arguments"
            try:  # title <= 24 characters, 1 to 100 blocks, ...
                View(**view).validate_json()
            except (SlackObjectFormationError, TypeError, ValueError):
                return "invalid_arguments"
        if method in ("views.open", "views.push"):
            refused = self._trigger_refusal(str(params.get("trigger_id") or ""))
            if refused:
                return refused
        channel = str(params.get("channel") or "")
        # chat.postMessage reference, error `not_in_channel`: a bot may post in a public
        # channel it has not joined only with the `chat:write.public` scope; in a private
        # one, only as a member.
        if posting and not self.is_member(channel) and (
                channel in self.state.private or "chat:write.public" not in self.state.scopes):
            return "not_in_channel"
        if method == "chat.postEphemeral" and params.get("thread_ts") and (
                channel, params["thread_ts"]) not in self.state.threads:
            return "thread_not_found"
        if method == "conversations.join" and channel in self.state.private:
            return "method_not_supported_for_channel_type"
        if method == "conversations.info" and channel in self.state.private and not (
                self.is_member(channel)):
            return "channel_not_found"
        return None

    def _trigger_refusal(self, trigger: str) -> str | None:
        """views.open / views.push: a trigger_id is good once, for 3 seconds ("Modals"; the
        errors of the "views.open method" reference)."""
        found = _TRIGGER.match(trigger)
        if not found:
            return "invalid_trigger_id"
        if trigger in self.state.exchanged:
            return "exchanged_trigger_id"
        if time.time() - int(found.group(1)) / 1000 > TRIGGER_TTL:
            return "expired_trigger_id"
        self.state.exchanged.add(trigger)
        return None

    def _ok(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        refused = self._refusal(method, params)
        if refused:
            return {"ok": False, "error": refused}
        ts = f"1700000000.{next(self._ts):06d}"
        if method == "auth.test":
            return {"ok": True, "user_id": BOT_USER, "bot_id": BOT_ID, "team_id": TEAM,
                    "user": "liaison", "team": "Test", "url": "https://test.slack.com/"}
        if method == "users.info":
            user = self.state.users.get(params.get("user", ""))
            if user is None:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "user": user}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(params.get("users", ""))}}
        if method == "chat.postMessage":
            if params.get("thread_ts"):
                self.state.threads.add((str(params.get("channel")), str(params["thread_ts"])))
            return {"ok": True, "channel": params.get("channel"), "ts": ts,
                    "message": {"text": params.get("text", ""), "ts": ts}}
        if method == "conversations.info":
            channel = str(params.get("channel"))
            return {"ok": True, "channel": {"id": channel, "is_member": self.is_member(channel),
                                            "is_private": channel in self.state.private}}
        if method == "conversations.join":
            channel = str(params.get("channel"))
            self.state.joined.add(channel)
            return {"ok": True, "channel": {"id": channel, "is_member": True}}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": ts}
        if method in ("views.open", "views.push"):
            view = {"id": "V" + ts.replace(".", ""), **params.get("view", {})}
            self.state.views[view["id"]] = view
            return {"ok": True, "view": view}
        if method == "views.update":
            if params.get("view_id") not in self.state.views:
                return {"ok": False, "error": "not_found"}
            view = {"id": params["view_id"], **params.get("view", {})}
            self.state.views[view["id"]] = view
            return {"ok": True, "view": view}
        if method == "views.publish":
            view = {"id": "VHOME", **params.get("view", {})}
            self.state.home[str(params.get("user_id"))] = view
            return {"ok": True, "view": view}
        if method == "apps.connections.open":
            return {"ok": True, "url": self.state.socket_url}
        if method == "files.getUploadURLExternal":
            return self._upload_url(params)
        if method == "files.completeUploadExternal":
            return self._complete_upload(params)
        return {"ok": True}

    def _upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        filename = str(params.get("filename") or "")
        try:
            length = int(str(params.get("length")))
        except ValueError:
            length = 0
        if not filename or length <= 0:
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._ts):08d}"
        self.state.uploads[file_id] = {"filename": filename, "length": length, "data": None}
        return {"ok": True, "file_id": file_id,
                "upload_url": f"http://127.0.0.1:{self.port}/upload/v1/{file_id}"}

    def _complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        files = params.get("files")
        if not isinstance(files, list) or not files or not all(
                isinstance(f, dict) and f.get("id") for f in files):
            return {"ok": False, "error": "invalid_arguments"}
        channel = str(params.get("channel_id") or "")
        for item in files:
            pending = self.state.uploads.get(str(item["id"]))
            if pending is None or pending["data"] is None:
                return {"ok": False, "error": "file_not_found"}
        if channel and not self.is_member(channel):
            return {"ok": False, "error": "not_in_channel"}
        done = []
        for item in files:
            pending = self.state.uploads.pop(str(item["id"]))
            title = str(item.get("title") or pending["filename"])
            if channel:
                self.state.files.append(SharedFile(
                    str(item["id"]), pending["filename"], title, pending["data"], channel,
                    str(params.get("thread_ts") or "") or None))
            done.append({"id": item["id"], "name": pending["filename"], "title": title,
                         "size": len(pending["data"])})
        return {"ok": True, "files": done}


def _multipart_file(body: bytes, content_type: str) -> bytes | None:
    """The first file part of a multipart/form-data body."""
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    for part in message.iter_parts():
        if part.get_filename() is not None or part.get_param("name", header="content-disposition"):
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else None
    return None


def message_text(params: dict[str, Any]) -> str:
    """A message's text plus the text of its blocks and buttons, as a person would read it."""
    parts = [str(params.get("text", ""))]
    for block in params.get("blocks") or []:
        text = block.get("text")
        if isinstance(text, dict):
            parts.append(text.get("text", ""))
        for element in block.get("elements", []):
            inner = element.get("text")
            if isinstance(inner, dict):
                parts.append(inner.get("text", ""))
            elif isinstance(inner, str):
                parts.append(inner)
    return "\n".join(parts)


class FakeSocketMode:
    """A Socket Mode WebSocket server: says hello, pushes envelopes, collects the acks."""

    def __init__(self) -> None:
        from websockets.sync.server import serve

        self.acks: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._connections: list[Any] = []
        self.server = serve(self._session, "127.0.0.1", 0)
        self.port = self.server.socket.getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}/link"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FakeSocketMode:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()

    def _session(self, websocket: Any) -> None:
        with self._cond:
            self._connections.append(websocket)
            self._cond.notify_all()
        websocket.send(json.dumps({"type": "hello", "num_connections": 1,
                                   "connection_info": {"app_id": "A1"}}))
        try:
            for message in websocket:
                with self._cond:
                    self.acks.append(json.loads(message))
                    self._cond.notify_all()
        except Exception:  # noqa: BLE001  (the client went away)
            pass

    def wait_connected(self, timeout: float = 10.0) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: self._connections, timeout):
                raise AssertionError("the Socket Mode client never connected")

    def push(self, envelope: dict[str, Any]) -> None:
        with self._cond:
            connection = self._connections[-1]
        connection.send(json.dumps(envelope))

    def wait_ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next((a for a in self.acks if a.get("envelope_id") == envelope_id), None)

        with self._cond:
            if not self._cond.wait_for(found, timeout):
                raise AssertionError(f"no ack for envelope {envelope_id}; acks: {self.acks}")
            ack = found()
            assert ack is not None
            return ack


class SignedClient:
    """Sends what Slack sends, signed as Slack signs it, over HTTP to the bot's endpoint."""

    def __init__(self, base_url: str, secret: str) -> None:
        from slack_sdk.signature import SignatureVerifier

        self.base_url = base_url
        self.verifier = SignatureVerifier(secret)

    def post(
        self, body: str, content_type: str, *, timestamp: int | None = None,
        signature: str | None = None, headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        import urllib.error
        import urllib.request

        ts = str(int(time.time()) if timestamp is None else timestamp)
        sent = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature or self.verifier.generate_signature(
                timestamp=ts, body=body),
            **(headers or {}),
        }
        request = urllib.request.Request(
            self.base_url + "/slack/events", data=body.encode(), headers=sent, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def command(self, command: str, text: str, *, user: str, channel: str,
                channel_name: str = "general", response_url: str = "",
                **signing: Any) -> tuple[int, str]:
        from urllib.parse import urlencode

        body = urlencode({
            "token": "legacy", "team_id": TEAM, "team_domain": "test", "channel_id": channel,
            "channel_name": channel_name, "user_id": user, "user_name": user.lower(),
            "command": command, "text": text, "api_app_id": "A1", "is_enterprise_install":
            "false", "response_url": response_url, "trigger_id": trigger_id(),
        })
        return self.post(body, "application/x-www-form-urlencoded", **signing)

    def event(self, event: dict[str, Any], *, event_id: str, retry: int | None = None,
              **signing: Any) -> tuple[int, str]:
        if event.get("type") == "message" and str(event.get("text", "")).startswith("/"):
            # Slack's client sends a message starting with `/` as a slash command, or answers
            # "not a valid command" itself; it never becomes a message event ("Implementing
            # slash commands", docs.slack.dev).
            raise AssertionError(f"Slack never delivers {event['text']!r} as a message")
        body = json.dumps({
            "token": "legacy", "team_id": TEAM, "api_app_id": "A1", "type": "event_callback",
            "event_id": event_id, "event_time": int(time.time()), "event": event,
            "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
        })
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} \
            if retry else None
        return self.post(body, "application/json", headers=headers, **signing)

    def interaction(self, payload: dict[str, Any], **signing: Any) -> tuple[int, str]:
        from urllib.parse import urlencode

        payload = {"team": {"id": TEAM}, "api_app_id": "A1", "token": "legacy", **payload}
        body = urlencode({"payload": json.dumps(payload)})
        return self.post(body, "application/x-www-form-urlencoded", **signing)
