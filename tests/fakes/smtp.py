"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd's Controller): it keeps every message
it accepts, and refuses what a real server refuses: with a login configured, mail from a
client that has not logged in (530), a wrong password (535) and an AUTH mechanism it does not
offer (504, aiosmtpd's own answer); and any recipient at `refused.example` (550, no such
mailbox), so one recipient can fail while the others go. `busy` makes it answer a
recipient 421 (try again later; the server then closes the connection, as smtplib expects)
that many times before accepting it, and `tried` lists every recipient it was asked for."""

from __future__ import annotations

import email
import socket
import warnings
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

REFUSED_DOMAIN = "refused.example"


@dataclass
class Captured:
    sender: str
    recipients: list[str]
    message: Message

    @property
    def body(self) -> str:
        part = self.message.get_payload(decode=True)
        return part.decode(self.message.get_content_charset() or "utf-8")

    @property
    def subject(self) -> str:
        return str(email.header.make_header(email.header.decode_header(
            self.message["Subject"])))


@dataclass
class _Handler:
    messages: list[Captured] = field(default_factory=list)
    busy: dict[str, int] = field(default_factory=dict)  # address -> 421s still to answer
    tried: list[str] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: ANN401, N802
                          rcpt_options: list[str]) -> str:
        self.tried.append(address)
        if self.busy.get(address.lower(), 0) > 0:
            self.busy[address.lower()] -= 1
            return "421 4.3.2 Too busy, try again later"
        if address.lower().endswith("@" + REFUSED_DOMAIN):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: ANN401, N802
        message = email.message_from_bytes(envelope.original_content or envelope.content)
        self.messages.append(Captured(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Controller(Controller):
    def factory(self) -> SMTP:
        # aiosmtpd warns that AUTH without TLS is unsafe; on loopback in a test it is chosen.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            return super().factory()


class SmtpServer:
    """`with SmtpServer(user="u", password="p") as smtp:` then `smtp.url`, `smtp.messages`."""

    def __init__(self, user: str = "", password: str = "") -> None:
        self.user, self.password = user, password
        self.handler = _Handler()
        self.port = _free_port()
        options: dict[str, Any] = {}
        if user:
            # Plain connection in the test: aiosmtpd otherwise (rightly) refuses AUTH without
            # TLS; the login is still required before any mail.
            options = {"authenticator": self._authenticate, "auth_required": True,
                       "auth_require_tls": False}
        self.controller = _Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                     server_hostname="smtp.test", **options)

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,  # noqa: ANN401
                      data: Any) -> AuthResult:  # noqa: ANN401
        ok = (isinstance(data, LoginPassword) and data.login.decode() == self.user
              and data.password.decode() == self.password)
        return AuthResult(success=ok, handled=False)

    @property
    def url(self) -> str:
        login = f"{self.user}:{self.password}@" if self.user else ""
        return f"smtp://{login}127.0.0.1:{self.port}"

    @property
    def messages(self) -> list[Captured]:
        return self.handler.messages

    @property
    def tried(self) -> list[str]:
        return self.handler.tried

    def busy(self, address: str, times: int = 1) -> None:
        """Answer `address` 421 for its next `times` tries."""
        self.handler.busy[address.lower()] = times

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
