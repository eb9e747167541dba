"""The platform-neutral message model: what adapters hand in, and what handlers hand back.

Handlers return `Reply` objects: data (a template name and its values), never sentences. The
renderer turns each into a `Rendered` message for one platform and locale; adapters deliver it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class Upload:
    """A file a person sent with a message (Slack's file_share, the console's `file:PATH`).
    The adapter fetches its bytes when it is no bigger than LIAISON_UPLOAD_MAX_BYTES; `problem`
    says why `data` is empty otherwise: "too_large" (not fetched) or "unavailable" (the
    platform or the path did not give it). What the file may be is the handler's business."""

    filename: str
    mime: str = "application/octet-stream"
    size: int = 0
    data: bytes = field(default=b"", repr=False)
    problem: str = ""


@dataclass(frozen=True)
class Inbound:
    """One message from a person, as every platform can describe it."""

    platform: str
    channel: str
    user: str
    text: str
    workspace: str = ""
    thread: str | None = None
    direct: bool = False
    mentions: tuple[str, ...] = ()
    event_id: str | None = None
    user_name: str | None = None
    locale: str | None = None
    timezone: str | None = None
    # A button press carries the choice id as text and says so, so "1" is not read as a number.
    is_action: bool = False
    # A language for this session only (the console's --locale): ahead of the member's stored
    # choice, and never stored.
    session_locale: str | None = None
    files: tuple[Upload, ...] = ()  # files sent with the message


class Audience(StrEnum):
    """Who may see a reply."""

    USER = "user"  # only the person who asked (ephemeral where the platform has it)
    CONVERSATION = "conversation"  # where the message came from
    PURPOSE = "purpose"  # the channel bound to a purpose (complaints, meetings, ...)
    MEMBER = "member"  # a direct message to one member


@dataclass(frozen=True)
class Choice:
    """A button, or a numbered option where the platform has no buttons. `value` is what the
    press sends back as the answer; `label` names a label in templates/<locale>/labels.yaml,
    or is shown as is when `literal`."""

    value: str
    label: str
    literal: bool = False
    style: str | None = None  # "primary" / "danger" where the platform styles buttons
    ref: str = ""  # the record a per-item button acts on: fills `{ref}` in the label


@dataclass(frozen=True)
class Mention:
    """A reference to a member that the platform renders as a real mention."""

    platform: str
    user_id: str
    name: str = ""


@dataclass(frozen=True)
class Attachment:
    """A file that goes with a message: "attach this file". How it reaches people is each
    adapter's business (an upload into the chat, a file message, a folder on the console's
    host); handlers only hand over the bytes, a file name, a title and the media type."""

    filename: str
    data: bytes = field(repr=False)
    title: str = ""
    mime: str = "application/octet-stream"

    def to_json(self) -> dict[str, str]:
        """A plain JSON value, for the outbox row that owes the message."""
        return {"filename": self.filename, "title": self.title, "mime": self.mime,
                "data": base64.b64encode(self.data).decode("ascii")}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Attachment:
        return cls(filename=str(value["filename"]), data=base64.b64decode(value["data"]),
                   title=str(value.get("title") or ""),
                   mime=str(value.get("mime") or "application/octet-stream"))


@dataclass
class Reply:
    """What a handler returns: a template and its values, plus where it goes."""

    template: str
    values: dict[str, Any] = field(default_factory=dict)
    choices: list[Choice] = field(default_factory=list)
    audience: Audience = Audience.CONVERSATION
    purpose: str | None = None  # with Audience.PURPOSE
    member: tuple[str, str] | None = None  # (platform, user_id) with Audience.MEMBER
    # The recipient's locale when it is not the asker's (a DM to someone else, a channel post).
    locale: str | None = None
    files: tuple[Attachment, ...] = ()  # files that go with the message
    # Set when the text depends on nothing but this key, the template, the locale, the
    # platform and `direct` (not on the zone, the time or the database): the renderer then
    # renders it once per process (help, which is long and asked for often).
    cache: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class Address:
    """Where one rendered message goes on one platform."""

    platform: str
    channel: str | None = None  # channel id; None with `user` means a DM
    user: str | None = None
    thread: str | None = None
    ephemeral_to: str | None = None  # a user id when only they may see it
    in_reply: bool = False  # an answer to the inbound message itself
    purpose: str | None = None


@dataclass(frozen=True)
class RenderedChoice:
    value: str
    label: str
    style: str | None = None


@dataclass(frozen=True)
class Rendered:
    """A message in one language for one platform: text already escaped for it."""

    title: str
    body: str
    choices: tuple[RenderedChoice, ...] = ()
    template: str = ""
    # The conversation question the choices answer (bot.conversation.step_token), for
    # platforms whose choices stay tappable after they are answered; "" outside a flow.
    step: str = ""
    files: tuple[Attachment, ...] = ()

    @property
    def text(self) -> str:
        return f"{self.title}\n{self.body}".strip() if self.title else self.body


@dataclass(frozen=True)
class Outbound:
    address: Address
    message: Rendered
    # What one platform's adapter needs to deliver it later from the outbox (a slash
    # command's response URL, a thread to open or follow); plain JSON values.
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
