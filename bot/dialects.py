"""How each platform wants text: escaping of user values, bold, and real mentions.

User text is data: on Slack `<!channel>` from a customer name must arrive as `&lt;!channel&gt;`
and ping nobody; on DingTalk markdown must not turn a customer's `[x](y)` into a link.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def strip_controls(text: str) -> str:
    # Control and bidi-override characters can disguise text in a terminal or a chat client.
    return _CONTROL.sub("", text)


@dataclass(frozen=True)
class Dialect:
    name: str
    escape: Callable[[str], str]
    bold: Callable[[str], str]
    mention: Callable[[str, str], str]  # (user_id, display name) -> markup
    has_buttons: bool


def _slack_escape(text: str) -> str:
    # Slack decodes exactly these three entities; anything else would show literally.
    text = strip_controls(text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_DINGTALK_SPECIAL = re.compile(r"([\\`*_\[\]()#>!|~])")


def _dingtalk_escape(text: str) -> str:
    text = strip_controls(text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _DINGTALK_SPECIAL.sub(r"\\\1", text)


CONSOLE = Dialect(
    name="console",
    escape=strip_controls,
    bold=lambda text: text,
    mention=lambda user, name: f"@{name or user}",
    has_buttons=False,
)
SLACK = Dialect(
    name="slack",
    escape=_slack_escape,
    bold=lambda text: f"*{text}*",
    mention=lambda user, name: f"<@{user}>",
    has_buttons=True,
)
DINGTALK = Dialect(
    name="dingtalk",
    escape=_dingtalk_escape,
    bold=lambda text: f"**{text}**",
    # DingTalk notifies only users listed in the message's `at`; the text just shows the name.
    mention=lambda user, name: f"@{user}",
    has_buttons=False,
)

DIALECTS = {d.name: d for d in (CONSOLE, SLACK, DINGTALK)}


def dialect_for(platform: str) -> Dialect:
    return DIALECTS.get(platform, CONSOLE)
