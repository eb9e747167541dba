"""DingTalk, in Stream mode (no public URL): robot messages in, markdown out.

A thin translator. A robot message (a 1:1 chat, or an @-mention in a group) becomes an Inbound
for the core; the core's Outbounds go back as DingTalk markdown: an answer through the
message's session webhook while it lives, else through the OpenAPI (dingtalk_openapi.py),
which is also how reminders reach groups and people.
Files a message carries follow its text as robot file messages, pictures as image messages
(uploaded first, see `_send_file`), always through the OpenAPI: a session webhook has no file
message type.

The official SDK (dingtalk-stream 0.24.3) opens the connection, parses frames and builds
ACKs; this module adds what it lacks:
- a message is acknowledged once it is written down in the inbox (dingtalk_inbox.py; or, when
  the database cannot take it, once it is handled), and handled on a worker thread, never on
  the SDK's event loop; one person's messages in one chat stay in order, different people run
  in parallel; what was acknowledged but not answered (the process ended, or the database
  went away while answering) is retried at start and every INBOX_RETRY_EVERY while running,
  once it is INBOX_GRACE old, unless it is too old to answer by then (INBOX_MAX_AGE);
- a redelivered msgId is handled once (here in memory, and by the core's inbound-event table,
  which also covers restarts and replicas);
- a handler failure still acknowledges, and the person is told politely;
- a connection with no frame for LIAISON_DINGTALK_IDLE is dropped and reopened, reconnects
  back off exponentially with jitter, and stop() (SIGTERM) ends everything cleanly.

What it remembers, in memory only: each chat's latest session webhook and its expiry. Losing
it (a restart, another replica) costs nothing but a detour through the OpenAPI. Channel ids
need no table: a group's channel is its openConversationId, which is what the OpenAPI takes,
and a 1:1 chat's channel is `dm:<userId>`, which names whom to send to.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import os
import random
import re
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, quote_plus

from bot.adapters.base import Pace, deliver_to_peer
from bot.adapters.dingtalk_inbox import TableInbox
from bot.adapters.dingtalk_openapi import (
    BATCH_LIMIT,
    FILE,
    MARKDOWN,
    OpenApi,
    WebhookRefused,
)
from bot.adapters.serial import SerialByKey
from bot.config import Settings
from bot.core import Liaison
from bot.dialects import DINGTALK, resolve_mentions
from bot.errors import ConfigError, DeliveryError, StorageError
from bot.messages import (
    Address,
    Attachment,
    Inbound,
    Outbound,
    Rendered,
    RenderedChoice,
    Reply,
    Upload,
)

log = logging.getLogger(__name__)

PLATFORM = "dingtalk"
ROBOT_TOPIC = "/v1.0/im/bot/messages/get"
DM_PREFIX = "dm:"
# A session webhook this close to its expiry is not worth trying.
WEBHOOK_MARGIN = 30.0
OPEN_TIMEOUT = 30.0  # seconds for the SDK's connections/open call
THROTTLE_PAUSE = 60.0  # seconds, when a DingTalk throttle names no Retry-After
MAX_WEBHOOKS = 10_000  # chats whose reply link is remembered; expired ones are pruned past it
MAX_BUTTONS = 5  # an action card has one to five buttons; more choices stay numbered links
BUTTON_TITLE = 20  # characters
# The file types a robot file message takes ("企业机器人发送消息的消息类型", sampleFile:
# fileType xlsx, pdf, zip, rar, doc, docx).
FILE_TYPES = frozenset({"xlsx", "pdf", "zip", "rar", "doc", "docx"})
# A picture goes as an image message instead (sampleImageMsg: photoURL, which takes the
# media_id of an image upload, "上传媒体文件" type image: jpg, gif, png, bmp up to 1 MB).
IMAGE_TYPES = frozenset({"jpg", "jpeg", "gif", "png", "bmp"})
IMAGE_LIMIT = 1024 * 1024
IMAGE = "sampleImageMsg"
# A picture sent to the robot has no name: it is named by its media type.
IMAGE_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif"}
# The inbox (dingtalk_inbox.py): a message left there is retried once it is INBOX_GRACE old; the
# replica that recorded it answers well within that (a step takes milliseconds to seconds), so a
# replica starting during a rolling deploy does not answer what a live one is answering.
INBOX_GRACE = timedelta(seconds=60)
INBOX_RETRY_EVERY = 30.0  # seconds between two looks at the inbox while running
# A left message is answered only while the answer can still make sense: for INBOX_MAX_AGE
# after it was sent (createAt, ms) or, without one, recorded, and not after its session webhook
# expired (sessionWebhookExpiredTime, ms; DingTalk gives it about 1.5 hours). Past that the
# conversation has moved on (a stale "yes" could confirm another draft) and the person
# has been told to try again: the message is dropped with a warning naming its msgId.
INBOX_MAX_AGE = timedelta(minutes=10)
# While the SDK handles a frame of ours (StreamClient._frame): the msgIds it wrote down, each
# queued for its answer once the SDK has sent the ACK. Unset (None): queued at once.
_AFTER_ACK: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "after_ack", default=None)
_LEADING_AT = re.compile(r"@\S+\s*")
_AT_TOKEN = re.compile(r"(?:^|\s)@\S+")


def load_sdk(endpoint: str) -> Any:
    """Import dingtalk_stream so that it talks to `endpoint`.

    The SDK reads DINGTALK_OPENAPI_ENDPOINT once, at import, from the environment, while our
    setting may come from `.env`; so the variable is set from the setting before the import,
    and a second adapter that wants another endpoint in the same process is refused."""
    loaded = sys.modules.get("dingtalk_stream.utils")
    if loaded is None:
        os.environ["DINGTALK_OPENAPI_ENDPOINT"] = endpoint
    import dingtalk_stream
    import dingtalk_stream.utils

    if dingtalk_stream.utils.DINGTALK_OPENAPI_ENDPOINT.rstrip("/") != endpoint.rstrip("/"):
        raise ConfigError(
            "Setting DINGTALK_OPENAPI_ENDPOINT: the DingTalk SDK was already loaded with "
            f"{dingtalk_stream.utils.DINGTALK_OPENAPI_ENDPOINT}; one endpoint per process"
        )
    return dingtalk_stream


class DingTalkAdapter:
    platform = PLATFORM

    def __init__(
        self,
        app: Liaison,
        settings: Settings,
        *,
        workers: int = 8,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        openapi: OpenApi | None = None,
    ) -> None:
        if not settings.dingtalk_enabled:
            raise ConfigError(
                "Setting DINGTALK_CLIENT_ID: DingTalk needs DINGTALK_CLIENT_ID and "
                "DINGTALK_CLIENT_SECRET"
            )
        self.app = app
        self.settings = settings
        self.idle = settings.dingtalk_idle.total_seconds()
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.openapi = openapi or OpenApi(
            settings.dingtalk_openapi_endpoint, settings.dingtalk_client_id,
            settings.dingtalk_client_secret, settings.dingtalk_robot,
            oapi_endpoint=settings.dingtalk_oapi_endpoint,
        )
        self.peers: Mapping[str, Any] = {}  # adapters of other platforms, for cross-posting
        self._webhooks: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()  # the webhooks, the msgIds in flight or settled, `processed`
        self._seen = _Recent(20_000)
        self._inflight: set[str] = set()  # msgIds queued or being handled here
        # msgIds answered here (or apologised for) whose inbox row could not be deleted then:
        # deleted, not answered again, when the inbox is next looked at.
        self._settled: set[str] = set()
        # Written down, to be queued once their frame's ACK is sent (queue_written); on the loop.
        self._written: deque[tuple[Any, str]] = deque()
        self.inbox = TableInbox(app.db)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="dingtalk")
        # One person's answers in one chat reach the conversation engine in typed order.
        self._lanes = SerialByKey(self._pool)
        self._stopping = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self.processed = 0  # messages handled to the end, replies sent (tests wait on it)

    # -- lifecycle ------------------------------------------------------------------------------

    def run(self) -> None:
        """Serve until stop(): connect, read, reconnect. Messages already acknowledged are
        finished before this returns, since DingTalk will not send them again."""
        sdk = load_sdk(self.settings.dingtalk_openapi_endpoint)
        stream_cls, handler_cls = _sdk_classes(sdk)
        client = stream_cls(
            sdk.Credential(self.settings.dingtalk_client_id, self.settings.dingtalk_client_secret),
            self,
        )
        client.register_callback_handler(ROBOT_TOPIC, handler_cls(self))
        self._client = client
        self.retry_inbox()
        try:
            asyncio.run(self._serve(client))
        finally:
            self._pool.shutdown(wait=True)
            self.inbox.close()
            log.info("DingTalk adapter stopped")

    async def _serve(self, client: Any) -> None:
        self._loop = asyncio.get_running_loop()
        retrying = asyncio.create_task(self._retry_inbox_periodically())
        try:
            await client.start()
        finally:
            retrying.cancel()
            self._loop = None

    async def _retry_inbox_periodically(self) -> None:
        """On the SDK's loop, every INBOX_RETRY_EVERY: `retry_inbox` on a worker thread."""
        loop = asyncio.get_running_loop()
        while not self.stopping:
            await asyncio.sleep(INBOX_RETRY_EVERY)
            if self.stopping:
                return
            try:
                await loop.run_in_executor(None, self.retry_inbox)
            except Exception:  # a bug: say it, and look again next time
                log.exception("could not retry the DingTalk inbox")

    def stop(self) -> None:
        self._stopping.set()
        loop, client = self._loop, self._client
        if loop is not None and client is not None:
            try:
                loop.call_soon_threadsafe(client.wake)
            except RuntimeError:
                pass  # the loop closed in the meantime: nothing left to wake

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def backoff(self, failures: int) -> float:
        """Seconds before the next connection attempt: prompt after a connection that worked
        (DingTalk's `disconnect` asks for exactly that), exponential with full jitter after
        failures, so a fleet does not reconnect in step."""
        ceiling = min(self.backoff_cap, self.backoff_base * (2 ** min(failures, 16)))
        return random.uniform(0.5, 1.0) * ceiling

    # -- inbound --------------------------------------------------------------------------------

    async def accept(self, data: dict[str, Any], message_cls: Any) -> None:
        """Called on the SDK's event loop, which sends the ACK when this returns: parse,
        de-duplicate, write the message down and queue it; a message that could not be written
        down is handled before this returns."""
        message = message_cls.from_dict(data)
        msg_id = message.message_id
        if msg_id and not self._seen.add(msg_id):
            log.info("DingTalk redelivered message %s; already handled", msg_id)
            return
        if msg_id:
            try:
                await self.inbox.write(msg_id, data)
            except Exception as exc:  # StorageError, or a bug: either way, not written down
                log.warning("DingTalk message %s not written down (%s); handled before its "
                            "ACK", msg_id, exc)
            else:
                written = _AFTER_ACK.get()
                if written is not None:
                    # Queued once the ACK is on its way (a worker starting this step now
                    # would take turns at the GIL with the loop that sends it), in the order
                    # written down (see `queue_written`). In flight from now on, so that the
                    # inbox retry leaves it alone while its ACK is on its way.
                    with self._lock:
                        self._inflight.add(msg_id)
                    self._written.append((message, msg_id))
                    written.append(msg_id)
                else:
                    self._submit(message, msg_id)
                return
        if self._written:  # written down before this one, ACK still on its way: they go first
            self.queue_written(self._written[-1][1])
        await asyncio.wrap_future(self._submit(message, None))

    def queue_written(self, upto: str) -> None:
        """On the loop, once the frame that wrote `upto` down is ACKed (or failed to be):
        queue the messages written down so far, oldest first, through `upto` (one person's
        messages keep their order even when a later frame's ACK went out first)."""
        if not any(msg_id == upto for _, msg_id in self._written):
            return  # queued already, by a later frame's turn
        while self._written:
            message, msg_id = self._written.popleft()
            try:
                self._submit(message, msg_id)
            except Exception:  # the pool is gone (shutting down): the inbox retry answers it
                with self._lock:
                    self._inflight.discard(msg_id)
                log.exception("could not queue DingTalk message %s", msg_id)
            if msg_id == upto:
                return

    def _submit(self, message: Any, msg_id: str | None) -> Any:
        user = message.sender_staff_id or message.sender_id or ""
        if msg_id:
            with self._lock:
                self._inflight.add(msg_id)
        return self._lanes.submit((message.conversation_id, user), self._process, message,
                                  msg_id)

    def retry_inbox(self, now: datetime | None = None) -> int:
        """Queue the messages acknowledged but not answered (a crash, or the database went
        away while answering) that are at least INBOX_GRACE old, claimed so that no other
        replica takes them too; drop those too old to answer (see INBOX_MAX_AGE). Called at
        start and every INBOX_RETRY_EVERY. Returns how many were queued."""
        now = now or datetime.now(UTC)
        try:
            claimed = self.inbox.claim(now, INBOX_GRACE)
        except StorageError as exc:
            log.warning("could not read the DingTalk inbox (%s); it is read again in %.0fs",
                        exc, INBOX_RETRY_EVERY)
            return 0
        queued = 0
        for msg_id, data, received_at in claimed:
            with self._lock:
                if msg_id in self._inflight:
                    continue  # still queued here, behind others
                settled = msg_id in self._settled
            if settled:
                if self.inbox.done(msg_id):
                    with self._lock:
                        self._settled.discard(msg_id)
                continue
            if _too_old(data, received_at, now):
                log.warning("DingTalk message %s was acknowledged but not answered, and is too "
                            "old to answer now; dropped", msg_id)
                self.inbox.done(msg_id)
                continue
            try:
                message = load_sdk(
                    self.settings.dingtalk_openapi_endpoint).ChatbotMessage.from_dict(data)
            except Exception:  # noqa: BLE001  (one unreadable row must not hold up the rest)
                log.exception("DingTalk message %s left in the inbox cannot be read; dropped",
                              msg_id)
                self.inbox.done(msg_id)
                continue
            self._seen.add(msg_id)
            self._submit(message, msg_id)
            queued += 1
        if queued:
            log.info("DingTalk: %d message(s) acknowledged but not answered are queued again",
                     queued)
        return queued

    def _process(self, message: Any, msg_id: str | None) -> None:
        try:
            self._handle(message, msg_id)
        except Exception:  # the lane's future is not awaited: say it here
            log.exception("DingTalk message handling failed")
        finally:
            with self._lock:
                self.processed += 1
                if msg_id:
                    self._inflight.discard(msg_id)

    def _handle(self, message: Any, msg_id: str | None) -> None:
        inbound = to_inbound(message)
        if inbound is None:
            if msg_id:
                self.inbox.done(msg_id)
            return
        files = self._files(message)
        if files:
            inbound = replace(inbound, files=files)
        self._remember_webhook(inbound.channel, message)
        committed: list[bool] = []

        def handled(session: Any, _inbound: Inbound, outbounds: list[Outbound]) -> list[Outbound]:
            # The message leaves the inbox in the transaction that answers it, and counts as
            # answered once that transaction has committed (it may still fail after this).
            if msg_id:
                self.inbox.done_in(session, msg_id)
                session.info.setdefault("after_commit", []).append(
                    lambda: committed.append(True))
            return outbounds

        try:
            # Every answer goes to the outbox with the change; only what could not be queued
            # (the database is away: the apology for that) comes back, for one direct try.
            outbounds = self.app.handle(inbound, queue=True, prepare=handled)
        except Exception:
            # The core answers its own errors; this is a bug in between. Still say sorry.
            log.exception("could not handle DingTalk message %s", inbound.event_id)
            outbounds = [self._apology(inbound)]
        if msg_id and not committed:
            # Already handled (a redelivery), answered without a transaction, or no answer
            # could be committed (the person gets the apology below and is told to retry).
            # When the database is away this fails too: the row is then deleted, unanswered,
            # when the inbox is next looked at here (another replica would answer it again).
            if not self.inbox.done(msg_id):
                with self._lock:
                    self._settled.add(msg_id)
        for outbound in outbounds:
            if outbound.address.platform == PLATFORM:
                self._deliver(outbound)
            else:
                self._to_peer(outbound)

    def _files(self, message: Any) -> tuple[Upload, ...]:
        """A picture or file message's file, fetched by its downloadCode (see
        dingtalk_openapi): within LIAISON_UPLOAD_MAX_BYTES, else not kept."""
        kind = message.message_type
        if kind == "picture" and message.image_content is not None:
            code, name = message.image_content.download_code, ""
        elif kind == "file":
            content = message.extensions.get("content") or {}
            content = content if isinstance(content, dict) else {}
            code, name = content.get("downloadCode"), str(content.get("fileName") or "")
        else:
            return ()
        limit = self.app.settings.upload_max_bytes
        if not code:
            return (Upload(name or kind, problem="unavailable"),)
        try:
            data, mime = self.openapi.download_message_file(str(code), limit)
        except DeliveryError as exc:
            log.warning("could not download a file sent to the robot: %s", exc.reason)
            return (Upload(name or kind, problem="unavailable"),)
        mime = mime.split(";", 1)[0].strip() or "application/octet-stream"
        name = name or "picture" + IMAGE_EXTENSIONS.get(mime, "")
        if len(data) > limit:
            return (Upload(name, mime, size=len(data), problem="too_large"),)
        return (Upload(name, mime, size=len(data), data=data),)

    def _apology(self, inbound: Inbound) -> Outbound:
        message = self.app.renderer.render(
            Reply("errors/internal"), locale=None, platform=PLATFORM, zone=self.settings.zone
        )
        address = Address(platform=PLATFORM, channel=inbound.channel, user=inbound.user,
                          in_reply=True)
        return Outbound(address, message)

    def _deliver(self, outbound: Outbound) -> None:
        try:
            self.send(outbound)
        except DeliveryError as exc:
            log.warning("DingTalk reply not delivered: %s", exc.reason)

    def _to_peer(self, outbound: Outbound) -> None:
        deliver_to_peer(self.peers, outbound)

    # -- outbound -------------------------------------------------------------------------------

    # How fast the delivery worker may call, from DingTalk's documentation: the robot OpenAPIs
    # are limited per app ("API调用频率限制": 20 calls a second by default), and a robot may
    # post about 20 messages a minute to one group ("机器人发送消息频率限制").
    # An answer through its message's session webhook is no OpenAPI call (no access token; the
    # link came with the message), and no DingTalk page gives it a limit: it goes in a scope of
    # its own, `dingtalk:session`, without a pace (a group answer keeps the group's pace). Paced
    # as an OpenAPI call, a burst of 200 answers took 9 s instead of 0.8 (bench/dingtalk.py).
    # A refused webhook falls back to the OpenAPI within the same send, outside the robot's
    # pace; a throttle DingTalk answers there pauses the robot as usual.
    pace = {
        f"{PLATFORM}:robot": Pace(per_second=20.0, burst=20),
        f"{PLATFORM}:group": Pace(per_second=20 / 60, burst=10),
    }

    def scopes(self, outbound: Outbound) -> tuple[str, ...]:
        """The rate-limit scopes `send(outbound)` calls in (see schedules/throttle.py)."""
        robot = f"{PLATFORM}:robot:{self.openapi.robot_code}"
        channel = outbound.address.channel or ""
        group = (f"{PLATFORM}:group:{channel}",) if channel and \
            not channel.startswith(DM_PREFIX) else ()
        if self._by_webhook(outbound):
            return (f"{PLATFORM}:session:{self.openapi.robot_code}", *group)
        return (robot, *group)

    def _by_webhook(self, outbound: Outbound) -> bool:
        """Whether `send` will answer through a live session webhook (see `_send_text`)."""
        address = outbound.address
        if not address.in_reply or outbound.message.files:
            return False
        try:
            channel = self._channel_of(outbound)
        except DeliveryError:
            return False
        return bool(self._live_webhook(channel))

    def _live_webhook(self, channel: str) -> str:
        """The chat's session webhook while it is still live, or ""."""
        with self._lock:
            url, expires = self._webhooks.get(channel, ("", 0.0))
        return url if url and time.time() <= expires - WEBHOOK_MARGIN else ""

    def send(self, outbound: Outbound) -> None:
        """Deliver one message; raises DeliveryError (temporary or permanent)."""
        error = self.send_many([outbound])[0]
        if error is not None:
            raise error

    def send_many(self, outbounds: Sequence[Outbound]) -> list[DeliveryError | None]:
        """Deliver several messages; one result per outbound (None: delivered). Identical
        messages to people (a reminder to several members) share batchSend calls of up to 20
        user ids; everything else goes one by one."""
        results: list[DeliveryError | None] = [None] * len(outbounds)
        batches: dict[tuple[str, str], list[int]] = {}
        for index, outbound in enumerate(outbounds):
            address = outbound.address
            if not address.in_reply and not address.channel and address.user and \
                    not outbound.message.files:
                key = shape(outbound.message, tappable=True).openapi()
                batches.setdefault(key, []).append(index)
                continue
            try:
                self._send_one(outbound)
            except DeliveryError as exc:
                results[index] = exc
        for (msg_key, param), indexes in batches.items():
            users = [outbounds[i].address.user or "" for i in indexes]
            errors = self._send_users(users, msg_key, param)
            for i, user in zip(indexes, users, strict=True):
                results[i] = errors.get(user)
        return results

    def _send_one(self, outbound: Outbound) -> None:
        """The text, then each file the message carries as a file message (in that order, and
        noted in `meta["progress"]`, so a retry sends only what is left)."""
        progress = outbound.meta.setdefault("progress", {})
        channel = self._channel_of(outbound)
        if not progress.get("text"):
            self._send_text(outbound, channel)
            progress["text"] = True
        for index, attachment in enumerate(outbound.message.files):
            if index < int(progress.get("files") or 0):
                continue
            self._send_file(channel, attachment)
            progress["files"] = index + 1

    @staticmethod
    def _channel_of(outbound: Outbound) -> str:
        """Where the message goes: a group's openConversationId or `dm:<userId>`."""
        address = outbound.address
        if address.in_reply:
            # DingTalk has no "only you can see this" in a group: private answers go to a DM.
            private = address.ephemeral_to
            return DM_PREFIX + private if private else (address.channel or "")
        if address.channel:
            return address.channel
        if address.user:
            return DM_PREFIX + address.user
        raise DeliveryError("dingtalk_no_address", temporary=False)

    def _send_text(self, outbound: Outbound, channel: str) -> None:
        shaped = shape(outbound.message, tappable=channel.startswith(DM_PREFIX))
        if outbound.address.in_reply and self._via_webhook(channel, shaped):
            return
        self._send_channel(channel, shaped)

    def _send_file(self, channel: str, attachment: Attachment) -> None:
        """Upload the file ("上传媒体文件", type file), then send it as a robot file message
        (msgKey sampleFile: mediaId, fileName, fileType). A session webhook takes only the
        custom robot's message types, which have no file: files go through the OpenAPI.
        DingTalk's file message takes xlsx, pdf, zip, rar, doc and docx; any other file goes
        zipped, so that it still arrives whole."""
        filename, data, mime = attachment.filename, attachment.data, attachment.mime
        if _extension(filename) in IMAGE_TYPES and len(data) <= IMAGE_LIMIT:
            media_id = self.openapi.upload_media(filename, data, mime, media_type="image")
            self._send_param(channel, IMAGE, json.dumps({"photoURL": media_id}))
            return
        if _extension(filename) not in FILE_TYPES:
            filename, data, mime = f"{filename}.zip", _zipped(filename, data), "application/zip"
        media_id = self.openapi.upload_media(filename, data, mime)
        param = json.dumps({"mediaId": media_id, "fileName": filename,
                            "fileType": _extension(filename)}, ensure_ascii=False)
        self._send_param(channel, FILE, param)

    def _send_channel(self, channel: str, shaped: Shaped) -> None:
        self._send_param(channel, *shaped.openapi())

    def _send_param(self, channel: str, msg_key: str, param: str) -> None:
        if channel.startswith(DM_PREFIX):
            self._raise_first(self._send_users([channel[len(DM_PREFIX):]], msg_key, param))
        elif channel:
            try:
                self.openapi.send_group(channel, msg_key, param)
            except DeliveryError as exc:
                raise self._throttled(exc, f"{PLATFORM}:group:{channel}") from None
        else:
            raise DeliveryError("dingtalk_no_address", temporary=False)

    def _send_users(self, users: list[str], msg_key: str, param: str) -> dict[str, DeliveryError]:
        """batchSend in calls of up to 20; returns the error of each user not reached."""
        errors: dict[str, DeliveryError] = {}
        unique = list(dict.fromkeys(users))
        for start in range(0, len(unique), BATCH_LIMIT):
            chunk = unique[start:start + BATCH_LIMIT]
            try:
                result = self.openapi.send_users(chunk, msg_key, param)
            except DeliveryError as exc:
                exc = self._throttled(exc, f"{PLATFORM}:robot:{self.openapi.robot_code}")
                errors.update((user, exc) for user in chunk)
                continue
            for user in result.flow_controlled:
                # Throttled for these people only: they were not reached, try again later.
                errors[user] = DeliveryError(
                    "dingtalk_flow_controlled", temporary=True, retry_after=THROTTLE_PAUSE
                )
            for user in result.invalid:
                errors[user] = DeliveryError("dingtalk_invalid_user", temporary=False)
            for user in result.filtered:
                # DingTalk took the call but filtered the message out for this person: it
                # will not arrive however often it is sent. Failed for good, so the reminder
                # engine tells the admins, with this reason.
                errors[user] = DeliveryError("dingtalk_filtered_user", temporary=False)
        return errors

    @staticmethod
    def _throttled(exc: DeliveryError, scope: str) -> DeliveryError:
        """A plain HTTP 429 pauses `scope`: the group for a group message, the robot for
        messages to people. (DingTalk's documented throttle codes already name the whole
        robot, in dingtalk_openapi.)"""
        if not exc.temporary or ":429:" not in exc.reason or exc.scopes:
            return exc
        return DeliveryError(exc.reason, temporary=True, scopes=(scope,),
                             retry_after=exc.retry_after or THROTTLE_PAUSE)

    @staticmethod
    def _raise_first(errors: dict[str, DeliveryError]) -> None:
        for error in errors.values():
            raise error

    # -- session webhooks -----------------------------------------------------------------------

    def _remember_webhook(self, channel: str, message: Any) -> None:
        url = message.session_webhook
        if not url:
            return
        expires = (message.session_webhook_expired_time or 0) / 1000.0
        with self._lock:
            self._webhooks[channel] = (url, expires)
            if len(self._webhooks) > MAX_WEBHOOKS:
                now = time.time()
                for key in [k for k, (_, exp) in self._webhooks.items() if exp < now]:
                    del self._webhooks[key]

    def _via_webhook(self, channel: str, shaped: Shaped) -> bool:
        url = self._live_webhook(channel)
        if not url:
            return False
        payload = shaped.webhook()
        try:
            self.openapi.post_webhook(url, payload)
        except WebhookRefused as exc:
            log.info("session webhook of %s refused (%s); using the OpenAPI", channel, exc)
            with self._lock:
                if self._webhooks.get(channel, ("",))[0] == url:
                    del self._webhooks[channel]
            return False
        return True


# -- translation ---------------------------------------------------------------------------------


def to_inbound(message: Any) -> Inbound | None:
    """A robot message as the core sees it. Groups are their openConversationId; a 1:1 chat
    is `dm:<userId>`. Without a staff id (someone outside the company) the SDK's senderId
    stands in: answers still reach them through the session webhook."""
    user = message.sender_staff_id or message.sender_id
    if not user:
        return None
    direct = str(message.conversation_type) == "1"
    channel = DM_PREFIX + user if direct else (message.conversation_id or "")
    if not channel:
        return None
    robot = message.chatbot_user_id
    others = [u for u in message.at_users or [] if u.dingtalk_id != robot]
    return Inbound(
        platform=PLATFORM,
        channel=channel,
        user=user,
        text=_text_of(message, direct, others),
        workspace=message.chatbot_corp_id or message.sender_corp_id or "",
        direct=direct,
        mentions=tuple(u.staff_id for u in others if u.staff_id),
        event_id=message.message_id,
        user_name=message.sender_nick or None,
    )


def _text_of(message: Any, direct: bool, others: list[Any]) -> str:
    kind = message.message_type
    if kind == "text" and message.text is not None:
        text = message.text.content or ""
    elif kind == "richText":
        text = "\n".join(message.get_text_list() or [])
    elif kind == "audio":
        # DingTalk transcribes voice messages; the words are what the person meant.
        content = message.extensions.get("content") or {}
        text = str(content.get("recognition") or "") if isinstance(content, dict) else ""
    else:
        text = ""  # a picture or a file: the core answers with the help hint
    # DingTalk puts a four-per-em space after each @name.
    text = text.replace("\u2005", " ").strip()
    robot_listed = len(others) < len(message.at_users or [])
    if not direct and robot_listed and len(_AT_TOKEN.findall(text)) > len(others):
        # The @robot is usually removed by DingTalk, leaving a leading space; when the text
        # still carries it, it is the one @word more than the people mentioned.
        text = _LEADING_AT.sub("", text, count=1).strip() if text.startswith("@") else text
    return text


@dataclass(frozen=True)
class Shaped:
    """One DingTalk message before its route is known: markdown with its mention tokens, and
    the buttons (label, link) when it is an action card."""

    title: str
    text: str
    buttons: tuple[tuple[str, str], ...] = ()

    def webhook(self) -> dict[str, Any]:
        """The session-webhook payload (the custom robot's message types)."""
        if self.buttons:
            # An action card has no `at`: a mention shows the name.
            btns = [{"title": label, "actionURL": url} for label, url in self.buttons]
            return {"msgtype": "actionCard", "actionCard": {
                "title": self.title, "text": _named(self.text), "btns": btns,
                "btnOrientation": "0"}}
        # Markdown mentions for real: `@userId` in the text, the id in `at.atUserIds`.
        text, mentioned = resolve_mentions(self.text, by_id=True)
        return {"msgtype": "markdown", "markdown": {"title": self.title, "text": text},
                "at": {"atUserIds": mentioned, "isAtAll": False}}

    def openapi(self) -> tuple[str, str]:
        """(msgKey, msgParam) for groupMessages/send and oToMessages/batchSend; msgParam is a
        JSON string inside the JSON body ("企业机器人发送消息的消息类型")."""
        param: dict[str, str] = {"title": self.title, "text": _named(self.text)}
        if not self.buttons:
            key = MARKDOWN
        elif len(self.buttons) == 1:
            key = "sampleActionCard"
            param["singleTitle"], param["singleURL"] = self.buttons[0]
        else:
            key = f"sampleActionCard{len(self.buttons)}"
            for n, (label, url) in enumerate(self.buttons, 1):
                param[f"actionTitle{n}"], param[f"actionURL{n}"] = label, url
        return key, json.dumps(param, ensure_ascii=False)


def shape(message: Rendered, *, tappable: bool) -> Shaped:
    """The message as DingTalk shows it. In a 1:1 chat (`tappable`) up to five short choices
    are action-card buttons ("企业机器人发送消息的消息类型": sampleActionCard takes one,
    sampleActionCard2..5 two to five, each title at most 20 characters); a button is a message
    link, so a tap sends the answer as the person's own message. Otherwise the choices are
    numbered lines in the markdown (links too, in a 1:1 chat)."""
    choices = message.choices
    fits = 0 < len(choices) <= MAX_BUTTONS and all(
        0 < len(c.label) <= BUTTON_TITLE for c in choices)
    if tappable and fits:
        title, text = markdown(replace(message, choices=()))
        buttons = tuple((c.label, _tap(i, c, message.step)) for i, c in enumerate(choices, 1))
        return Shaped(title, text, buttons)
    return Shaped(*markdown(message, tappable=tappable))


def markdown(message: Rendered, *, tappable: bool = False) -> tuple[str, str]:
    """(title, text) in DingTalk's markdown subset, mentions still as tokens (see
    `resolve_mentions`). The title is what the notification and the chat list show, as plain
    text; choices become numbered lines the person can answer with the number. In a 1:1 chat
    (`tappable`) each choice is also a DingTalk message link: a tap sends the answer (or the
    command) as the person's own message. In a group such a message would not @ the robot,
    and DingTalk delivers a group's messages to a robot only when they @ it, so there the
    number is typed."""
    parts: list[str] = []
    if message.title:
        parts.append(f"#### {message.title}")
    if message.body:
        parts.append(_hard_breaks(message.body))
    if message.choices:
        parts.append("  \n".join(
            f"{i}. {_choice(i, choice, tappable, message.step)}"
            for i, choice in enumerate(message.choices, 1)
        ))
    text = "\n\n".join(parts) or " "
    first = message.title or next((ln for ln in message.body.splitlines() if ln.strip()), "")
    title = _plain(resolve_mentions(first, by_id=False)[0])[:60].strip() or "Liaison"
    return title, text


def _choice(number: int, choice: RenderedChoice, tappable: bool, step: str) -> str:
    if tappable:
        # Brackets inside a link's text would end it early.
        label = choice.label.replace("[", "\uff3b").replace("]", "\uff3d")
        return f"[{label}]({_tap(number, choice, step)})"
    if choice.value.startswith("/"):
        return f"{choice.label} — {DINGTALK.escape(choice.value)}"
    return choice.label


def _tap(number: int, choice: RenderedChoice, step: str) -> str:
    """The message link of a choice. A number answers only the question the person is being
    asked; a choice that is a command (a card's "take it") sends the command itself. A link
    stays tappable forever, so in a conversation it also names its question (`2 #q1a2b3c`):
    tapped after that question was answered, it changes nothing (bot.conversation.tapped)."""
    if choice.value.startswith("/"):
        content = choice.value
    else:
        content = f"{number} #{step}" if step else str(number)
    return "dtmd://dingtalkclient/sendMessage?content=" + quote(content, safe="")


def _named(text: str) -> str:
    # The OpenAPI's messages have no `at`: a mention shows the person's name, never an id.
    return resolve_mentions(text, by_id=False)[0]


def _hard_breaks(body: str) -> str:
    # DingTalk joins single newlines into one line, as markdown does; the templates mean them.
    return re.sub(r"(?<!\n)\n(?!\n)", "  \n", body.strip())


def _plain(text: str) -> str:
    return text.replace("**", "").lstrip("#").strip()


# -- the SDK, extended -----------------------------------------------------------------------------


def _extension(filename: str) -> str:
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else ""


def _zipped(filename: str, data: bytes) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(filename, data)
    return buffer.getvalue()


def _sdk_classes(sdk: Any) -> tuple[type, type]:
    """Subclasses of the SDK's client and chatbot handler; built after load_sdk, since the SDK
    may only be imported once the endpoint is in the environment."""
    import websockets

    class RobotHandler(sdk.ChatbotHandler):
        def __init__(self, adapter: DingTalkAdapter) -> None:
            super().__init__()
            self.adapter = adapter

        async def process(self, callback: Any) -> tuple[int, str]:
            # Acknowledge whatever happens: an unacknowledged message is redelivered, and a
            # message that breaks us once would break us again.
            try:
                await self.adapter.accept(callback.data, sdk.ChatbotMessage)
            except Exception:
                log.exception("could not queue a DingTalk message")
            return sdk.AckMessage.STATUS_OK, "OK"

    class StreamClient(sdk.DingTalkStreamClient):
        def __init__(self, credential: Any, adapter: DingTalkAdapter) -> None:
            super().__init__(credential, logger=_sdk_logger())
            self.adapter = adapter
            self._tasks: set[asyncio.Task[Any]] = set()
            self._wakeup: asyncio.Event | None = None
            # The SDK opens connections with blocking HTTP; that runs here, off the loop, with
            # room for a retry beside an attempt that hangs.
            self._opener = ThreadPoolExecutor(4, thread_name_prefix="dingtalk-open")

        def wake(self) -> None:
            """On the loop: end the current wait or connection because stop() was called."""
            if self._wakeup is not None:
                self._wakeup.set()
            if self.websocket is not None:
                self._track(asyncio.ensure_future(self.websocket.close()))

        async def start(self) -> None:  # replaces the SDK's loop: backoff, idle, stop
            self.pre_start()
            self._wakeup = asyncio.Event()
            loop = asyncio.get_running_loop()
            failures = 0
            try:
                while not self.adapter.stopping:
                    worked = False
                    connection = await self._open(loop)
                    if connection and not self.adapter.stopping:
                        worked = await self._connect(connection)
                    if self.adapter.stopping:
                        break
                    failures = 0 if worked else failures + 1
                    delay = self.adapter.backoff(failures)
                    log.info("DingTalk stream: reconnecting in %.1fs", delay)
                    try:
                        await asyncio.wait_for(self._wakeup.wait(), timeout=delay)
                    except TimeoutError:
                        pass
            finally:
                if self._tasks:
                    await asyncio.wait(self._tasks, timeout=3)
                self._opener.shutdown(wait=False)

        async def _open(self, loop: asyncio.AbstractEventLoop) -> dict[str, Any] | None:
            """The SDK's connections/open, which has no timeout: given up after OPEN_TIMEOUT,
            or at once on stop(), so neither a hung request nor shutdown waits for it."""
            assert self._wakeup is not None
            opening = loop.run_in_executor(self._opener, self.open_connection)
            stopped = asyncio.ensure_future(self._wakeup.wait())
            done, _ = await asyncio.wait(
                {opening, stopped}, timeout=OPEN_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
            )
            stopped.cancel()
            if opening not in done:
                if not self.adapter.stopping:
                    log.warning("DingTalk connections/open took over %ss; retrying", OPEN_TIMEOUT)
                return None
            return opening.result()

        async def _connect(self, connection: dict[str, Any]) -> bool:
            """One connection, until it closes or falls silent. True when it carried frames."""
            uri = f"{connection['endpoint']}?ticket={quote_plus(connection['ticket'])}"
            try:
                # No permessage-deflate: DingTalk's frames are small JSON, and zlib (which lets go
                # of the GIL on every call) cost the loop three hand-offs per message, to inflate
                # the frame and deflate its ACK (issue 22). The extension is used only when the
                # client offers it (RFC 7692 section 5); the official Go SDK offers none
                # (open-dingtalk/dingtalk-stream-sdk-go, client/client.go: gorilla's
                # DefaultDialer, compression off).
                async with websockets.connect(uri, open_timeout=15, close_timeout=3,
                                              compression=None) as ws:
                    self.websocket = ws
                    if self.adapter.stopping:
                        return False
                    log.info("DingTalk stream connected")
                    return await self._read(ws)
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as exc:
                log.warning("DingTalk stream connection failed: %s", exc)
                return False
            finally:
                self.websocket = None

        async def _read(self, ws: Any) -> bool:
            got_frames = False
            while True:
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=self.adapter.idle)
                except TimeoutError:
                    # DingTalk pings every few seconds; silence this long is a dead link.
                    log.warning("DingTalk stream silent for %.0fs; reconnecting", self.adapter.idle)
                    await ws.close()
                    return got_frames
                except websockets.exceptions.ConnectionClosed:
                    return got_frames
                got_frames = True
                try:
                    frame = json.loads(raw)
                except ValueError:
                    log.warning("DingTalk sent a frame that is not JSON; ignored")
                    continue
                # The SDK routes the frame, calls our handler and sends the ACK; a `disconnect`
                # frame makes it close this socket, which ends the loop above.
                self._track(asyncio.create_task(self._frame(frame)))

        async def _frame(self, frame: dict[str, Any]) -> None:
            """One frame through the SDK (which ACKs it), then the messages it wrote down
            queued for their answers, whatever became of the ACK (they are in the inbox)."""
            written: list[str] = []
            _AFTER_ACK.set(written)  # in this task's own context
            try:
                await self.background_task(frame)
            finally:
                for msg_id in written:
                    self.adapter.queue_written(msg_id)

        def _track(self, task: asyncio.Future[Any]) -> None:
            self._tasks.add(task)  # type: ignore[arg-type]
            task.add_done_callback(self._tasks.discard)

    return StreamClient, RobotHandler


# -- small helpers -------------------------------------------------------------------------------


class _QuietPings(logging.Filter):
    """The SDK warns "unknown message topic" on each of DingTalk's keep-alive pings, which
    come every few seconds; it answers them correctly, so the warning is only noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not (str(record.msg).startswith("unknown message topic") and args[:1] == ("ping",))


def _sdk_logger() -> logging.Logger:
    logger = logging.getLogger(f"{__name__}.sdk")
    if not any(isinstance(f, _QuietPings) for f in logger.filters):
        logger.addFilter(_QuietPings())
    return logger



def _too_old(data: dict[str, Any], received_at: datetime, now: datetime) -> bool:
    """Whether a message left in the inbox is past answering (see INBOX_MAX_AGE)."""
    expires = data.get("sessionWebhookExpiredTime")
    if isinstance(expires, int | float) and expires > 0 and now.timestamp() * 1000 > expires:
        return True
    created = data.get("createAt")
    if isinstance(created, int | float) and created > 0:
        sent = datetime.fromtimestamp(created / 1000, UTC)
    else:
        sent = received_at if received_at.tzinfo else received_at.replace(tzinfo=UTC)
    return now - sent > INBOX_MAX_AGE


class _Recent:
    """A bounded set of recent ids: add() is False when the id was already there."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, key: str) -> bool:
        with self._lock:
            if key in self._ids:
                return False
            self._ids[key] = None
            if len(self._ids) > self.size:
                self._ids.popitem(last=False)
            return True
