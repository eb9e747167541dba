"""The console chat: Liaison in a terminal, on the same core as Slack and DingTalk.

In a terminal it is a prompt with history; when standard input is not a terminal it reads
lines and prints each reply, so `printf '/help\\n' | liaison console` works in scripts.

A line `file:PATH` sends that local file with the message (as a chat's upload would), with no
text: a question that takes a file (a press release's logo) reads it. A file over
LIAISON_UPLOAD_MAX_BYTES is not read; the handler tells the person the limit."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from bot.core import Liaison
from bot.errors import DeliveryError
from bot.messages import Inbound, Outbound, Upload

CHANNEL = "console"
OTHER_CONSOLE_RETRY = 60.0  # seconds before a DM for someone else's console is offered again
FILE_PREFIX = "file:"  # `file:PATH`: send a local file
# What a local file's name says it is (the handler checks the bytes themselves).
MIME_BY_SUFFIX = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                  ".gif": "image/gif", ".pdf": "application/pdf", ".txt": "text/plain"}
# Leave the console (a draft in progress stays, and is offered again next time).
LEAVE = {"quit", "exit", "/quit", "/exit", "退出"}


def is_leaving(line: str) -> bool:
    return line.strip().lower() in LEAVE


class ConsoleAdapter:
    platform = "console"

    def __init__(
        self,
        app: Liaison,
        user: str,
        *,
        out: TextIO | None = None,
        history: Path | None = None,
        locale: str | None = None,
        files_dir: Path | None = None,
    ) -> None:
        self.app = app
        # A terminal has no chat to put a file in: files are written here, their path shown.
        self.files_dir = files_dir or Path(app.settings.console_files_dir)
        self.user = user
        self.locale = locale  # --locale: this session only
        self.out = out or sys.stdout
        self.history = history
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    # -- outbound ---------------------------------------------------------------------------

    def send(self, outbound: Outbound) -> None:
        address = outbound.address
        if address.user and address.channel is None and address.user != self.user:
            # A direct message belongs in its recipient's console: several consoles on one
            # database each sweep reminders, and this one is not theirs. Another may take it.
            raise DeliveryError("console_not_open", temporary=True,  # (no id: metrics label)
                                retry_after=OTHER_CONSOLE_RETRY)
        self._print(self._delivered(outbound))

    def _delivered(self, outbound: Outbound) -> str:
        """The message as shown, after its files are written: one `📎 path` line each."""
        lines = [self.format(outbound)]
        for attachment in outbound.message.files:
            self.files_dir.mkdir(parents=True, exist_ok=True)
            name = Path(attachment.filename).name  # never outside the folder
            path = self.files_dir / (name if name.strip(".") else "file")
            path.write_bytes(attachment.data)
            lines.append(f"📎 {path}")
        return "\n".join(lines)

    def format(self, outbound: Outbound) -> str:
        address, message = outbound.address, outbound.message
        lines = []
        if not address.in_reply:
            if address.purpose:
                where = f"#{address.purpose}"
            elif address.channel:
                where = f"#{address.channel}"
            else:
                where = f"@{address.user}"
            lines.append(f"── [{where}] ──")
        if message.title:
            lines.append(f"【{message.title}】")
        if message.body:
            lines.append(message.body)
        if message.choices:
            lines.append("  ".join(f"[{i}] {c.label}" for i, c in enumerate(message.choices, 1)))
        return "\n".join(lines)

    def _print(self, text: str) -> None:
        with self._lock:
            print(text, file=self.out, flush=True)
            print(file=self.out, flush=True)

    # -- inbound ----------------------------------------------------------------------------

    def _inbound(self, text: str) -> Inbound:
        files: tuple[Upload, ...] = ()
        line = text.strip()
        # Exactly `file:` (lower case, no space before the path), so that an answer such as
        # "File: the Q3 report" stays text.
        if line.startswith(FILE_PREFIX) and line[len(FILE_PREFIX):][:1] not in ("", " "):
            files, text = (self._upload(line[len(FILE_PREFIX):]),), ""
        return Inbound(
            platform=self.platform, channel=CHANNEL, user=self.user, text=text,
            direct=True, user_name=self.user, session_locale=self.locale, files=files,
        )

    def _upload(self, raw: str) -> Upload:
        """The local file at `raw` (quotes and a leading ~ allowed), read when it is within
        the size limit."""
        path = Path(raw.strip("\"'")).expanduser()
        name = path.name or raw[:80]
        mime = MIME_BY_SUFFIX.get(path.suffix.lower(), "application/octet-stream")
        try:
            size = path.stat().st_size
            if not path.is_file():
                return Upload(name, mime, problem="unavailable")
            if size > self.app.settings.upload_max_bytes:
                return Upload(name, mime, size=size, problem="too_large")
            data = path.read_bytes()
        except OSError:
            return Upload(name, mime, problem="unavailable")
        return Upload(name, mime, size=len(data), data=data)

    def say(self, text: str) -> list[Outbound]:
        """Hand one line to the core and print what comes back for this console."""
        return self._show(self.app.handle(self._inbound(text)))

    def greet(self, *, banner: bool) -> list[Outbound]:
        return self._show(self.app.greet(self._inbound(""), banner=banner))

    def _show(self, outbounds: list[Outbound]) -> list[Outbound]:
        for outbound in outbounds:
            if outbound.address.platform == self.platform:
                self._print(self._delivered(outbound))  # what this line caused, here
        return outbounds

    def run(self, lines: Iterable[str] | None = None) -> None:
        if lines is None and sys.stdin.isatty():
            self._interactive()
            return
        self.greet(banner=False)  # a script's output stays its own, but hears of a draft
        for line in lines if lines is not None else sys.stdin:
            if self._stopped.is_set() or is_leaving(line):
                break
            line = line.rstrip("\n")
            if line.strip():
                self.say(line)

    def _interactive(self) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory, InMemoryHistory
        from prompt_toolkit.patch_stdout import patch_stdout

        history = FileHistory(str(self.history)) if self.history else InMemoryHistory()
        session: PromptSession[str] = PromptSession(history=history)
        self.greet(banner=True)
        with patch_stdout():
            while not self._stopped.is_set():
                try:
                    line = session.prompt(f"{self.user}> ")
                except (EOFError, KeyboardInterrupt):
                    break
                if is_leaving(line):
                    break
                if line.strip():
                    self.say(line)

    def stop(self) -> None:
        self._stopped.set()
