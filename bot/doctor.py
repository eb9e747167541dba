"""`liaison doctor`: why does the bot not answer? One line per check, OK, WARN or FAIL, with
what to do; the exit status is 0 only when nothing FAILs.

The checks, in order: the settings parse; the database answers and its schema is current;
the time zone; the templates exist in both languages; for Slack, `auth.test`, the scopes the
token was granted against every method and event the bot uses, Socket Mode (the app token
opens a connection) or HTTP mode (LIAISON_PUBLIC_URL answers /healthz), and each routed
channel exists with the bot in it; for DingTalk, an access token, the Stream gateway, the
robot code, and with `--send-test` a test message to the first routed group.

Slack installs fail most often on a missing scope or a wrong URL, DingTalk ones on the robot
code and the app's permissions, so those lines name the page where the fix is made.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import requests
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select

from bot.config import Settings, load_settings
from bot.db import Database, alembic_config, first_line, safe_url
from bot.errors import ConfigError, DeliveryError
from bot.models import ChannelRoute

OK, WARN, FAIL = "OK", "WARN", "FAIL"
TIMEOUT = 5.0  # seconds any one remote check may take

# The Slack scopes the bot needs, each with what uses it: the Web API methods slack.py calls
# (each method's page on docs.slack.dev names its "Required scopes"), the events it
# subscribes to and the slash commands. manifest.yaml asks for exactly these (a test says so).
SLACK_SCOPES = {
    "chat:write": "chat.postMessage, chat.postEphemeral",
    "chat:write.public": "posting to public channels the bot has not joined",
    "channels:join": "conversations.join",
    "channels:read": "conversations.info (public channels)",
    "groups:read": "conversations.info (private channels)",
    "im:write": "conversations.open",
    "users:read": "users.info",
    "files:write": "files.getUploadURLExternal, files.completeUploadExternal (files in chat)",
    "files:read": "downloading files people share with the bot (a press release's logo)",
    "commands": "slash commands",
    "app_mentions:read": "the app_mention event",
    "im:history": "the message.im event",
    "channels:history": "the message.channels event",
    "groups:history": "the message.groups event",
}


@dataclass(frozen=True)
class Finding:
    status: str
    check: str
    detail: str

    def line(self) -> str:
        return f"{self.status:<4}  {self.check}: {self.detail}"


def main(send_test: bool = False, out: TextIO | None = None) -> int:
    """Print every finding as it is made; 0 when none FAILs, else 1."""
    out = out or sys.stdout
    # The findings say what went wrong; the adapters' own error logs would say it twice.
    logging.getLogger("bot.adapters.dingtalk_openapi").setLevel(logging.CRITICAL)
    failed = False
    for finding in diagnose(send_test=send_test):
        print(finding.line(), file=out, flush=True)
        failed = failed or finding.status == FAIL
    return 1 if failed else 0


def diagnose(*, send_test: bool = False,
             settings_factory: Callable[[], Settings] = load_settings) -> Iterator[Finding]:
    try:
        settings = settings_factory()
    except ConfigError as exc:
        yield Finding(FAIL, "settings", f"{exc}; fix it in .env or the environment")
        return
    yield Finding(OK, "settings", "every setting parses")
    db = Database(
        settings.database_url,
        connect_timeout=settings.database_connect_timeout.total_seconds(),
        statement_timeout=settings.database_statement_timeout.total_seconds(),
    )
    try:
        database, has_tables = _database(db)
        yield database
        yield _time_zone(settings)
        yield _templates()
        yield _domains()
        routes = _routes(db) if has_tables else None
        platforms = [p for p, on in (("slack", settings.slack_enabled),
                                     ("dingtalk", settings.dingtalk_enabled)) if on]
        if not platforms:
            yield Finding(OK, "platforms",
                          "no Slack or DingTalk settings: `liaison run` opens the console chat")
        if settings.slack_enabled:
            yield from SlackChecks(settings, routes).run()
        if settings.dingtalk_enabled:
            yield from DingTalkChecks(settings, routes, send_test=send_test).run()
        elif send_test:
            yield Finding(WARN, "dingtalk test message", "--send-test: DingTalk is not configured")
    finally:
        db.dispose()


# -- core ---------------------------------------------------------------------------------------


def _database(db: Database) -> tuple[Finding, bool]:
    """The finding, and whether the tables are there to be read."""
    url = make_url(db.url)
    where = safe_url(db.url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        if not Path(url.database).exists():
            return Finding(WARN, "database",
                           f"{where}: no file yet; `liaison run` (or `liaison db upgrade`) "
                           "creates it"), False
    try:
        with db.engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as exc:
        return Finding(FAIL, "database",
                       f"{where} does not answer ({first_line(exc)}); check DATABASE_URL and "
                       "that the server is running and reachable from here"), False
    script = ScriptDirectory.from_config(alembic_config(db.url))
    heads = set(script.get_heads())
    known = {rev.revision for rev in script.walk_revisions()}
    if current - known:
        return Finding(FAIL, "database",
                       f"{where} has schema revision {', '.join(sorted(current - known))}, "
                       "newer than this version of Liaison knows; run the newer version"), True
    if current == heads:
        return Finding(OK, "database", f"{where} answers; schema is current"), True
    if not current:
        return Finding(WARN, "database",
                       f"{where} answers but has no tables yet; `liaison db upgrade` (or "
                       "`liaison run`) creates them"), False
    return Finding(WARN, "database",
                   f"{where} answers; its schema is behind: `liaison db upgrade` (or "
                   "`liaison run`, which upgrades at start) brings it up to date"), True


def _routes(db: Database) -> list[ChannelRoute] | None:
    """The channel routes, or None when they cannot be read (the database line said why)."""
    try:
        with Session(db.engine) as session:
            return list(session.exec(select(ChannelRoute).order_by(ChannelRoute.id)))
    except SQLAlchemyError:
        return None


def _time_zone(settings: Settings) -> Finding:
    local = datetime.now(UTC).astimezone(settings.zone)
    return Finding(OK, "time zone",
                   f"{settings.timezone}: it is {local:%Y-%m-%d %H:%M} (UTC{local:%z}) there; "
                   f"the daily digest goes out at {settings.digest_time}")


def _templates() -> Finding:
    from bot.render import Renderer

    renderer = Renderer()
    zh, en = renderer.template_names("zh"), renderer.template_names("en")
    labels = {loc: _flatten(renderer._labels[loc]) for loc in ("zh", "en")}
    missing = [f"en/{n}" for n in sorted(zh - en)] + [f"zh/{n}" for n in sorted(en - zh)]
    missing += [f"en label {k}" for k in sorted(labels["zh"] - labels["en"])]
    missing += [f"zh label {k}" for k in sorted(labels["en"] - labels["zh"])]
    if missing:
        return Finding(FAIL, "templates",
                       f"missing in one language: {', '.join(missing[:10])}"
                       + (f" and {len(missing) - 10} more" if len(missing) > 10 else ""))
    return Finding(OK, "templates",
                   f"{len(zh)} templates and {len(labels['zh'])} labels, in Chinese and English")


def _domains() -> Finding:
    """Each domain's code imports: `liaison run` imports it only with the first message, so a
    broken install would otherwise show only as every answer being an apology."""
    import handlers
    from bot.errors import DomainLoadError

    for domain in handlers.DOMAINS:
        try:
            domain.load()
        except DomainLoadError as exc:
            return Finding(FAIL, "domains",
                           f"{exc}; the bot would answer every message with an apology. "
                           "Reinstall (`pip install -e .`), or see why with "
                           f"`python -c 'import {domain.code}'`")
    return Finding(OK, "domains", f"the code of all {len(handlers.DOMAINS)} domains imports")


def _flatten(labels: dict, prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for key, value in labels.items():
        if isinstance(value, dict):
            keys |= _flatten(value, f"{prefix}{key}.")
        else:
            keys.add(f"{prefix}{key}")
    return keys


# -- Slack --------------------------------------------------------------------------------------


class SlackChecks:
    def __init__(self, settings: Settings, routes: list[ChannelRoute] | None) -> None:
        from slack_sdk import WebClient

        self.settings = settings
        self.routes = routes
        self.client = WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url,
                                timeout=TIMEOUT)

    def run(self) -> Iterator[Finding]:
        from slack_sdk.errors import SlackApiError, SlackClientError

        try:
            me = self.client.auth_test()
        except SlackApiError as exc:
            error = exc.response.get("error") or f"http {exc.response.status_code}"
            yield Finding(FAIL, "slack auth.test",
                          f"Slack refused SLACK_BOT_TOKEN ({error}): copy the Bot User OAuth "
                          "Token (xoxb-…) from the app's Install App page; reinstall the app "
                          "if it was revoked")
            return
        except (SlackClientError, OSError) as exc:
            yield Finding(FAIL, "slack auth.test",
                          f"Slack's API at {self.settings.slack_api_url} cannot be reached "
                          f"({exc.__class__.__name__}); outbound HTTPS to slack.com is needed")
            return
        yield Finding(OK, "slack auth.test",
                      f"bot @{me.get('user')} ({me.get('user_id')}) in team {me.get('team')} "
                      f"({me.get('team_id')})")
        yield self._scopes(me.headers)
        yield self._connection()
        yield from self._channels()

    def _scopes(self, headers: dict) -> Finding:
        # Every Web API answer lists the token's scopes in `x-oauth-scopes` ("Scopes and
        # permissions", docs.slack.dev).
        found = {k.lower(): v for k, v in (headers or {}).items()}.get("x-oauth-scopes")
        if found is None:
            return Finding(WARN, "slack scopes",
                           "Slack did not say which scopes the token has (no x-oauth-scopes); "
                           f"the bot needs {', '.join(SLACK_SCOPES)}")
        granted = {s.strip() for s in found.split(",") if s.strip()}
        missing = [s for s in SLACK_SCOPES if s not in granted]
        if missing:
            listed = "; ".join(f"{s} (for {SLACK_SCOPES[s]})" for s in missing)
            return Finding(FAIL, "slack scopes",
                           f"missing {listed}: add them under OAuth & Permissions (or paste "
                           "manifest.yaml again) and reinstall the app")
        return Finding(OK, "slack scopes", f"all {len(SLACK_SCOPES)} scopes the bot uses")

    def _connection(self) -> Finding:
        from slack_sdk import WebClient
        from slack_sdk.errors import SlackApiError, SlackClientError

        if self.settings.slack_app_token:
            app = WebClient(base_url=self.settings.slack_api_url, timeout=TIMEOUT)
            try:
                app.apps_connections_open(app_token=self.settings.slack_app_token)
            except SlackApiError as exc:
                error = exc.response.get("error") or f"http {exc.response.status_code}"
                return Finding(FAIL, "slack socket mode",
                               f"Slack refused SLACK_APP_TOKEN ({error}): make an app-level "
                               "token (xapp-…) with connections:write on Basic Information, "
                               "and turn Socket Mode on")
            except (SlackClientError, OSError) as exc:
                return Finding(FAIL, "slack socket mode",
                               f"apps.connections.open failed ({exc.__class__.__name__})")
            return Finding(OK, "slack socket mode",
                           "the app token opens a Socket Mode connection; no public URL needed")
        if not self.settings.slack_signing_secret:
            return Finding(FAIL, "slack http mode",
                           "HTTP mode needs SLACK_SIGNING_SECRET (Basic Information → App "
                           "Credentials), or set SLACK_APP_TOKEN for Socket Mode")
        url = self.settings.public_url.rstrip("/")
        if not url:
            return Finding(WARN, "slack http mode",
                           "HTTP mode, and LIAISON_PUBLIC_URL is not set, so whether Slack can "
                           "reach /slack/events is not checked; set it to the address Slack "
                           "calls, or use Socket Mode (SLACK_APP_TOKEN)")
        try:
            response = requests.get(f"{url}/healthz", timeout=TIMEOUT)
        except requests.RequestException as exc:
            return Finding(FAIL, "slack http mode",
                           f"{url}/healthz does not answer ({exc.__class__.__name__}): check "
                           "the DNS name, the reverse proxy and the firewall, and that "
                           "`liaison run` is up")
        if response.status_code != 200:
            return Finding(FAIL, "slack http mode",
                           f"{url}/healthz answers HTTP {response.status_code}: the proxy in "
                           "front of Liaison does not pass requests through")
        return Finding(OK, "slack http mode",
                       f"{url}/healthz answers; Slack's Request URL is {url}/slack/events")

    def _channels(self) -> Iterator[Finding]:
        from slack_sdk.errors import SlackApiError, SlackClientError

        channels = [(r.channel_id, f"the {r.purpose} channel") for r in self.routes or []
                    if r.platform == "slack"]
        platform, _, training = self.settings.training_channel.partition(":")
        if platform == "slack":
            channels.append((training, "LIAISON_TRAINING_CHANNEL"))
        if self.routes is None:
            return
        if not channels:
            yield Finding(WARN, "slack channels",
                          "no channel is routed yet: as an admin, type `/liaison route "
                          "complaints here` in the channel")
            return
        for channel, role in channels:
            try:
                info = self.client.conversations_info(channel=channel)["channel"]
            except SlackApiError as exc:
                error = exc.response.get("error") or "error"
                yield Finding(FAIL, "slack channel",
                              f"{channel} ({role}): {error}; a private channel is visible only "
                              "with the bot in it: `/invite @Liaison` there, or route another")
                continue
            except (SlackClientError, OSError) as exc:
                yield Finding(FAIL, "slack channel", f"{channel} ({role}): "
                              f"conversations.info failed ({exc.__class__.__name__})")
                continue
            if info.get("is_member"):
                yield Finding(OK, "slack channel", f"{channel} ({role}): the bot is in it")
            else:
                yield Finding(WARN, "slack channel",
                              f"{channel} ({role}): the bot is not in it; it can post there "
                              "but reads threads only as a member: `/invite @Liaison`")


# -- DingTalk -----------------------------------------------------------------------------------


class DingTalkChecks:
    def __init__(self, settings: Settings, routes: list[ChannelRoute] | None,
                 *, send_test: bool) -> None:
        from bot.adapters.dingtalk_openapi import OpenApi

        self.settings = settings
        self.routes = routes
        self.send_test = send_test
        self.api = OpenApi(settings.dingtalk_openapi_endpoint, settings.dingtalk_client_id,
                           settings.dingtalk_client_secret, settings.dingtalk_robot,
                           timeout=TIMEOUT)

    def run(self) -> Iterator[Finding]:
        try:
            self.api.token()
        except DeliveryError as exc:
            if "unreachable" in exc.reason or "timeout" in exc.reason:
                yield Finding(FAIL, "dingtalk access token",
                              f"{self.settings.dingtalk_openapi_endpoint} cannot be reached "
                              f"({exc.reason}); outbound HTTPS to api.dingtalk.com is needed")
                return
            yield Finding(FAIL, "dingtalk access token",
                          f"DingTalk refused the app's credentials ({exc.reason}): copy the "
                          "Client ID and Client Secret from 凭证与基础信息 into "
                          "DINGTALK_CLIENT_ID and DINGTALK_CLIENT_SECRET")
            return
        yield Finding(OK, "dingtalk access token", "the Client ID and Client Secret are accepted")
        yield self._stream()
        yield self._robot_code()
        if self.send_test:
            yield self._test_message()

    def _stream(self) -> Finding:
        # What dingtalk-stream posts first: the gateway answers an endpoint and a ticket.
        body = {"clientId": self.settings.dingtalk_client_id,
                "clientSecret": self.settings.dingtalk_client_secret,
                "subscriptions": [{"type": "CALLBACK", "topic": "/v1.0/im/bot/messages/get"}],
                "ua": "liaison-doctor"}
        url = self.settings.dingtalk_openapi_endpoint.rstrip("/")
        try:
            response = requests.post(f"{url}/v1.0/gateway/connections/open", json=body,
                                     timeout=TIMEOUT)
        except requests.RequestException as exc:
            return Finding(FAIL, "dingtalk stream",
                           f"the Stream gateway cannot be reached ({exc.__class__.__name__}); "
                           "outbound HTTPS to api.dingtalk.com is needed")
        if response.status_code != 200:
            return Finding(FAIL, "dingtalk stream",
                           f"the Stream gateway refused the app (HTTP {response.status_code}): "
                           "choose Stream 模式 on the robot's page and publish a version")
        return Finding(OK, "dingtalk stream", "the Stream gateway accepts the app")

    def _robot_code(self) -> Finding:
        code = self.settings.dingtalk_robot
        if code == self.settings.dingtalk_client_id:
            return Finding(OK, "dingtalk robot code",
                           f"{code} (the Client ID, as for an internal app's robot); "
                           "`liaison doctor --send-test` proves it with a message")
        if self.send_test:
            return Finding(OK, "dingtalk robot code", f"{code} (DINGTALK_ROBOT_CODE)")
        return Finding(WARN, "dingtalk robot code",
                       f"{code} differs from the Client ID; only a message proves it: "
                       "`liaison doctor --send-test`")

    def _test_message(self) -> Finding:
        from bot.adapters.dingtalk import shape
        from bot.messages import Reply
        from bot.render import Renderer

        groups = [r for r in self.routes or [] if r.platform == "dingtalk"]
        if not groups:
            return Finding(WARN, "dingtalk test message",
                           "no DingTalk group is routed yet: as an admin, `@Liaison /route "
                           "complaints here` in the group")
        route = groups[0]
        renderer = Renderer(self.settings.default_locale, bot_names=self.settings.bot_names)
        rendered = renderer.render(Reply("system/doctor_test", {"purpose": route.purpose}),
                                   locale=None, platform="dingtalk", zone=self.settings.zone)
        key, param = shape(rendered, tappable=False).openapi()
        try:
            self.api.send_group(route.channel_id, key, param)
        except DeliveryError as exc:
            return Finding(FAIL, "dingtalk test message",
                           f"DingTalk refused it ({exc.reason}) in {route.channel_id} (the "
                           f"{route.purpose} group): check DINGTALK_ROBOT_CODE (the robot's "
                           "page shows its RobotCode), that the robot is in the group "
                           "(群设置 → 机器人) and that the app has 企业内机器人发送消息权限")
        return Finding(OK, "dingtalk test message",
                       f"sent to {route.channel_id} (the {route.purpose} group)")


__all__ = ["Finding", "diagnose", "main", "SLACK_SCOPES"]
