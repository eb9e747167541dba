"""E-mail through SMTP, for any domain that mails people outside the chat (survey
invitations first). The stdlib's smtplib and email.message; the server is named by one URL:

    smtp://user:pass@host:587?starttls=1   plain connection upgraded with STARTTLS
    smtps://user:pass@host:465             TLS from the first byte (implicit TLS)
    smtp://host:25                         no TLS, no login (a relay on the private network)

A `Mailer` keeps one connection for a batch; a recipient the server refuses fails alone
(`MailError` for that message), the others still go."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from types import TracebackType
from urllib.parse import parse_qs, unquote, urlsplit

from bot.errors import LiaisonError

TRUE = ("1", "true", "yes", "on")


class MailError(LiaisonError):
    """One message (or the connection) failed; the text says why, without the password.
    `code` is the server's reply code, None when there was no answer (refused, timed out,
    cut off). `temporary`: worth trying again later (a 4xx reply or no answer), as opposed
    to a 5xx refusal (550 no such mailbox, 535 wrong login), which would only fail again."""

    def __init__(self, text: str, code: int | None = None) -> None:
        super().__init__(text)
        self.code = code

    @property
    def temporary(self) -> bool:
        return self.code is None or 400 <= self.code < 500


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    user: str = ""
    password: str = ""
    implicit_tls: bool = False
    starttls: bool = False
    timeout: float = 20.0


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
    return SmtpServer(
        host=parts.hostname, port=port or (465 if implicit else 587),
        user=unquote(parts.username or ""), password=unquote(parts.password or ""),
        implicit_tls=implicit, starttls=not implicit and query.get("starttls", "") in TRUE,
        timeout=float(query.get("timeout", "20")),
    )


def message(sender: str, to: str, subject: str, body: str, to_name: str = "") -> EmailMessage:
    """A plain-text UTF-8 e-mail. Header values are single lines: a name cannot add a header."""
    msg = EmailMessage()
    msg["Subject"] = " ".join(subject.split())
    msg["From"] = sender
    msg["To"] = formataddr((" ".join(to_name.split()), to)) if to_name else to
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=(parseaddr(sender)[1].rpartition("@")[2] or None))
    msg.set_content(body)
    return msg


class Mailer:
    """`with Mailer(server) as mailer: mailer.send(msg)`; connecting or logging in fails with
    MailError for the whole batch."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        s = self.server
        try:
            if s.implicit_tls:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout, context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
                if s.starttls:
                    smtp.starttls(context=ssl.create_default_context())
            if s.user:
                smtp.login(s.user, s.password)
        except (smtplib.SMTPException, OSError) as exc:
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
