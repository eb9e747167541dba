"""Settings: one typed object, read from the environment and `.env` at start-up, passed down."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from datetime import timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AliasChoices,
    BeforeValidator,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from bot.errors import ConfigError

if TYPE_CHECKING:
    from bot.domain import Domain

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


def _positive(value: timedelta | None) -> timedelta | None:
    if value is not None and value <= timedelta(0):
        raise ValueError("must be longer than zero")
    return value


# A length of time that must be longer than zero (every interval and deadline).
Period = Annotated[timedelta, BeforeValidator(parse_setting_duration), AfterValidator(_positive)]


def clock_time(value: str) -> str:
    """A setting's time of day, such as 09:30 (stripped); ValueError otherwise."""
    if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", value.strip()):
        raise ValueError(f"{value!r} is not a time of day such as 09:30")
    return value.strip()


def env(name: str) -> AliasChoices:
    """The environment variable a setting is read from (and named by in errors)."""
    return AliasChoices(name)


def _blank_is_unset(cls: type[BaseSettings], value: Any, info: ValidationInfo) -> Any:  # noqa: ANN401
    """`KEY=` with nothing after it, as `.env.example` lists the optional settings, means the
    setting is not set: its default (None), not a value to parse. Settings with a default of
    their own keep the old meaning, so `LIAISON_COMPLAINT_WARN=` still means no warnings."""
    if isinstance(value, str) and not value.strip():
        field = cls.model_fields.get(info.field_name or "")
        if field is not None and field.default is None and not field.is_required():
            return None
    return value


# dotenv_filtering: a `.env` line that names no setting is not kept as an extra value (with
# extra="ignore" it was dropped anyway); finding that out compared every line with every
# field's names, per settings class: most of building the settings (issue 22). Every section
# inherits this: one with extra="allow" or "forbid" would not see unknown `.env` lines.
_CONFIG = SettingsConfigDict(
    env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True,
    dotenv_filtering="only_existing",
)
# What decides how a settings class reads its `.env` file: classes that agree on these read it
# alike, so the sections take the core settings' reading (Settings.__init__).
_DOTENV_KEYS = ("env_file", "env_file_encoding", "case_sensitive", "env_ignore_empty",
                "env_parse_none_str", "env_file_depth")
# Arguments that change how the core settings read it: given any, each section reads its own.
_READ_ARGS = {"_env_file_encoding", "_case_sensitive", "_env_ignore_empty",
              "_env_parse_none_str", "_env_file_depth"}
# The `.env` as the core settings read it: set while Settings.__init__ builds them (`read`
# receives it) and while it builds their sections (which use it instead of reading again).
_DOTENV: ContextVar[dict[str, Any] | None] = ContextVar("liaison_dotenv", default=None)


class _ReadDotEnv(DotEnvSettingsSource):
    """A section's `.env` values: the file the core settings read, as they read it."""

    def __init__(self, settings_cls: type[BaseSettings], env_vars: Mapping[str, str | None]):
        self._read = env_vars
        super().__init__(settings_cls, env_file=None)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return self._read


class Section(BaseSettings):
    """One domain's settings, read from the same environment and `.env` as the core ones and
    reached as `settings.<domain name>`. Fields name their variable with `env(...)`."""

    model_config = _CONFIG
    _blank = field_validator("*", mode="before")(classmethod(_blank_is_unset))

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        shared = _DOTENV.get()
        if shared is not None and shared.get("cls") is settings_cls:
            dotenv_settings = _ReadDotEnv(settings_cls, shared["section"])
        return init_settings, env_settings, dotenv_settings, file_secret_settings


class Settings(BaseSettings):
    """Every setting Liaison reads. `.env.example` documents each one. The core's settings are
    fields here; each domain's are its `Section`, validated with these: `settings.complaints`."""

    model_config = _CONFIG
    _blank = field_validator("*", mode="before")(classmethod(_blank_is_unset))
    _sections: dict[str, Section] = PrivateAttr(default_factory=dict)
    _web: dict[str, Any] = PrivateAttr(default_factory=dict)  # domain -> its WebPages

    def __init__(self, domains: Iterable[Domain] | None = None, **values: Any) -> None:
        """`domains` default to the ones `handlers.DOMAINS` lists. A section's values may be
        given as a mapping under its name: `Settings(complaints={"followup": "1d"})`."""
        if domains is None:
            import handlers

            domains = handlers.DOMAINS
        domains = list(domains)
        web = {d.name: d.web for d in domains if d.web is not None}
        domains = [d for d in domains if d.settings is not None]
        given = {d.name: values.pop(d.name, None) or {} for d in domains}
        read: dict[str, Any] = {}  # the `.env` as read here (settings_customise_sources)
        token = _DOTENV.set(read)
        try:
            super().__init__(**values)
        finally:
            _DOTENV.reset(token)
        self._web = web
        files = {k: values[k] for k in ("_env_file",) if k in values}
        for domain in domains:
            assert domain.settings is not None
            # A section reading its `.env` as these settings did takes their reading: the
            # file is read and parsed once, not once per domain (issue 22).
            alike = ("env_vars" in read and not _READ_ARGS & values.keys()
                     and issubclass(domain.settings, Section)
                     and domain.settings.settings_customise_sources.__func__
                     is Section.settings_customise_sources.__func__
                     and all(domain.settings.model_config.get(k) == self.model_config.get(k)
                             for k in _DOTENV_KEYS))
            token = _DOTENV.set({"section": read["env_vars"], "cls": domain.settings}
                                if alike else None)
            try:
                self._sections[domain.name] = domain.settings(
                    **({"_env_file": None} if alike else files), **given[domain.name])
            except ValidationError as exc:
                raise ConfigError(_describe(domain.settings, exc)) from None
            finally:
                _DOTENV.reset(token)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        read = _DOTENV.get()
        if read is not None and isinstance(dotenv_settings, DotEnvSettingsSource):
            read["env_vars"] = dotenv_settings.env_vars  # for the sections (__init__)
        return init_settings, env_settings, dotenv_settings, file_secret_settings

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401 (a section, by domain name)
        sections = (object.__getattribute__(self, "__pydantic_private__") or {}).get("_sections")
        if sections and name in sections:
            return sections[name]
        return super().__getattr__(name)  # type: ignore[misc]

    database_url: str = Field("sqlite:///./liaison.db", validation_alias=env("DATABASE_URL"))
    database_connect_timeout: Period = Field(
        timedelta(seconds=5), validation_alias=env("LIAISON_DATABASE_CONNECT_TIMEOUT")
    )
    database_statement_timeout: Period = Field(
        timedelta(seconds=10), validation_alias=env("LIAISON_DATABASE_STATEMENT_TIMEOUT")
    )
    default_locale: Literal["zh", "en"] = Field(
        "zh", validation_alias=env("LIAISON_DEFAULT_LOCALE")
    )
    timezone: str = Field("Asia/Shanghai", validation_alias=env("LIAISON_TIMEZONE"))
    admins: str = Field("", validation_alias=env("LIAISON_ADMINS"))
    conversation_timeout: Period = Field(
        timedelta(hours=24), validation_alias=env("LIAISON_CONVERSATION_TIMEOUT")
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", validation_alias=env("LIAISON_LOG_LEVEL")
    )
    # Operations (bot/doctor.py, bot/logs.py)
    log_format: Literal["text", "json"] = Field(
        "text", validation_alias=env("LIAISON_LOG_FORMAT")
    )
    # /healthz, /readyz and (with LIAISON_METRICS=1) /metrics on this port (bot/ops.py); off
    # unless set or metrics are on, which use 9095.
    ops_port: int | None = Field(None, ge=1, le=65535, validation_alias=env("LIAISON_OPS_PORT"))
    metrics: bool = Field(False, validation_alias=env("LIAISON_METRICS"))
    # The bot's address as Slack reaches it (HTTP mode); `liaison doctor` checks /healthz there.
    public_url: str = Field("", validation_alias=env("LIAISON_PUBLIC_URL"))

    # Reminders (schedules/)
    reminder_sweep: Period = Field(
        timedelta(seconds=15), validation_alias=env("LIAISON_REMINDER_SWEEP")
    )
    reminder_lease: Period = Field(
        timedelta(seconds=60), validation_alias=env("LIAISON_REMINDER_LEASE")
    )
    reminder_max_attempts: int = Field(
        8, ge=1, le=100, validation_alias=env("LIAISON_REMINDER_MAX_ATTEMPTS")
    )
    reminder_grace: Period = Field(
        timedelta(hours=24), validation_alias=env("LIAISON_REMINDER_GRACE")
    )
    training_channel: str = Field("", validation_alias=env("LIAISON_TRAINING_CHANNEL"))
    digest_time: str = Field("09:30", validation_alias=env("LIAISON_DIGEST_TIME"))
    # The console has no chat to put a file in: it writes files here and prints their path.
    console_files_dir: str = Field("exports", validation_alias=env("LIAISON_CONSOLE_FILES_DIR"))
    # The largest file a person may send the bot (a logo for a press release); adapters do not
    # fetch a bigger one, and the person is told the limit.
    upload_max_bytes: int = Field(10 * 1024 * 1024, ge=1024,
                                  validation_alias=env("LIAISON_UPLOAD_MAX_BYTES"))

    # Slack (slack-bolt): Socket Mode with an app token, else HTTP mode with the signing secret
    slack_bot_token: str = Field("", validation_alias=env("SLACK_BOT_TOKEN"))
    slack_app_token: str = Field("", validation_alias=env("SLACK_APP_TOKEN"))
    slack_signing_secret: str = Field("", validation_alias=env("SLACK_SIGNING_SECRET"))
    slack_api_url: str = Field("https://slack.com/api/", validation_alias=env("SLACK_API_URL"))
    http_port: int = Field(3000, ge=1, le=65535, validation_alias=env("LIAISON_HTTP_PORT"))

    # The web dashboard (bot/web/): served by the same HTTP server as Slack's HTTP mode, on
    # LIAISON_HTTP_PORT, which then starts in every mode; links point at LIAISON_PUBLIC_URL.
    dashboard: bool = Field(False, validation_alias=env("LIAISON_DASHBOARD"))
    # Signs the dashboard's session cookies; the same on every replica.
    web_secret: str = Field("", validation_alias=env("LIAISON_WEB_SECRET"))

    # DingTalk (dingtalk-stream, Stream mode)
    dingtalk_client_id: str = Field("", validation_alias=env("DINGTALK_CLIENT_ID"))
    dingtalk_client_secret: str = Field("", validation_alias=env("DINGTALK_CLIENT_SECRET"))
    dingtalk_robot_code: str = Field("", validation_alias=env("DINGTALK_ROBOT_CODE"))
    dingtalk_openapi_endpoint: str = Field(
        "https://api.dingtalk.com", validation_alias=env("DINGTALK_OPENAPI_ENDPOINT")
    )
    # The older OpenAPI host, where files are uploaded ("上传媒体文件") before a file message.
    dingtalk_oapi_endpoint: str = Field(
        "https://oapi.dingtalk.com", validation_alias=env("DINGTALK_OAPI_ENDPOINT")
    )
    dingtalk_idle: Period = Field(
        timedelta(seconds=90), validation_alias=env("LIAISON_DINGTALK_IDLE")
    )
    # How the robot is called in groups: replies there name commands as `@<name> /command`.
    dingtalk_robot_name: str = Field(
        "Liaison", min_length=1, validation_alias=env("LIAISON_DINGTALK_ROBOT_NAME")
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
        return clock_time(value)

    @model_validator(mode="after")
    def _dashboard_needs(self) -> Settings:
        if self.dashboard:
            if len(self.web_secret) < 16:
                raise ConfigError(
                    "Setting LIAISON_WEB_SECRET: at least 16 characters are needed when "
                    "LIAISON_DASHBOARD is on (they sign the session cookies)")
            if not self.public_url.startswith(("http://", "https://")):
                raise ConfigError(
                    "Setting LIAISON_PUBLIC_URL: the dashboard needs the address people "
                    "open, such as https://liaison.example.com")
        return self

    @property
    def web_enabled(self) -> bool:
        """A web feature is on: the HTTP server runs even without Slack's HTTP mode (the
        dashboard, or a domain's pages such as the surveys' /s/<token>)."""
        return self.dashboard or bool(self.web_served())

    def web_served(self, domain: str | None = None) -> list[Any]:
        """The WebPages that are on (bot.domain.WebPages), of one domain or of all."""
        return [w for name, w in self._web.items()
                if (domain is None or name == domain) and w.served(self)]

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token)

    @property
    def dingtalk_enabled(self) -> bool:
        return bool(self.dingtalk_client_id and self.dingtalk_client_secret)

    @property
    def bot_names(self) -> dict[str, str]:
        """The bot's display name per platform, where replies need it to name commands."""
        return {"dingtalk": self.dingtalk_robot_name}

    @property
    def dingtalk_robot(self) -> str:
        return self.dingtalk_robot_code or self.dingtalk_client_id

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def admin_ids(self) -> frozenset[tuple[str, str]]:
        return _admin_ids(self.admins)


@lru_cache(maxsize=8)
def _admin_ids(admins: str) -> frozenset[tuple[str, str]]:
    """LIAISON_ADMINS parsed, once per value (read on every message)."""
    pairs = (item.strip().partition(":") for item in admins.split(",") if item.strip())
    return frozenset((platform, user) for platform, _, user in pairs)


def load_settings(**overrides: object) -> Settings:
    """Build the settings, turning a validation failure into one line that names the setting."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(Settings, exc)) from None
    except UnicodeDecodeError as exc:  # the `.env` file, read as UTF-8 (env_file_encoding)
        raise ConfigError(f"The settings file {_env_file_of(overrides)} is not UTF-8 text "
                          f"(byte {exc.start + 1}): save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"The settings file {_env_file_of(overrides)} cannot be read: "
                          f"{exc.strerror or exc}") from None


def _env_file_of(overrides: Mapping[str, object]) -> str:
    """The `.env` file(s) read, as given: every one of a list, since any may be the one."""
    given = overrides.get("_env_file", Settings.model_config.get("env_file"))
    return " or ".join(map(str, given)) if isinstance(given, (list, tuple)) else str(given)


def _describe(model: type[BaseSettings], exc: ValidationError) -> str:
    error = exc.errors()[0]
    field = str(error["loc"][0]) if error["loc"] else "?"
    info = model.model_fields.get(field)
    alias = info.validation_alias if info else None
    name = alias.choices[0] if isinstance(alias, AliasChoices) else field
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"Setting {name}: {message}"
