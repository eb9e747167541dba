"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd's Controller): it keeps every message
it accepts, and refuses what a real server refuses: with a login configured, AUTH before
STARTTLS (it offers AUTH only over TLS, with a self-signed certificate made for the test by
`openssl req`; `ca_file` is that certificate, for the client to trust), mail from a client
that has not logged in (530), a wrong password (535), an AUTH mechanism it does not offer
(504, aiosmtpd's own answer), a MAIL FROM that is not a full address (553 5.1.7) or, logged
in, not the login's own address (553 5.7.1); and any recipient at `refused.example` (550, no such
mailbox), so one recipient can fail while the others go. `busy` makes it answer a
recipient 421 (try again later; the server then closes the connection, as smtplib expects)
that many times before accepting it, and `tried` lists every recipient it was asked for."""

from __future__ import annotations

import atexit
import email
import functools
import shutil
import socket
import ssl
import subprocess
import tempfile
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

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

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: ANN401, N802
                          mail_options: list[str]) -> str:
        local, at, domain = address.rpartition("@")
        if not at or not local or "." not in domain:
            return "553 5.1.7 The sender address is not a full e-mail address"
        login = getattr(session, "auth_data", None)
        if isinstance(login, str) and address.lower() != login.lower():
            return f"553 5.7.1 {login} may not send as {address}"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

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


@functools.cache
def _certificate() -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (and its key), made with `openssl req` once per
    test process (an RSA key took up to 2 s of CPU each time; an EC P-256 key, as many mail
    servers use, takes milliseconds), in a folder removed when the process ends."""
    folder = Path(tempfile.mkdtemp(prefix="smtp-tls-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    cert, key = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-keyout", str(key), "-out", str(cert),
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=60)
    return cert, key


class SmtpServer:
    """`with SmtpServer(user="u", password="p") as smtp:` then `smtp.url`, `smtp.messages`."""

    def __init__(self, user: str = "", password: str = "", *, tls: bool | None = None) -> None:
        self.user, self.password = user, password
        self.handler = _Handler()
        self.port = _free_port()
        self.ca_file = ""
        options: dict[str, Any] = {}
        if user if tls is None else tls:
            cert, key = _certificate()
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
            self.ca_file = str(cert)
            options["tls_context"] = context
        if user:
            options |= {"authenticator": self._authenticate, "auth_required": True,
                        "auth_require_tls": True}
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                     server_hostname="smtp.test", **options)

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,  # noqa: ANN401
                      data: Any) -> AuthResult:  # noqa: ANN401
        ok = (isinstance(data, LoginPassword) and data.login.decode() == self.user
              and data.password.decode() == self.password)
        return AuthResult(success=ok, handled=False, auth_data=self.user if ok else None)

    @property
    def url(self) -> str:
        login = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}@" if self.user \
            else ""
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
