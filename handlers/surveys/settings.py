"""How survey invitations are e-mailed (and tried again), and how long a survey link stays
valid."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator

from bot.config import Period, Section, env


class SurveySettings(Section):
    # smtp://user:pass@host:587?starttls=1, or smtps://user:pass@host:465 (implicit TLS);
    # empty: invitations are not e-mailed, their links are listed for sending by hand.
    smtp_url: str = Field("", validation_alias=env("LIAISON_SMTP_URL"))
    # The From address of the e-mails, e.g. "Liaison <survey@example.com>".
    smtp_from: str = Field("", validation_alias=env("LIAISON_SMTP_FROM"))
    # A survey link expires this long after the invitation.
    ttl: Period = Field(timedelta(days=30), validation_alias=env("LIAISON_SURVEY_TTL"))
    # How often an invitation's e-mail is tried when the server fails for the time being (a
    # 4xx reply, no connection), 1, 2, 4 … minutes apart; a 5xx refusal is not tried again.
    mail_attempts: int = Field(5, ge=1, le=20,
                               validation_alias=env("LIAISON_SURVEY_MAIL_ATTEMPTS"))

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str) -> str:
        from bot.mail import parse_url

        if value.strip():
            parse_url(value.strip())  # raises ValueError naming what is wrong
        return value.strip()
