"""E-mail through SMTP, for any domain that mails people outside the chat (survey
invitations first). The stdlib's smtplib and email.message; the server is named by one URL:

    smtp://user:pass@host:587              plain connection upgraded with STARTTLS (always,
                                           when there is a login: never a password in clear)
    smtps://user:pass@host:465             TLS from the first byte (implicit TLS)
    smtp://host:25                         no TLS, no login (a relay on the private network)
    smtp://host:25?starttls=1              no login, STARTTLS all the same

The server's certificate is always verified (the system's CAs, or `ca_file`). A server that
does not offer what the URL needs (STARTTLS, AUTH), a TLS failure and a refused greeting are
configuration errors (`MailError.SETUP`): not worth trying again.

A `Mailer` keeps one connection for a batch; a recipient the server refuses fails alone
(`MailError` for that message), the others still go."""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from types import TracebackType
from urllib.parse import parse_qs, unquote, urlsplit

from bot.errors import LiaisonError

TRUE = ("1", "true", "yes", "on")
LOGIN = (530, 534, 535)  # refusals that say the login is missing or wrong


class MailError(LiaisonError):
    """One message (or the connection) failed; the text says why, without the password.
    `code` is the server's reply code, None when there was no answer (refused, timed out,
    cut off). `temporary`: worth trying again later (a 4xx reply or no answer), as opposed
    to a 5xx refusal (550 no such mailbox, 535 wrong login), which would only fail again."""

    SETUP = "setup"  # the server and LIAISON_SMTP_URL do not fit: TLS, AUTH, HELO
    MESSAGE = "message"  # this message cannot be written or sent as it is
    SENDER = "sender"  # the server refuses the From address (LIAISON_SMTP_FROM)

    def __init__(self, text: str, code: int | None = None, *, kind: str = "") -> None:
        super().__init__(text)
        self.code = code
        self.kind = kind

    @property
    def temporary(self) -> bool:
        return not self.kind and (self.code is None or 400 <= self.code < 500)


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    user: str = ""
    password: str = ""
    implicit_tls: bool = False
    starttls: bool = False
    timeout: float = 60.0  # connecting, and each reply but the one after the data
    data_timeout: float = 600.0  # the reply after the data (RFC 5321 4.5.3.2.6: 10 minutes)
    ca_file: str = ""  # a CA bundle to verify the server with instead of the system's

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file or None)


def parse_url(url: str) -> SmtpServer:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError(f"{parts.scheme or url!r}: the SMTP URL starts smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("the SMTP URL names no host, e.g. smtp://user:pass@mail.example.com:587")
    query = {k.lower(): v[-1].lower() for k, v in parse_qs(parts.query).items()}
    try:
        port = parts.port
    except ValueError:
        raise ValueError("the SMTP URL's port is not a number") from None
    implicit = parts.scheme == "smtps"
    user = unquote(parts.username or "")
    wanted = query.get("starttls", "")
    if user and not implicit and wanted and wanted not in TRUE:
        raise ValueError("the SMTP URL has a login and starttls=0: Liaison never sends a "
                         "password without TLS (leave starttls out, or use smtps://)")
    try:
        timeout = float(query.get("timeout", "60"))
    except ValueError:
        raise ValueError("the SMTP URL's timeout is not a number of seconds") from None
    return SmtpServer(
        host=parts.hostname, port=port or (465 if implicit else 587),
        user=user, password=unquote(parts.password or ""),
        implicit_tls=implicit, starttls=not implicit and (bool(user) or wanted in TRUE),
        timeout=timeout,
    )


def message(sender: str, to: str, subject: str, body: str, to_name: str = "") -> EmailMessage:
    """A plain-text UTF-8 e-mail. Header values are single lines: a name cannot add a header."""
    msg = EmailMessage()
    msg["Subject"] = " ".join(subject.split())
    msg["From"] = sender
    msg["To"] = formataddr((" ".join(to_name.split()), to)) if to_name else to
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain=(parseaddr(sender)[1].rpartition("@")[2] or None))
    msg.set_content(body)
    return msg


class _LongData:
    """The reply after the data may take minutes (a relay scanning the message): waiting
    less would try again a message the server has taken, and the customer gets it twice."""

    data_timeout: float = 600.0
    sock: socket.socket | None

    def data(self, msg: bytes | str) -> tuple[int, bytes]:
        if self.sock is not None:
            before = self.sock.gettimeout()
            self.sock.settimeout(self.data_timeout)
        try:
            return super().data(msg)  # type: ignore[misc]
        finally:
            if self.sock is not None:
                self.sock.settimeout(before)


class _SMTP(_LongData, smtplib.SMTP):
    pass


class _SMTPS(_LongData, smtplib.SMTP_SSL):
    pass


class Mailer:
    """`with Mailer(server) as mailer: mailer.send(msg)`; connecting or logging in fails with
    MailError for the whole batch."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        s = self.server
        smtp: smtplib.SMTP | None = None
        try:
            if s.implicit_tls:
                smtp = _SMTPS(s.host, s.port, timeout=s.timeout, context=s.tls_context())
            else:
                smtp = _SMTP(s.host, s.port, timeout=s.timeout)
                if s.starttls:
                    smtp.starttls(context=s.tls_context())
            smtp.data_timeout = s.data_timeout  # type: ignore[attr-defined]
            if s.user:
                assert s.implicit_tls or s.starttls, "never a login without TLS"
                smtp.login(s.user, s.password)
        except (smtplib.SMTPNotSupportedError, smtplib.SMTPHeloError, ssl.SSLError,
                ssl.CertificateError) as exc:
            _close(smtp)
            raise MailError(f"SMTP server {s.host}:{s.port}: {_why(exc)}", _code(exc),
                            kind=MailError.SETUP) from None
        except (smtplib.SMTPException, OSError) as exc:
            _close(smtp)
            raise MailError(f"SMTP server {s.host}:{s.port}: {_why(exc)}", _code(exc)) from None
        self._smtp = smtp
        return self

    def send(self, msg: EmailMessage) -> None:
        assert self._smtp is not None, "use the Mailer in a with block"
        try:
            refused = self._smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise MailError(f"{code} {_text(text)}", code) from None
        except smtplib.SMTPNotSupportedError as exc:  # an address needing SMTPUTF8, say
            raise MailError(_why(exc), kind=MailError.MESSAGE) from None
        except smtplib.SMTPSenderRefused as exc:
            final = exc.smtp_code >= 500 and exc.smtp_code not in LOGIN
            raise MailError(f"{exc.smtp_code} {_text(exc.smtp_error)}", exc.smtp_code,
                            kind=MailError.SENDER if final else "") from None
        except smtplib.SMTPResponseException as exc:
            raise MailError(f"{exc.smtp_code} {_text(exc.smtp_error)}", exc.smtp_code) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(_why(exc), _code(exc)) from None
        if refused:
            code, text = next(iter(refused.values()))
            raise MailError(f"{code} {_text(text)}", code)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None


def _close(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        smtp.close()


def _text(value: bytes | str) -> str:
    return (value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value))[:200]


def _code(exc: BaseException) -> int | None:
    """The server's reply code, when it answered (a negative one is smtplib's own)."""
    code = getattr(exc, "smtp_code", None)
    return code if isinstance(code, int) and code > 0 else None


def _why(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return (str(exc) or type(exc).__name__)[:200]
