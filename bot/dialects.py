"""How each platform wants text: escaping of user values, bold, real mentions, and commands.

User text is data: on Slack `<!channel>` from a customer name must arrive as `&lt;!channel&gt;`
and ping nobody; on DingTalk markdown must not turn a customer's `[x](y)` into a link.

Commands named in a reply are written as the person has to type them where the reply goes
(`command`): on Slack a registered slash command, else `/liaison <command>` (Slack answers any
other message starting with `/` itself, "not a valid command"), or the plain words in the bot's
DM; in a DingTalk group `@Liaison /command`, since the robot only receives group messages that
@mention it; elsewhere `/command` as the core reads it.
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
    # (command words, direct, the bot's display name) -> the command as the person types it
    command: Callable[[str, bool, str], str]


def _slack_escape(text: str) -> str:
    # Slack decodes exactly these three entities; anything else would show literally.
    text = strip_controls(text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_DINGTALK_SPECIAL = re.compile(r"([\\`*_\[\]()#>!|~])")


def _dingtalk_escape(text: str) -> str:
    text = strip_controls(text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _DINGTALK_SPECIAL.sub(r"\\\1", text)


# The families with their own slash command in manifest.yaml (a test checks the two agree);
# every other family is reached through the app command. `/remind` is a Slack built-in.
SLACK_COMMANDS = {
    "complaint": "/complaint", "comm": "/comm", "meeting": "/meeting", "action": "/action",
    "tp": "/tp", "remind": "/reminders",
}
SLACK_APP_COMMAND = "/liaison"


def _plain_command(words: str, direct: bool, bot: str) -> str:
    return f"/{words}"


def _slack_command(words: str, direct: bool, bot: str) -> str:
    family, _, rest = words.partition(" ")
    if family in SLACK_COMMANDS:
        return f"{SLACK_COMMANDS[family]} {rest}".rstrip()
    # In the bot's DM plain words reach the bot as a message; elsewhere only a slash command.
    return words if direct else f"{SLACK_APP_COMMAND} {words}"


def _dingtalk_command(words: str, direct: bool, bot: str) -> str:
    return f"/{words}" if direct else f"@{bot} /{words}"


CONSOLE = Dialect(
    name="console",
    escape=strip_controls,
    bold=lambda text: text,
    mention=lambda user, name: f"@{name or user}",
    has_buttons=False,
    command=_plain_command,
)
SLACK = Dialect(
    name="slack",
    escape=_slack_escape,
    bold=lambda text: f"*{text}*",
    mention=lambda user, name: f"<@{user}>",
    has_buttons=True,
    command=_slack_command,
)
DINGTALK = Dialect(
    name="dingtalk",
    escape=_dingtalk_escape,
    bold=lambda text: f"**{text}**",
    # DingTalk notifies only users listed in the message's `at`; the text just shows the name.
    mention=lambda user, name: f"@{user}",
    has_buttons=False,
    command=_dingtalk_command,
)

DIALECTS = {d.name: d for d in (CONSOLE, SLACK, DINGTALK)}


def dialect_for(platform: str) -> Dialect:
    return DIALECTS.get(platform, CONSOLE)
