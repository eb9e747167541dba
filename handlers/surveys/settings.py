"""How survey invitations are e-mailed (and tried again), and how long a survey link stays
valid."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator, model_validator

from bot.config import Period, Section, env
from bot.errors import ConfigError


class SurveySettings(Section):
    # smtp://user:pass@host:587 (STARTTLS, always with a login), or smtps://user:pass@host:465
    # (implicit TLS); empty: invitations are not e-mailed, their links are listed for sending
    # by hand.
    smtp_url: str = Field("", validation_alias=env("LIAISON_SMTP_URL"))
    # The From address of the e-mails, e.g. "Liaison <survey@example.com>": required with
    # LIAISON_SMTP_URL, and the login's own address when the server wants one.
    smtp_from: str = Field("", validation_alias=env("LIAISON_SMTP_FROM"))
    # A CA bundle (PEM) the SMTP server's certificate is verified with instead of the
    # system's, for a server with a private CA. The certificate is always verified.
    smtp_ca_file: str = Field("", validation_alias=env("LIAISON_SMTP_CA_FILE"))
    # The dashboard's LIAISON_WEB_SECRET (bot/web/auth.py) also makes each e-mailed survey
    # link: the link is HMAC(secret, invitation + a stored random nonce), the same on every
    # try, and only its hash is stored. Needed (16+ characters) with LIAISON_SMTP_URL.
    link_secret: str = Field("", validation_alias=env("LIAISON_WEB_SECRET"), repr=False)
    # A survey link expires this long after the invitation.
    ttl: Period = Field(timedelta(days=30), validation_alias=env("LIAISON_SURVEY_TTL"))
    # How often an invitation's e-mail is tried when the server fails for the time being (a
    # 4xx reply, no connection), 1, 2, 4 … minutes apart; a 5xx refusal is not tried again.
    mail_attempts: int = Field(5, ge=1, le=20,
                               validation_alias=env("LIAISON_SURVEY_MAIL_ATTEMPTS"))

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str) -> str:
        if value.strip():
            from bot.mail import parse_url  # (with smtplib) only when mail is configured

            parse_url(value.strip())  # raises ValueError naming what is wrong
        return value.strip()

    @field_validator("smtp_from")
    @classmethod
    def _smtp_from(cls, value: str) -> str:
        if value.strip():
            check_from(value.strip())
        return value.strip()

    @model_validator(mode="after")
    def _from_needed(self) -> SurveySettings:
        if self.smtp_url and not self.smtp_from:
            raise ConfigError(
                "Setting LIAISON_SMTP_FROM: the From address of the survey e-mails is needed "
                "when LIAISON_SMTP_URL is set, e.g. Liaison <survey@example.com> (the "
                "address the login may send as)")
        if self.smtp_url and len(self.link_secret) < 16:
            raise ConfigError(
                "Setting LIAISON_WEB_SECRET: at least 16 characters are needed when "
                "LIAISON_SMTP_URL is set (they make the survey links that are e-mailed)")
        return self


def check_from(value: str) -> str:
    """The address of a From header such as `Liaison <survey@example.com>`, or ValueError."""
    from email.headerregistry import Address
    from email.utils import parseaddr

    if any(c in value for c in "\r\n\0"):
        raise ValueError("the From address is one line")
    name, address = parseaddr(value)
    try:
        parsed = Address(addr_spec=address) if address else None
    except (ValueError, IndexError, TypeError):
        parsed = None
    if parsed is None or not parsed.username or "." not in parsed.domain:
        raise ValueError(f"{value!r} is not an e-mail address such as "
                         "Liaison <survey@example.com>")
    return address
