"""Slack through slack-bolt: Socket Mode with an app token, else HTTP mode on waitress.

A thin translator. Slack payloads become `Inbound` messages for `Liaison.handle`; the
`Outbound` messages that come back become Web API calls. slack_sdk errors become
`DeliveryError` here, once.

Acknowledging: the Bolt app runs with `process_before_response=True`, so the listener's
return is the HTTP response (Socket Mode: the envelope ack) with no polling in between (Bolt's
default mode polls for the ack every 10 ms). Every listener hands the work to a thread pool
and waits for it at most `ack_budget` seconds (2 s, under Slack's 3): a slash command whose
private answer is ready by then gets it in the ack body, the common case, a few milliseconds
of database work; otherwise the ack goes out empty and the answer follows by the command's
response URL. Everything else (public replies, DMs, cards) is written to the outbox with the
change and goes by the Web API from the delivery worker (schedules/worker.py), which calls
`send`; Slack's rate limits pause the scope named in `delivery_error`, nobody sleeps.

Where a conversation continues: a slash command in the bot's DM (or any DM) continues in the
bot's DM; in a channel the bot's first answer is a channel message and the conversation goes
on in its thread, which the bot can read only as a member: it joins a public channel, and
where it cannot (a private channel it is not in) it says so at once, with how to invite it,
and the conversation moves to the DM. Plain messages reach the core from the DM, from
@mentions, and from a thread in which the sender has a conversation in progress, nothing else
from channels. One member's messages in one place are handled one at a time, in order.

Where private answers go: a slash command's and a button's through their response URL (next
to where the person is), others with chat.postEphemeral, into a thread only when that thread
exists (Slack does not show an ephemeral message in a thread that does not). Slack's markup
in what people type is decoded in slack_text, long messages are split in slack_blocks, the
App Home is slack_home.
"""

from __future__ import annotations

import json
import logging
import re
import shlex
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.error import URLError

from slack_bolt import App
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient
from sqlalchemy import bindparam, delete, update
from sqlmodel import Session, select

from bot import conversation, members
from bot.adapters import slack_files, slack_forms, slack_text
from bot.adapters.base import Pace, deliver_to_peer
from bot.adapters.http_guard import MAX_BODY
from bot.adapters.serial import SerialByKey
from bot.adapters.slack_blocks import (
    CHOICE_ACTION,
    FORM_ACTION,
    FORM_CALLBACK,
    answered,
    combine,
    form_button,
    message_payloads,
)
from bot.adapters.slack_home import HOME_ACTIONS, HOME_COMMANDS, home_view
from bot.config import Settings
from bot.core import Liaison
from bot.errors import ConfigError, DeliveryError
from bot.messages import Address, Inbound, Outbound, Rendered, Reply
from bot.models import Conversation

if TYPE_CHECKING:  # imported in run() only in Socket Mode: HTTP mode never needs it
    from slack_bolt.adapter.socket_mode import SocketModeHandler

log = logging.getLogger(__name__)

PLATFORM = "slack"
# Asked on every slash command (built once: building it cost more than running it).
_STARTED_HERE = select(Conversation.id).where(
    Conversation.platform == PLATFORM, Conversation.channel_id == bindparam("channel"),
    Conversation.user_id == bindparam("user"), Conversation.thread_id.is_(None))
ACK_BUDGET = 2.0
FORM_BUDGET = 1.5  # seconds a form may take to build before a placeholder opens instead

# Errors after which the same call can never succeed; anything else Slack calls temporary.
PERMANENT = frozenset({
    "channel_not_found", "not_in_channel", "is_archived", "user_not_found", "user_disabled",
    "cannot_dm_bot", "account_inactive", "invalid_auth", "not_authed", "token_revoked",
    "token_expired", "missing_scope", "restricted_action", "msg_too_long", "no_text",
    "invalid_blocks", "invalid_arguments", "channel_is_archived", "ekm_access_denied",
    "user_not_in_channel", "messages_tab_disabled", "not_allowed_token_type",
})
TEMPORARY = frozenset({
    "ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable",
    "request_timeout",
})
_CURLY = str.maketrans({"“": '"', "”": '"', "「": '"', "」": '"', "‘": "'", "’": "'"})
_PICKED_USER = re.compile(r"@[UW][A-Z0-9]+")  # a member picked in a form (slack_forms.submitted)


def delivery_error(exc: Exception, scopes: tuple[str, ...] = ()) -> DeliveryError:
    """The one place slack_sdk errors are translated. A rate limit names the `scopes` the
    call was in (its channel, or its method's tier), which the delivery worker pauses."""
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, SlackApiError):
        response = exc.response
        status = getattr(response, "status_code", 200)
        error = str(response.get("error") or f"http_{status}")
        if status == 429 or error in ("ratelimited", "rate_limited"):
            headers = {k.lower(): v for k, v in (response.headers or {}).items()}
            try:
                retry_after: float | None = float(headers.get("retry-after", 1))
            except (TypeError, ValueError):
                retry_after = 1.0
            return DeliveryError(error, temporary=True, retry_after=retry_after, scopes=scopes)
        if status >= 500 or error in TEMPORARY:
            return DeliveryError(error, temporary=True)
        # PERMANENT names the usual ones; an error Slack adds later is permanent too, since
        # retrying a call Slack refused by name only repeats the refusal.
        return DeliveryError(error, temporary=False)
    if isinstance(exc, SlackClientError | URLError | TimeoutError | OSError):
        return DeliveryError(f"network:{exc.__class__.__name__}", temporary=True)
    return DeliveryError(f"error:{exc.__class__.__name__}", temporary=True)


@dataclass
class Origin:
    """What an inbound came with that its answers need: a slash command's response URL, and
    whether its public answers open a thread in a channel."""

    response_url: str | None = None
    opens_thread: bool = False
    # A thread known to exist (someone wrote in it). Ephemeral messages go only there: Slack
    # shows an ephemeral message in a thread only if the thread already exists.
    existing_thread: str | None = None
    form_command: str | None = None  # the command text, when it may be offered as a modal
    extras: dict[int, dict[str, Any]] = field(default_factory=dict)  # id(outbound) -> block


@dataclass
class _Ack:
    """The private part of a slash command's answer, handed from the worker to the ack: the
    one message's payload, or None."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    ready: Future = field(default_factory=Future)
    late: bool = False


class SlackAdapter:
    platform = PLATFORM

    def __init__(
        self,
        app: Liaison,
        settings: Settings | None = None,
        *,
        bot_token: str = "",
        app_token: str = "",
        signing_secret: str = "",
        api_url: str = "https://slack.com/api/",
        host: str = "0.0.0.0",
        port: int = 3000,
        ack_budget: float = ACK_BUDGET,
        workers: int = 16,
        http_threads: int = 8,
    ) -> None:
        if settings is not None:  # how `liaison run` builds every adapter
            bot_token = bot_token or settings.slack_bot_token
            app_token = app_token or settings.slack_app_token
            signing_secret = signing_secret or settings.slack_signing_secret
            api_url = settings.slack_api_url
            port = settings.http_port
        if not bot_token:
            raise ConfigError("Setting SLACK_BOT_TOKEN: required for Slack")
        if not app_token and not signing_secret:
            raise ConfigError(
                "Setting SLACK_SIGNING_SECRET: required for Slack HTTP mode "
                "(or set SLACK_APP_TOKEN for Socket Mode)"
            )
        self.app = app
        self.socket_mode = bool(app_token)
        self.app_token = app_token
        self.host, self.port, self.http_threads = host, port, http_threads
        self.ack_budget = ack_budget
        self.client = WebClient(token=bot_token, base_url=api_url, timeout=10)
        self.api_url = api_url  # its host may serve shared files too (slack_files)
        self.peers: Mapping[str, Any] = {}  # adapters of other platforms, for cross-posting
        self._bot_token = bot_token
        self._signing_secret = signing_secret
        self._identity: dict[str, str] | None = None
        self._identity_lock = threading.Lock()
        self._profiles: dict[str, dict[str, str | None]] = {}
        self._dms: dict[str, str] = {}
        self._joined: set[str] = set()  # channels joined (or found joined) by this process
        self._home_users: set[str] = set()  # members who opened the Home tab: kept fresh
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slack-work")
        self._serial = SerialByKey(self._pool)  # keyed by (channel, user)
        self._stopped = threading.Event()
        self._server: Any = None
        self._socket: SocketModeHandler | None = None
        bolt_log = logging.getLogger("slack_bolt")
        level = bolt_log.level
        # Bolt also reads SLACK_BOT_TOKEN from the environment and warns, at construction,
        # that it is unused beside our client and `authorize`; that is by design here.
        bolt_log.setLevel(logging.ERROR)
        try:
            self.bolt = self._bolt(signing_secret, bolt_log)
        finally:
            bolt_log.setLevel(level)
        self._listen()

    def _bolt(self, signing_secret: str, logger: logging.Logger) -> App:
        return App(
            # Named, or Bolt names the app after its caller's file with inspect.stack(), which
            # reads the source of every frame on the stack (tens of ms of start-up).
            name="liaison",
            client=self.client,
            signing_secret=signing_secret or None,
            authorize=lambda enterprise_id, team_id: self._authorize(enterprise_id, team_id),
            process_before_response=True,
            request_verification_enabled=not self.socket_mode,
            logger=logger,
        )

    # -- identity ------------------------------------------------------------------------------

    @property
    def identity(self) -> dict[str, str]:
        with self._identity_lock:
            if self._identity is None:
                found = self.client.auth_test()
                self._identity = {
                    "user_id": found["user_id"], "bot_id": found.get("bot_id") or "",
                    "team_id": found.get("team_id") or "", "name": found.get("user") or "",
                }
            return self._identity

    def _authorize(self, enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        # Ours, not Bolt's default: one auth.test at start-up instead of a lookup per request.
        me = self.identity
        return AuthorizeResult(
            enterprise_id=enterprise_id, team_id=team_id or me["team_id"],
            bot_token=self._bot_token, bot_user_id=me["user_id"], bot_id=me["bot_id"],
        )

    def _profile(self, user: str) -> dict[str, str | None]:
        """Name, locale and zone from users.info, once per member per process."""
        found = self._profiles.get(user)
        if found is not None:
            return found
        try:
            info = self.client.users_info(user=user, include_locale=True)["user"]
        except (SlackApiError, SlackClientError, URLError, OSError) as exc:
            log.warning("users.info failed for %s: %s", user, delivery_error(exc).reason)
            return {}
        profile = info.get("profile") or {}
        locale = str(info.get("locale") or "")
        found = {
            "name": profile.get("display_name") or info.get("real_name") or info.get("name"),
            "locale": "zh" if locale.lower().startswith("zh") else ("en" if locale else None),
            "timezone": info.get("tz"),
        }
        self._profiles[user] = found
        return found

    def _decode(self, text: str) -> tuple[str, tuple[str, ...]]:
        """Slack's markup as plain text, plus the members mentioned (the bot itself left out);
        a mention sent without a name is shown with the name from the member's profile."""
        plain_text, mentioned = slack_text.decode(text, lambda u: self._profile(u).get("name"))
        return plain_text, tuple(m for m in mentioned if m != self.identity["user_id"])

    def _inbound(self, user: str, channel: str, text: str,
                 mentions: tuple[str, ...] = (), **fields: Any) -> Inbound:
        profile = self._profile(user)
        return Inbound(
            platform=PLATFORM, channel=channel, user=user, text=text, mentions=mentions,
            user_name=profile.get("name"), locale=profile.get("locale"),
            timezone=profile.get("timezone"), **fields,
        )

    # -- listeners -----------------------------------------------------------------------------

    def _listen(self) -> None:
        # Bolt passes arguments by parameter name and counts `self` of a bound method as one,
        # hence plain functions around the methods.
        bolt = self.bolt

        def command(ack, body):  # noqa: ANN001, ANN202
            return self._on_command(ack, body)

        def message(ack, event, body):  # noqa: ANN001, ANN202
            self._on_message(ack, event, body)

        def mention(ack, event, body):  # noqa: ANN001, ANN202
            self._on_mention(ack, event, body)

        def choice(ack, body):  # noqa: ANN001, ANN202
            self._on_choice(ack, body)

        def form_open(ack, body):  # noqa: ANN001, ANN202
            self._on_form_open(ack, body)

        def form_submit(ack, body, view):  # noqa: ANN001, ANN202
            self._on_form_submit(ack, body, view)

        def home_opened(ack, event):  # noqa: ANN001, ANN202
            ack()
            if event.get("tab") == "home" and event.get("user"):
                self._home_users.add(event["user"])
                self._refresh_home(event["user"])

        bolt.command(re.compile(r"^/.+"))(command)
        bolt.event("message")(message)
        bolt.event("app_mention")(mention)
        bolt.action(re.compile(f"^{CHOICE_ACTION}"))(choice)
        bolt.action(FORM_ACTION)(form_open)
        bolt.view(FORM_CALLBACK)(form_submit)
        bolt.event("app_home_opened")(home_opened)

    def command_text(self, command: str, text: str) -> str:
        return self._command(command, text)[0]

    def _command(self, command: str, text: str) -> tuple[str, tuple[str, ...]]:
        """`/complaint` + `new customer=x` -> `/complaint new customer=x`; `/liaison role ...`
        -> `/role ...`: Slack has one app command for the core's small families;
        `/reminders list` -> `/remind list` (`/remind` is Slack's own). With the mentions."""
        text, mentions = self._decode(text)
        text = text.strip()
        name = command.lower()
        registry = self.app.registry
        if name == registry.app_command:
            return (f"/{text}" if text else "/help"), mentions
        family = {s: f for f, s in registry.slack_commands.items()}.get(name, name.lstrip("/"))
        return f"/{family} {text}".strip(), mentions

    def _on_command(self, ack: Callable[..., None],
                    body: dict[str, Any]) -> BoltResponse | None:
        """The ack: the private answer when it is ready within the budget (returned as the
        listener's response, which Bolt sends as the ack), else an empty ack."""
        pending = _Ack()
        self._serial.submit((body.get("channel_id"), body.get("user_id")),
                            self._command_work, body, pending)
        try:
            now = pending.ready.result(timeout=self.ack_budget)
        except FutureTimeout:
            with pending.lock:
                pending.late = not pending.ready.done()
            now = None if pending.late else pending.ready.result()
        except Exception:  # noqa: BLE001  (logged by the worker; the ack must still go)
            now = None
        if now:
            return BoltResponse(status=200, body=now)
        ack()
        return None

    def _command_work(self, body: dict[str, Any], pending: _Ack) -> None:
        # Everything that may wait on Slack or the database (users.info on first contact,
        # conversations.open, the transaction) happens here, inside the ack budget.
        try:
            user, channel = body["user_id"], body["channel_id"]
            text, mentions = self._command(body.get("command", ""), body.get("text", ""))
            direct = self._is_dm(body)
            if direct:
                channel = self._dm_channel(user) or channel
            inbound = self._inbound(
                user, channel, text, mentions, direct=direct, workspace=body.get("team_id") or "",
            )
            origin = Origin(
                response_url=body.get("response_url"), opens_thread=not direct,
                form_command=text if len(text.split()) == 2 else None,
            )
            # Public answers, cards and DMs go to the outbox with the change; the private
            # answer comes back here for the ack, or joins the outbox when the ack has gone.
            kept = self.app.handle(inbound, queue=True, keep=_private_answer,
                                   prepare=self._preparer(origin))
            private = [o for o in kept if _private_answer(o)]
            with pending.lock:
                if not pending.late:
                    # The ack holds one message: a longer answer goes by the response URL.
                    now = _ack_body(tuple(o.message for o in private)) if private else None
                    pending.ready.set_result(now)
                    if now is not None or not private:
                        private = []
            rest = [o for o in kept if not _private_answer(o)]
            # (An error answer skipped `prepare`: it learns the response URL here.)
            self._deliver_all(self.app.queue(self._annotate(inbound, origin, private)) + rest,
                              inbound)
        except Exception as exc:
            log.exception("slash command failed")
            if not pending.ready.done():
                pending.ready.set_exception(exc)

    def _on_message(self, ack: Callable[..., None], event: dict[str, Any],
                    body: dict[str, Any]) -> None:
        ack()
        if event.get("subtype") not in (None, "file_share", "thread_broadcast"):
            return  # edits, joins, bot posts
        user = event.get("user")
        if not user or event.get("bot_id") or user == self.identity["user_id"]:
            return
        channel = event["channel"]
        raw = event.get("text") or ""
        direct = event.get("channel_type") == "im"
        thread = None if direct else event.get("thread_ts")
        if not direct and (not thread or f"<@{self.identity['user_id']}" in raw):
            return  # channel chatter; or a mention, which the app_mention event carries

        def inbound() -> Inbound | None:
            if not direct and not self._in_conversation(channel, user, str(thread)):
                return None
            text, mentions = self._decode(raw)
            files = slack_files.uploads(event.get("files") or [], self._bot_token,
                                        self.app.settings.upload_max_bytes, self.api_url)
            return self._inbound(
                user, channel, text, mentions, thread=thread, direct=direct,
                event_id=body.get("event_id"), workspace=body.get("team_id") or "",
                files=files,
            )

        origin = Origin(existing_thread=thread)
        self._wait(self._serial.submit((channel, user), self._work, inbound, origin))

    def _on_mention(self, ack: Callable[..., None], event: dict[str, Any],
                    body: dict[str, Any]) -> None:
        ack()
        user = event.get("user")
        if not user or event.get("bot_id") or str(event.get("channel", "")).startswith("D"):
            return  # in a DM the message event already brought it
        me = self.identity["user_id"]
        raw = re.sub(rf"<@{me}(\|[^>]*)?>", "", event.get("text") or "").strip()

        def inbound() -> Inbound:
            text, mentions = self._decode(raw)
            return self._inbound(
                user, event["channel"], text, mentions,
                thread=event.get("thread_ts") or event.get("ts"),
                event_id=body.get("event_id"), workspace=body.get("team_id") or "",
            )

        # Public answers start a thread under the mention; private ones go in the thread only
        # when the mention was itself in one.
        origin = Origin(existing_thread=event.get("thread_ts"))
        self._wait(self._serial.submit((event["channel"], user), self._work, inbound, origin))

    def _on_choice(self, ack: Callable[..., None], body: dict[str, Any]) -> None:
        ack()
        action = body["actions"][0]
        value = str(action.get("value", ""))
        user, channel = body["user"]["id"], (body.get("channel") or {}).get("id", "")
        message, container = body.get("message") or {}, body.get("container") or {}
        if container.get("type") == "view":  # a button on the Home tab: answered in the DM
            channel = self._dm_channel(user) or ""
        direct = channel.startswith("D")
        thread = None if direct else (
            message.get("thread_ts") or container.get("thread_ts") or message.get("ts")
            or container.get("message_ts")
        )
        # A question's buttons go once answered; a card's command buttons (`/comm check ...`)
        # stay, since others in the channel may use them too.
        if message.get("blocks") and body.get("response_url") and not value.startswith("/"):
            label = (action.get("text") or {}).get("text", "")
            self._pool.submit(self._mark_answered, body["response_url"], message, label)

        def inbound() -> Inbound:
            return self._inbound(
                user, channel, value, thread=thread, direct=direct, is_action=True,
                workspace=(body.get("team") or {}).get("id", ""),
            )

        # A private answer goes back through the action's response URL, where the person is.
        origin = Origin(response_url=body.get("response_url") or None,
                        existing_thread=message.get("thread_ts") or container.get("thread_ts"))
        self._wait(self._serial.submit((channel, user), self._work, inbound, origin))

    def _mark_answered(self, response_url: str, message: dict[str, Any], label: str) -> None:
        try:
            WebhookClient(response_url, timeout=10).send(
                text=message.get("text") or " ", blocks=answered(message["blocks"], label),
                replace_original=True,
            )
        except Exception as exc:  # noqa: BLE001  (cosmetic: the answer itself went through)
            log.warning("could not update the answered message: %s", exc)

    # -- the complaint intake (or any flow) as a modal ------------------------------------------

    def _offer_form(self, session: Session, inbound: Inbound, origin: Origin,
                    outbounds: list[Outbound]) -> list[Outbound]:
        """A command that just started a flow (with no answers typed in) gets a button that
        opens the same flow as a modal."""
        if not origin.form_command:
            return outbounds
        started = next((o for o in outbounds if o.message.template == "flow/started"), None)
        if started is None:
            return outbounds
        session.flush()
        conv = session.exec(select(Conversation).where(
            Conversation.platform == PLATFORM, Conversation.channel_id == inbound.channel,
            Conversation.user_id == inbound.user)).first()
        member = members.find(session, PLATFORM, user_id=inbound.user)
        flow = self.app.registry.flows.get(conv.flow) if conv else None
        if flow is None or not slack_forms.form_steps(flow):
            return outbounds
        locale = self.app.renderer.locale(
            (member.locale if member else None) or inbound.locale
        )
        value = json.dumps({"flow": flow.name, "command": origin.form_command,
                            "channel": inbound.channel, "direct": inbound.direct})
        label = str(self.app.renderer.label(locale, "slack.form_button"))
        origin.extras[id(started)] = form_button(label, value)
        return outbounds

    def _on_form_open(self, ack: Callable[..., None], body: dict[str, Any]) -> None:
        ack()
        meta = json.loads(body["actions"][0]["value"])
        message, container = body.get("message") or {}, body.get("container") or {}
        if not meta.get("direct"):
            meta["thread"] = (message.get("thread_ts") or container.get("thread_ts")
                              or message.get("ts") or container.get("message_ts"))
        flow = self.app.registry.flows.get(meta.get("flow", ""))
        if flow is None:
            return
        user = body["user"]["id"]

        def build() -> dict[str, Any]:
            inbound = self._inbound(user, meta["channel"], "", direct=meta["direct"])
            with slack_forms.reading_ctx(self.app, inbound) as ctx:
                return slack_forms.build_view(self.app, ctx, flow, meta)

        # The trigger_id is good for 3 s ("Modals", docs.slack.dev): a form not ready by
        # FORM_BUDGET opens as a placeholder, which views.update then fills in. The listener
        # returns at once (its return is the ack).
        self._pool.submit(self._open_form, body.get("trigger_id", ""), user, build,
                          meta["channel"])

    def _open_form(self, trigger_id: str, user: str, build: Callable[[], dict[str, Any]],
                   channel: str) -> None:
        locale = self._locale_of(user)  # first: building holds the database for a while
        building = self._pool.submit(build)
        opened: Any = None
        label = "slack.form_unavailable"  # the questions could not be put in a form
        try:
            try:
                view = building.result(timeout=FORM_BUDGET)
            except FutureTimeout:
                view = None
            label = "slack.form_failed"  # Slack refused to open it (an expired trigger_id)
            if view is not None:
                self.client.views_open(trigger_id=trigger_id, view=view)
                return
            waiting = slack_forms.loading_view(self.app, locale)
            opened = self.client.views_open(trigger_id=trigger_id, view=waiting)
            label = "slack.form_unavailable"
            self.client.views_update(view_id=opened["view"]["id"], hash=opened["view"].get(
                "hash"), view=building.result())
        except Exception as exc:  # noqa: BLE001  (the conversation goes on without the form)
            log.warning("could not open the form: %s", delivery_error(exc).reason)
            self._form_trouble(opened, channel, user, locale, label)

    def _form_trouble(self, opened: Any, channel: str, user: str, locale: str,  # noqa: ANN401
                      label: str) -> None:
        """Say why no form came, and how to go on: in the placeholder when it is open (else
        the person is left with a spinner), else privately in the conversation."""
        try:
            if opened is not None:
                self.client.views_update(view_id=opened["view"]["id"],
                                         view=slack_forms.loading_view(self.app, locale, label))
            else:
                self.client.chat_postEphemeral(channel=channel, user=user, text=str(
                    self.app.renderer.label(locale, label)))
        except Exception as again:  # noqa: BLE001
            log.warning("could not say the form did not open: %s", delivery_error(again).reason)

    def _on_form_submit(self, ack: Callable[..., None], body: dict[str, Any],
                        view: dict[str, Any]) -> None:
        meta = json.loads(view.get("private_metadata") or "{}")
        flow = self.app.registry.flows.get(meta.get("flow", ""))
        if flow is None:
            ack()
            return
        user = body["user"]["id"]
        raw = slack_forms.submitted(view.get("state") or {})
        probe = self._inbound(user, meta["channel"], "", direct=meta["direct"])
        with slack_forms.reading_ctx(self.app, probe) as ctx:
            errors = slack_forms.check(self.app, ctx, flow, raw)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()
        # The answers go in as the command's key=value words: the same path as typing them.
        words = [f"{key}={shlex.quote(value.translate(_CURLY))}" for key, value in raw.items()]
        picked = tuple(v[1:] for v in raw.values() if _PICKED_USER.fullmatch(v))
        inbound = self._inbound(
            user, meta["channel"], " ".join([meta["command"], *words]), picked,
            thread=meta.get("thread"), direct=meta["direct"],
        )
        left_empty = {s.key for s in slack_forms.form_steps(flow)
                      if s.optional and s.key not in raw}
        self._serial.submit((inbound.channel, user), self._submit_form, inbound, left_empty)

    def _submit_form(self, inbound: Inbound, left_empty: set[str]) -> None:
        """Run the command with the form's answers. An optional field left empty in the form
        is skipped, as if the member had said "skip", while it is the next question; one that
        comes after a list step is asked in the conversation (the member may say "skip").
        Each step's answers join the outbox in the transaction of its change; a question about
        to be skipped is not sent."""
        origin = Origin(existing_thread=inbound.thread)
        skipped: set[str] = set()
        left: list[Outbound] = []
        skip: list[str] = []  # the question this transaction ends at, when it is skipped next
        before: list[str | None] = [None]  # the question before it

        def prepare(session: Session, found: Inbound,
                    outbounds: list[Outbound]) -> list[Outbound]:
            step = self._step_in(session, found)
            # (An answer that changed nothing, such as an error, stays where it was: it is sent.)
            if step != before[-1] and step in left_empty - skipped:
                skip.append(step)
                # Only the last prompt matters; what went elsewhere (none expected) stays.
                outbounds = [o for o in outbounds if not o.address.in_reply]
            return self._annotate(found, origin, outbounds)

        current = inbound
        try:
            while True:
                skip.clear()
                with self.app.db.session() as session:
                    before.append(self._step_in(session, current))
                left += self.app.handle(current, queue=True, prepare=prepare)
                if not skip:
                    break
                skipped.add(skip[-1])
                current = replace(inbound, text="skip", is_action=True)
            self._deliver_all(left, inbound)
        except Exception:
            log.exception("could not take a submitted form")

    @staticmethod
    def _step_in(session: Session, inbound: Inbound) -> str | None:
        """The question the person's conversation here is at, as this transaction sees it."""
        session.flush()
        return session.exec(select(Conversation.step).where(
            Conversation.platform == PLATFORM, Conversation.channel_id == inbound.channel,
            Conversation.user_id == inbound.user)).first()

    # -- doing the work ------------------------------------------------------------------------

    def _wait(self, future: Future) -> None:
        """Let the answer go out with the ack when it is quick; never past the budget."""
        try:
            future.result(timeout=self.ack_budget)
        except FutureTimeout:
            pass
        except Exception:  # noqa: BLE001  (logged where it happened)
            pass

    def _work(self, inbound: Inbound | Callable[[], Inbound | None], origin: Origin) -> None:
        """Handle one inbound (or build it first: that may call users.info) and deliver."""
        try:
            found = inbound() if callable(inbound) else inbound
            if found is not None:
                left = self.app.handle(found, queue=True, prepare=self._preparer(origin))
                self._deliver_all(left, found)
        except Exception:
            log.exception("could not handle a Slack message")

    def _preparer(self, origin: Origin) -> Callable[[Session, Inbound, list[Outbound]],
                                                     list[Outbound]]:
        """What the outbox must keep for Slack to deliver the answers later (see `_annotate`),
        decided in the change's transaction. A flow just started in a channel the bot cannot
        follow (see `_can_follow`) moves to the person's DM first, with the invite hint."""

        def prepare(session: Session, inbound: Inbound,
                    outbounds: list[Outbound]) -> list[Outbound]:
            if origin.opens_thread and self._started_here(session, inbound) \
                    and not self._can_follow(inbound.channel):
                dm = self._dm_channel(inbound.user)
                if dm is not None:
                    return self._continue_in_dm(session, inbound, origin, outbounds, dm)
            outbounds = self._offer_form(session, inbound, origin, outbounds)
            return self._annotate(inbound, origin, outbounds)

        return prepare

    def _annotate(self, inbound: Inbound, origin: Origin,
                  outbounds: list[Outbound]) -> list[Outbound]:
        """The response URL (private answers; the fallback when the bot is not in the
        channel), the thread that exists for an ephemeral answer, the form button, and, for a
        command in a channel, that the first public answer opens a thread and the others
        follow it."""
        anchor: str | None = None
        prepared = []
        for outbound in outbounds:
            address, meta = outbound.address, dict(outbound.meta)
            if address.platform == PLATFORM and address.in_reply:
                if origin.response_url:
                    meta["response_url"] = origin.response_url
                if address.ephemeral_to:
                    if origin.existing_thread:
                        meta["existing_thread"] = origin.existing_thread
                else:
                    if id(outbound) in origin.extras:
                        meta["extra"] = origin.extras[id(outbound)]
                    if origin.opens_thread and anchor is None:
                        anchor = f"out:{uuid.uuid4().hex}"
                        meta.update(key=anchor, anchor=True, user=inbound.user)
                    elif origin.opens_thread:
                        meta["thread_of"] = anchor
            prepared.append(replace(outbound, meta=meta) if meta else outbound)
        return prepared

    def _deliver_all(self, outbounds: list[Outbound], inbound: Inbound) -> None:
        """What could not be queued (the database is away: the apology for that): one try
        each, directly. Then the person's Home tab, if they look at it, shows the change."""
        for outbound in outbounds:
            if outbound.address.platform != PLATFORM:
                self._to_peer(outbound)
                continue
            try:
                self.send(outbound)
            except DeliveryError as exc:
                log.warning("could not deliver a reply on Slack: %s", exc.reason)
        if inbound.user in self._home_users:
            self._refresh_home(inbound.user)

    # -- the App Home tab ------------------------------------------------------------------

    def _refresh_home(self, user: str) -> None:
        """Publish the person's Home tab again, after whatever they just did."""
        self._serial.submit(("home", user), self._publish_home, user)

    def _publish_home(self, user: str) -> None:
        try:
            dm = self._dm_channel(user)
            if dm is None:
                return
            parts = []
            for command in HOME_COMMANDS:
                inbound = self._inbound(user, dm, command, direct=True)
                parts += [o.message for o in self.app.handle(inbound)
                          if o.address.in_reply and not o.message.template.startswith("errors/")]
            locale = self._locale_of(user)
            label = self.app.renderer.label
            view = home_view(str(label(locale, "slack.home.title")),
                             [(c, str(label(locale, key))) for c, key in HOME_ACTIONS], parts)
            self.client.views_publish(user_id=user, view=view)
        except Exception as exc:  # noqa: BLE001  (the Home is a view; chat goes on without it)
            log.warning("could not publish the Home tab: %s", delivery_error(exc).reason)

    def _to_peer(self, outbound: Outbound) -> None:
        deliver_to_peer(self.peers, outbound)

    # -- conversations in channel threads --------------------------------------------------

    def _in_conversation(self, channel: str, user: str, thread: str) -> bool:
        with self.app.db.session() as session:
            found = session.exec(select(Conversation.id).where(
                Conversation.platform == PLATFORM, Conversation.channel_id == channel,
                Conversation.user_id == user, Conversation.thread_id == thread)).first()
        return found is not None

    @staticmethod
    def _started_here(session: Session, inbound: Inbound) -> bool:
        """Whether the message just started a conversation here (no thread given yet)."""
        # The conversation engine writes its rows with Core statements and notes each, as
        # this transaction last read or wrote it, in the session (every command reads it
        # first): no query when it holds this one (a tenth of a command's time).
        known, row = conversation.held(session, inbound.platform, inbound.channel, inbound.user)
        if known:
            return row is not None and row.get("thread_id") is None
        session.flush()
        found = session.exec(_STARTED_HERE, params={
            "channel": inbound.channel, "user": inbound.user}).first()
        return found is not None

    def _can_follow(self, channel: str) -> bool:
        """Whether the bot can read the answers in a thread of `channel`: it is a member
        ("conversations.info method": is_member; a private channel it is not in answers
        channel_not_found), or joins a public one now ("conversations.join method"). Asked
        while the answers are prepared, once per channel and process, so that a flow goes on
        in the DM instead when it cannot."""
        if channel in self._joined:
            return True
        try:
            found = self.client.conversations_info(channel=channel)["channel"]
            if not found.get("is_member"):
                if found.get("is_private"):
                    return False
                self.client.conversations_join(channel=channel)
        except Exception as exc:  # noqa: BLE001  (any refusal: the conversation goes to the DM)
            log.info("cannot follow %s (%s); the conversation goes on in the DM", channel,
                     delivery_error(exc).reason)
            return False
        self._joined.add(channel)
        return True

    def _continue_in_dm(self, session: Session, inbound: Inbound, origin: Origin,
                        outbounds: list[Outbound], dm: str) -> list[Outbound]:
        """The bot cannot read this channel: say so at once, privately (and how to invite
        it), move the conversation to the person's DM and ask its questions there."""
        # A conversation already open in the DM gives way to the one just started.
        session.exec(delete(Conversation).where(
            Conversation.platform == PLATFORM, Conversation.channel_id == dm,
            Conversation.user_id == inbound.user))
        session.exec(update(Conversation).where(
            Conversation.platform == PLATFORM, Conversation.channel_id == inbound.channel,
            Conversation.user_id == inbound.user, Conversation.thread_id.is_(None),
        ).values(channel_id=dm))
        outbounds = self._offer_form(session, replace(inbound, channel=dm, direct=True),
                                     origin, outbounds)
        notice = self._render_for(session, inbound, Reply(
            "slack/invite_hint", {"invite": f"/invite @{self.identity.get('name') or 'Liaison'}"}))
        hint = Outbound(Address(platform=PLATFORM, channel=inbound.channel,
                                ephemeral_to=inbound.user, in_reply=True), notice)
        moved = []
        for outbound in outbounds:
            address = outbound.address
            if address.platform == PLATFORM and address.in_reply and not address.ephemeral_to:
                extra = origin.extras.get(id(outbound))
                outbound = Outbound(Address(platform=PLATFORM, channel=dm), outbound.message,
                                    {"extra": extra} if extra else {})
            moved.append(outbound)
        return self._annotate(inbound, replace(origin, opens_thread=False), [hint, *moved])

    def _locale_of(self, user: str) -> str:
        with self.app.db.session() as session:
            member = members.find(session, PLATFORM, user_id=user)
        return self.app.renderer.locale(
            (member.locale if member else None) or self._profile(user).get("locale"))

    def _render_for(self, session: Session, inbound: Inbound, reply: Reply) -> Rendered:
        """A message of the adapter's own, in the person's language."""
        member = members.find(session, PLATFORM, user_id=inbound.user)
        locale = (member.locale if member else None) or inbound.locale
        return self.app.renderer.render(reply, locale=locale, platform=PLATFORM,
                                        zone=self.app.member_zone(member), direct=False)

    def _thread_conversation(self, channel: str, user: str, thread: str) -> None:
        """The conversation a slash command started goes on in the thread of its first
        answer."""
        with self.app.db.session() as session:
            session.exec(update(Conversation).where(
                Conversation.platform == PLATFORM, Conversation.channel_id == channel,
                Conversation.user_id == user, Conversation.thread_id.is_(None),
            ).values(thread_id=thread))

    # -- outbound ------------------------------------------------------------------------------

    # How fast the delivery worker may call, from Slack's "Rate limits" page: chat.postMessage
    # has special limits, about one message per second per channel with short bursts allowed;
    # conversations.open is Tier 3 (50+ per minute), chat.postEphemeral Tier 4 (100+).
    pace = {
        f"{PLATFORM}:post": Pace(per_second=1.0, burst=3),
        f"{PLATFORM}:method": Pace(per_second=50 / 60, burst=10),
    }

    def scopes(self, outbound: Outbound) -> tuple[str, ...]:
        """The rate-limit scopes `send(outbound)` calls in (see schedules/throttle.py)."""
        found = self._text_scopes(outbound)
        if outbound.message.files:
            # files.getUploadURLExternal and files.completeUploadExternal are Tier 4.
            found += (f"{PLATFORM}:method:files.completeUploadExternal",)
        return found

    def _text_scopes(self, outbound: Outbound) -> tuple[str, ...]:
        address = outbound.address
        if address.in_reply and address.ephemeral_to:
            if outbound.meta.get("response_url"):
                return ()
            return (f"{PLATFORM}:method:chat.postEphemeral",)
        if address.channel:
            return (f"{PLATFORM}:post:{address.channel}",)
        dm = self._dms.get(address.user or "")
        if dm:
            return (f"{PLATFORM}:post:{dm}",)
        return (f"{PLATFORM}:method:conversations.open", f"{PLATFORM}:post:{address.user}")

    def send(self, outbound: Outbound) -> str | None:
        """Deliver to a channel, to a member's DM, or as an answer where the message came
        from (privately by the response URL or chat.postEphemeral; publicly in the channel,
        in the thread its first answer opened). Returns the (first) message's ts. Raises
        DeliveryError.

        A message longer than Slack takes in one goes as several (slack_blocks). How many went
        out is kept in `outbound.meta["progress"]`, which the delivery worker keeps with the
        message when it must try again: the retry goes on with the first part not sent, so
        none is posted twice.

        Files the message carries go after its text, with files_upload_v2 (slack_sdk: the
        external upload in three steps), into the same conversation and thread. Slack shares a
        file with a whole conversation and has no file only one person sees there, so the
        files of a private answer go to the person's DM."""
        ts, where = self._send_text(outbound)
        if outbound.message.files and not _progress_files(outbound):
            self._upload(outbound, *where)
        return ts

    def _send_text(self, outbound: Outbound) -> tuple[str | None, tuple[str, str | None]]:
        """The message's text; its ts, and where its files go: (channel, thread), or ("", …)
        for the person's DM."""
        address, meta = outbound.address, outbound.meta
        private = ("", None)
        if address.in_reply and address.ephemeral_to:
            self._ephemeral(outbound)
            return None, private
        if address.in_reply:
            thread = meta.get("thread") or address.thread
            try:
                ts = self._post(address.channel or "", outbound, thread, meta.get("extra"))
            except DeliveryError as exc:
                if exc.temporary or not meta.get("response_url") or _progress(outbound)[0]:
                    raise
                # Not in the channel: the asker still sees the answer, privately.
                self._respond(meta["response_url"], outbound)
                return None, private
            if meta.get("anchor"):
                self._thread_conversation(address.channel or "", meta.get("user", ""), ts)
                thread = thread or ts
            return ts, (address.channel or "", thread)
        if address.channel:
            ts = self._post(address.channel, outbound, address.thread, meta.get("extra"))
            return ts, (address.channel, address.thread)
        if address.user:
            channel = self._dm_channel(address.user, strict=True)
            assert channel is not None
            return self._post(channel, outbound, None), (channel, None)
        raise DeliveryError("no_address", temporary=False)

    def _upload(self, outbound: Outbound, channel: str, thread: str | None) -> None:
        address = outbound.address
        if not channel:
            person = address.ephemeral_to or address.user or ""
            channel = self._dm_channel(person, strict=True) or ""
            thread = None
        elif not channel.startswith("D"):
            # Files are shared only where the bot is a member (there is no files:write.public
            # as there is chat:write.public): it joins a public channel first.
            self._can_follow(channel)
        try:
            self.client.files_upload_v2(
                channel=channel, thread_ts=thread,
                file_uploads=[{"content": f.data, "filename": f.filename,
                               "title": f.title or f.filename}
                              for f in outbound.message.files],
            )
        except Exception as exc:
            raise delivery_error(exc, (f"{PLATFORM}:method:files.completeUploadExternal",)) \
                from exc
        outbound.meta["progress"] = {**(outbound.meta.get("progress") or {}), "files": True}

    def _post(self, channel: str, outbound: Outbound, thread: str | None,
              extra: dict[str, Any] | None = None) -> str:
        def post(payload: dict[str, Any]) -> str:
            try:
                response = self.client.chat_postMessage(
                    channel=channel, thread_ts=thread, unfurl_links=False, unfurl_media=False,
                    **payload,
                )
            except Exception as exc:
                raise delivery_error(exc, (f"{PLATFORM}:post:{channel}",)) from exc
            return str(response.get("ts") or "")

        return _in_parts(outbound, message_payloads(outbound.message, extra), post)

    def _ephemeral(self, outbound: Outbound) -> None:
        address, meta = outbound.address, outbound.meta
        if meta.get("response_url"):
            self._respond(meta["response_url"], outbound)
            return
        # Into a thread only when it exists: Slack does not show an ephemeral message in a
        # thread that does not ("chat.postEphemeral method").
        thread = address.thread if address.thread == meta.get("existing_thread") else None

        def post(payload: dict[str, Any]) -> str:
            try:
                self.client.chat_postEphemeral(
                    channel=address.channel or "", user=address.ephemeral_to or "",
                    thread_ts=thread, **payload,
                )
            except Exception as exc:
                raise delivery_error(exc, (f"{PLATFORM}:method:chat.postEphemeral",)) from exc
            return ""

        _in_parts(outbound, message_payloads(outbound.message), post)

    def _respond(self, response_url: str, outbound: Outbound) -> None:
        # Slack takes up to five responses on one response URL ("Handling user interaction").
        def post(payload: dict[str, Any]) -> str:
            try:
                response = WebhookClient(response_url, timeout=10).send(
                    response_type="ephemeral", replace_original=False, **payload
                )
            except Exception as exc:
                raise delivery_error(exc) from exc
            if response.status_code == 429 or response.status_code >= 500:
                raise DeliveryError(f"response_url:http_{response.status_code}", temporary=True)
            if response.status_code >= 300:  # expired (30 minutes) or used up (5 times)
                # Not delivered: the outbox records the failure (and tells the admins) rather
                # than marking it sent.
                raise DeliveryError(f"response_url:http_{response.status_code}",
                                    temporary=False)
            return ""

        _in_parts(outbound, message_payloads(outbound.message), post)

    def _dm_channel(self, user: str, strict: bool = False) -> str | None:
        found = self._dms.get(user)
        if found:
            return found
        try:
            found = self.client.conversations_open(users=user)["channel"]["id"]
        except Exception as exc:
            if strict:
                raise delivery_error(exc, (f"{PLATFORM}:method:conversations.open",)) from exc
            log.warning("conversations.open failed for %s: %s", user, exc)
            return None
        self._dms[user] = str(found)
        return found

    @staticmethod
    def _is_dm(body: dict[str, Any]) -> bool:
        name = str(body.get("channel_name") or "")
        return (name == "directmessage" or name.startswith("mpdm-")
                or str(body.get("channel_id", "")).startswith("D"))

    # -- serving -------------------------------------------------------------------------------

    def wsgi(self) -> Callable[..., Any]:
        """The web app (bot/web/): POST /slack/events (commands, events, interactivity), GET
        /healthz (liveness), GET /readyz (the database answers) and, when it is on, the
        dashboard, behind the guard against hostile requests."""
        from bot.web.server import wsgi_app

        return wsgi_app(self.app, bolt=self.bolt, signing_secret=self._signing_secret)

    def listen(self) -> int:
        """Bind the HTTP server (HTTP mode) and return its port; `run` then serves."""
        from waitress import create_server

        if self._server is None:
            self._server = create_server(
                self.wsgi(), host=self.host, port=self.port, threads=self.http_threads,
                ident="liaison", clear_untrusted_proxy_headers=True,
                max_request_body_size=MAX_BODY + 1,  # waitress refuses at >=
            )
        return int(self._server.effective_port)

    def run(self) -> None:
        self.identity  # noqa: B018  (fail now, not at the first message, on a bad token)
        if self.socket_mode:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            self._socket = SocketModeHandler(self.bolt, self.app_token, web_client=self.client)
            self._socket.connect()
            log.info("Slack: Socket Mode connected")
            self._stopped.wait()
            return
        port = self.listen()
        log.info("Slack: HTTP mode on %s:%s (POST /slack/events, GET /healthz)", self.host, port)
        self._server.run()

    def stop(self) -> None:
        self._stopped.set()
        if self._socket is not None:
            _close_socket_mode(self._socket.client)
        server = self._server
        if server is not None:
            from bot.ops import stop_waitress

            stop_waitress(server)
        self._pool.shutdown(wait=False, cancel_futures=False)


def _close_socket_mode(client: Any) -> None:  # noqa: ANN401  (slack_sdk's builtin client)
    """Close slack_sdk's Socket Mode client at once. Its own close() first waits for the
    receiving thread, which holds the socket's lock in a recv() that times out only after 3 s,
    and then for the message thread's 1 s queue wait: a bot stopped by SIGTERM took up to
    4 s. Both are woken first (the socket shut down, the queue given an empty item, which
    slack_sdk skips), after the client is marked closed so that nothing reconnects. These are
    slack_sdk's internals: where a version lacks one, the plain close() still runs."""
    try:
        client.closed = True
        client.auto_reconnect_enabled = False
        state = getattr(client, "current_session_state", None)
        if state is not None:
            state.terminated = True
        sock = getattr(getattr(client, "current_session", None), "sock", None)
        if isinstance(sock, socket.socket):
            try:  # the plain socket's shutdown: an SSL socket's own would drop its TLS state
                socket.socket.shutdown(sock, socket.SHUT_RDWR)  # under the reading thread
            except OSError:
                pass  # already closed
        queue = getattr(client, "message_queue", None)
        if queue is not None:
            queue.put(None)
    except (AttributeError, TypeError) as exc:
        log.debug("Socket Mode: closing the plain way (%s)", exc)
    client.close()


@lru_cache(maxsize=32)
def _ack_body(messages: tuple[Rendered, ...]) -> str | None:
    """The JSON body of a slash command's ack holding these private answers, as Bolt's
    `ack(response_type="ephemeral", text=..., blocks=...)` writes it; None when they do not
    fit in one message. Kept for the same answers (help, rendered once per roles, language
    and platform): encoding its 30 kB was a sixth of the command's time."""
    parts = combine(list(messages))
    if len(parts) != 1:
        return None
    body: dict[str, Any] = {"text": parts[0]["text"], "response_type": "ephemeral"}
    if parts[0]["blocks"]:
        body["blocks"] = parts[0]["blocks"]
    return json.dumps(body)


def _private_answer(outbound: Outbound) -> bool:
    """A slash command's private answer, which may ride in the HTTP ack (not one with files:
    those are uploaded, by the delivery worker)."""
    address = outbound.address
    return address.platform == PLATFORM and address.in_reply and bool(address.ephemeral_to) \
        and not outbound.message.files


def _progress_files(outbound: Outbound) -> bool:
    """Whether the message's files went out already (a retry sends only what is left)."""
    return bool((outbound.meta.get("progress") or {}).get("files"))


def _progress(outbound: Outbound) -> tuple[int, str]:
    """How many parts of the message went out already, and the first one's ts."""
    progress = outbound.meta.get("progress") or {}
    return int(progress.get("parts") or 0), str(progress.get("ts") or "")


def _in_parts(outbound: Outbound, payloads: list[dict[str, Any]],
              post: Callable[[dict[str, Any]], str]) -> str:
    """Send the parts not sent yet, in order, noting each in the message's progress; the
    first part's ts."""
    sent, first = _progress(outbound)
    for index in range(sent, len(payloads)):
        ts = post(payloads[index])
        first = first or ts
        outbound.meta["progress"] = {**(outbound.meta.get("progress") or {}),
                                     "parts": index + 1, "ts": first}
    return first
