"""Test harness: Liaison over a real database, driven like a chat transcript.

    chat = Chat(app, "alice")
    chat("/help")            -> the text of the replies to alice, joined
    chat.say("/help")        -> the Outbound objects, to look at addresses and choices
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

from bot.config import Settings
from bot.conversation import Flow, Step
from bot.core import Liaison
from bot.db import Database
from bot.messages import Audience, Choice, Inbound, Outbound, Reply
from bot.parsers import number, parse_mention, text, when
from bot.render import Renderer
from bot.router import Registry

TEST_TEMPLATES = Path(__file__).parent / "templates"


def settings(db_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "default_locale": "zh",
        "timezone": "Asia/Shanghai",
        "admins": "console:admin,slack:UADMIN",
        "conversation_timeout": timedelta(hours=24),
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


# The URLs of PostgreSQL test databases whose schema a test changed (an index dropped): the
# db_url fixture drops such a copy instead of emptying it for the next test of its worker.
SCHEMA_CHANGED: set[str] = set()


def renderer_with_test_templates(tmp_path: Path | None = None,
                                 default_locale: str = "zh") -> Renderer:
    """The real templates plus the ones the test flow below needs (tests/templates/<locale>/
    test/), read where they are: nothing is copied."""
    return Renderer(default_locale, extra=[TEST_TEMPLATES])


def add_test_flow(registry: Registry) -> list[dict[str, Any]]:
    """A five-step flow touching every shared parser: /visit new."""
    saved: list[dict[str, Any]] = []
    kinds = [Choice("media", "test.media"), Choice("customer", "test.customer")]

    def finish(ctx, answers):  # noqa: ANN001, ANN202
        saved.append(dict(answers))
        ctx.audit("visit", str(len(saved)), "create", answers)
        return [
            Reply("test/saved", {"answers": answers}),
            Reply("test/card", {"answers": answers}, audience=Audience.PURPOSE,
                  purpose="complaints"),
        ]

    registry.flow(
        Flow(
            name="visit",
            steps=(
                Step("who", "test/who", text(max_len=50)),
                Step("kind", "test/kind", choices=kinds),
                Step("score", "test/score", number(1, 5), optional=True),
                Step("owner", "test/owner", parse_mention),
                Step("at", "test/at", when()),
                Step("topics", "test/topics", text(max_len=40), collect=True, optional=True),
            ),
            summary="test/summary",
            finish=finish,
        )
    )
    registry.family("visit", aliases=("拜访",), label="test.family")

    @registry.command("visit", "new", aliases=("新建",), usage="test.usage_new")
    def new(ctx, args):  # noqa: ANN001, ANN202
        return ctx.app.engine.start(ctx, "visit", args.keywords)

    return saved


class Chat:
    def __init__(
        self,
        app: Liaison,
        user: str = "alice",
        *,
        platform: str = "console",
        channel: str = "console",
        direct: bool = True,
        name: str | None = None,
    ) -> None:
        self.app = app
        self.user = user
        self.platform = platform
        self.channel = channel
        self.direct = direct
        self.name = name or user
        self.seen: list[Outbound] = []

    def say(self, text: str, **fields: Any) -> list[Outbound]:
        inbound = Inbound(
            platform=self.platform,
            channel=self.channel,
            user=self.user,
            text=text,
            direct=self.direct,
            user_name=self.name,
            **fields,
        )
        out = self.app.handle(inbound)
        self.seen.extend(out)
        return out

    def __call__(self, text: str, **fields: Any) -> str:
        out = self.say(text, **fields)
        return "\n".join(o.message.text for o in out if o.address.in_reply)


def build_app(db_url: str, tmp_path: Path, **overrides: Any) -> tuple[Liaison, list[dict]]:
    registry = Registry()
    import handlers

    handlers.register_all(registry)
    saved = add_test_flow(registry)
    db = Database(db_url)  # the fixtures hand out migrated databases
    app = Liaison(settings(db_url, **overrides), db, renderer_with_test_templates(tmp_path),
                  registry)
    return app, saved


class RecordingAdapter:
    """Stands in for a platform adapter in reminder tests: records what it was asked to send,
    and fails as told (`fail_with` is consumed one error per send)."""

    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.sent: list[Outbound] = []
        self.fail_with: list[Exception] = []
        self.always_fail: Exception | None = None
        self.on_send = None

    def send(self, outbound: Outbound) -> None:
        if self.always_fail is not None:
            raise self.always_fail
        if self.fail_with:
            raise self.fail_with.pop(0)
        self.sent.append(outbound)
        if self.on_send:
            self.on_send(outbound)


def recording_adapters() -> dict[str, RecordingAdapter]:
    return {p: RecordingAdapter(p) for p in ("console", "slack", "dingtalk")}


def run_due(app: Liaison, adapters: dict[str, RecordingAdapter] | None = None, **kw: Any):
    """One sweep of the reminder outbox at the (fake) current time; returns what went out."""
    from schedules.worker import Sweeper

    adapters = adapters if adapters is not None else recording_adapters()
    result = Sweeper(app, adapters, **kw).sweep()
    return result.sent


@dataclass
class Ran:
    """What `liaison ARGS` printed and returned, as subprocess.run would report it."""

    returncode: int
    stdout: str
    stderr: str


def liaison(*args: str, stdin: str = "", **env: str) -> Ran:
    """Run `liaison ARGS` in this process: bot.cli.main with this argv, the environment plus
    ENV (the test's scrubbed one, cwd its tmp_path), STDIN as a pipe's lines, standard output
    and error captured, and argparse's exits (--help, --version, a usage error) turned into
    the exit code; the signal handlers `liaison run` and `console` install are put back. The
    same code path as the `liaison` script minus the interpreter's start-up and the imports
    (a second or two of CPU a call); tests of the process boundary itself (signals, the
    console's pipe and terminal, start-up, an installed wheel) start real processes."""
    import signal

    from bot import cli

    out, err = io.BytesIO(), io.BytesIO()
    stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    stderr = io.TextIOWrapper(err, encoding="utf-8", write_through=True)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    with mock.patch.dict(os.environ, env), mock.patch("sys.stdin", io.StringIO(stdin)), \
            contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = cli.main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            stdout.flush()
            stderr.flush()
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
    return Ran(code, out.getvalue().decode("utf-8"), err.getvalue().decode("utf-8"))


def head_then_get(port: int, path: str) -> bytes:
    """HEAD then GET `path` on one kept-alive HTTP/1.1 connection (the GET closing it): all
    the server sent. A body sent after the HEAD shows as bytes before the second status line."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\n"
                     f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                     .encode())
        received = b""
        while chunk := sock.recv(4096):
            received += chunk
    return received
