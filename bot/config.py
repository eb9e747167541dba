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

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use Area/City, e.g. Asia/Shanghai")
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

    @field_validator("conversation_timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than zero")
        return value

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
