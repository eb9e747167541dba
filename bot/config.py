"""Settings: one typed object, read from the environment and `.env` at start-up, passed down."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, BeforeValidator, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError

PLATFORMS = ("console", "slack", "dingtalk")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")


def parse_setting_duration(value: object) -> timedelta:
    """`90s`, `30m`, `24h`, `2d`, `1h30m`; a bare number is seconds."""
    if isinstance(value, timedelta):
        return value
    text = str(value).strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return timedelta(seconds=float(text))
    if not text or _DURATION.sub("", text).strip():
        raise ValueError(f"{value!r} is not a duration such as 90s, 30m, 24h or 2d")
    return timedelta(seconds=sum(float(n) * _UNIT[u] for n, u in _DURATION.findall(text)))


Duration = Annotated[timedelta, BeforeValidator(parse_setting_duration)]


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Every setting Liaison reads. `.env.example` documents each one."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    database_url: str = Field("sqlite:///./liaison.db", validation_alias=_env("DATABASE_URL"))
    default_locale: Literal["zh", "en"] = Field(
        "zh", validation_alias=_env("LIAISON_DEFAULT_LOCALE")
    )
    timezone: str = Field("Asia/Shanghai", validation_alias=_env("LIAISON_TIMEZONE"))
    admins: str = Field("", validation_alias=_env("LIAISON_ADMINS"))
    conversation_timeout: Duration = Field(
        timedelta(hours=24), validation_alias=_env("LIAISON_CONVERSATION_TIMEOUT")
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", validation_alias=_env("LIAISON_LOG_LEVEL")
    )

    # Reminders (schedules/)
    reminder_sweep: Duration = Field(
        timedelta(seconds=15), validation_alias=_env("LIAISON_REMINDER_SWEEP")
    )
    reminder_lease: Duration = Field(
        timedelta(minutes=5), validation_alias=_env("LIAISON_REMINDER_LEASE")
    )
    reminder_max_attempts: int = Field(
        8, ge=1, le=100, validation_alias=_env("LIAISON_REMINDER_MAX_ATTEMPTS")
    )
    reminder_grace: Duration = Field(
        timedelta(hours=24), validation_alias=_env("LIAISON_REMINDER_GRACE")
    )
    training_channel: str = Field("", validation_alias=_env("LIAISON_TRAINING_CHANNEL"))
    digest_time: str = Field("09:30", validation_alias=_env("LIAISON_DIGEST_TIME"))

    # Complaints
    complaint_sla: Duration = Field(
        timedelta(hours=24), validation_alias=_env("LIAISON_COMPLAINT_SLA")
    )
    complaint_sla_low: Duration | None = Field(
        None, validation_alias=_env("LIAISON_COMPLAINT_SLA_LOW")
    )
    complaint_sla_normal: Duration | None = Field(
        None, validation_alias=_env("LIAISON_COMPLAINT_SLA_NORMAL")
    )
    complaint_sla_high: Duration | None = Field(
        None, validation_alias=_env("LIAISON_COMPLAINT_SLA_HIGH")
    )
    # A critical complaint cannot wait a day: 4 hours unless set otherwise.
    complaint_sla_critical: Duration | None = Field(
        timedelta(hours=4), validation_alias=_env("LIAISON_COMPLAINT_SLA_CRITICAL")
    )
    complaint_reminders: str = Field(
        "4h,1h", validation_alias=_env("LIAISON_COMPLAINT_REMINDERS")
    )
    complaint_followup: Duration = Field(
        timedelta(days=3), validation_alias=_env("LIAISON_COMPLAINT_FOLLOWUP")
    )

    # Communication checklist
    comm_followup: Duration = Field(
        timedelta(days=2), validation_alias=_env("LIAISON_COMM_FOLLOWUP")
    )
    comm_review: Duration = Field(timedelta(days=7), validation_alias=_env("LIAISON_COMM_REVIEW"))

    # Partner meetings
    agenda_lead: Duration = Field(timedelta(hours=24), validation_alias=_env("LIAISON_AGENDA_LEAD"))
    minutes_due: Duration = Field(timedelta(hours=2), validation_alias=_env("LIAISON_MINUTES_DUE"))

    # Talking points
    tp_review: Duration = Field(timedelta(days=90), validation_alias=_env("LIAISON_TP_REVIEW"))

    # Slack (slack-bolt): Socket Mode with an app token, else HTTP mode with the signing secret
    slack_bot_token: str = Field("", validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_app_token: str = Field("", validation_alias=_env("SLACK_APP_TOKEN"))
    slack_signing_secret: str = Field("", validation_alias=_env("SLACK_SIGNING_SECRET"))
    slack_api_url: str = Field("https://slack.com/api/", validation_alias=_env("SLACK_API_URL"))
    http_port: int = Field(3000, ge=1, le=65535, validation_alias=_env("LIAISON_HTTP_PORT"))

    # DingTalk (dingtalk-stream, Stream mode)
    dingtalk_client_id: str = Field("", validation_alias=_env("DINGTALK_CLIENT_ID"))
    dingtalk_client_secret: str = Field("", validation_alias=_env("DINGTALK_CLIENT_SECRET"))
    dingtalk_robot_code: str = Field("", validation_alias=_env("DINGTALK_ROBOT_CODE"))
    dingtalk_openapi_endpoint: str = Field(
        "https://api.dingtalk.com", validation_alias=_env("DINGTALK_OPENAPI_ENDPOINT")
    )
    dingtalk_idle: Duration = Field(
        timedelta(seconds=90), validation_alias=_env("LIAISON_DINGTALK_IDLE")
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use Area/City, e.g. Asia/Shanghai"
            ) from None
        return value

    @field_validator("admins")
    @classmethod
    def _admin_list(cls, value: str) -> str:
        for item in filter(None, (part.strip() for part in value.split(","))):
            platform, _, user = item.partition(":")
            if platform not in PLATFORMS or not user:
                raise ValueError(
                    f"{item!r} is not platform:user_id with platform one of {', '.join(PLATFORMS)}"
                )
        return value

    @field_validator(
        "conversation_timeout", "reminder_sweep", "reminder_lease", "reminder_grace",
        "complaint_sla", "complaint_sla_low", "complaint_sla_normal", "complaint_sla_high",
        "complaint_sla_critical", "complaint_followup", "comm_followup", "comm_review",
        "agenda_lead", "minutes_due", "tp_review", "dingtalk_idle",
    )
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("must be longer than zero")
        return value

    @field_validator("complaint_reminders")
    @classmethod
    def _duration_list(cls, value: str) -> str:
        for part in filter(None, (p.strip() for p in value.split(","))):
            parse_setting_duration(part)
        return value

    @field_validator("training_channel")
    @classmethod
    def _platform_channel(cls, value: str) -> str:
        platform, _, channel = value.strip().partition(":")
        if value.strip() and (platform not in PLATFORMS or not channel):
            raise ValueError(f"{value!r} is not platform:channel_id, e.g. slack:C0123ABCD")
        return value.strip()

    @field_validator("digest_time")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", value.strip()):
            raise ValueError(f"{value!r} is not a time of day such as 09:30")
        return value.strip()

    @property
    def complaint_reminder_leads(self) -> list[timedelta]:
        parts = (p.strip() for p in self.complaint_reminders.split(","))
        return sorted((parse_setting_duration(p) for p in parts if p), reverse=True)

    def complaint_sla_for(self, severity: str) -> timedelta:
        override = getattr(self, f"complaint_sla_{severity}", None)
        return override or self.complaint_sla

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token)

    @property
    def dingtalk_enabled(self) -> bool:
        return bool(self.dingtalk_client_id and self.dingtalk_client_secret)

    @property
    def dingtalk_robot(self) -> str:
        return self.dingtalk_robot_code or self.dingtalk_client_id

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def admin_ids(self) -> frozenset[tuple[str, str]]:
        pairs = (item.strip().partition(":") for item in self.admins.split(",") if item.strip())
        return frozenset((platform, user) for platform, _, user in pairs)


def load_settings(**overrides: object) -> Settings:
    """Build the settings, turning a validation failure into one line that names the setting."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "?"
        info = Settings.model_fields.get(field)
        alias = info.validation_alias if info else None
        name = alias.choices[0] if isinstance(alias, AliasChoices) else field
        message = str(error["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"Setting {name}: {message}") from None
