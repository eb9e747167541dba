"""How each platform wants text: escaping of user values, bold, real mentions, and commands.

User text is data: on Slack `<!channel>` from a customer name must arrive as `&lt;!channel&gt;`
and ping nobody; on DingTalk markdown must not turn a customer's `[x](y)` into a link, and must
not show a backslash or an entity where the customer typed none (DingTalk's "消息类型与数据格式"
documents neither; see `_dingtalk_escape`).

Commands named in a reply are written as the person has to type them where the reply goes
(`command`): on Slack a registered slash command, else `/liaison <command>` (Slack answers any
other message starting with `/` itself, "not a valid command"), or the plain words in the bot's
DM; in a DingTalk group `@Liaison /command`, since the robot only receives group messages that
@mention it; elsewhere `/command` as the core reads it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# Control and bidi-override characters, as the inside of a character class (the escapes'
# fast paths below add their own characters to it).
_CONTROLS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[{_CONTROLS}]")


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
    # (command words, direct, how the bot is reached) -> the command as the person types it
    command: Callable[[str, bool, Names], str]


# What `_slack_escape` changes: a control character or one of Slack's three entities.
_SLACK_SPECIAL = re.compile(f"[{_CONTROLS}&<>]")


def _slack_escape(text: str) -> str:
    # Slack decodes exactly these three entities; anything else would show literally.
    if _SLACK_SPECIAL.search(text) is None:
        return text  # most values (labels, ids, names): one scan instead of four
    text = strip_controls(text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# -- DingTalk ---------------------------------------------------------------------------------

ZWJ = "\u200d"
_DT_STAR = str.maketrans({"*": "\uff0a"})
_DT_LINK = re.compile(r"\](?=\(|$)")
_DT_TAG = re.compile(r"<(?=[A-Za-z/!?])")
_DT_LINE = re.compile(r"^([ \t]*)(?=[#>])", re.MULTILINE)
_DT_AT = re.compile(r"(?<!\S)@")

# Every character that a step of `_dingtalk_escape` changes or keys on: a control character,
# `*`, `]` (links), `<` (tags), `#` and `>` (at a line's start), `@` (at a word's start). Text
# with none of them comes out of every step unchanged.
_DT_SPECIAL = re.compile(f"[{_CONTROLS}*\\]<#>@]")

# A mention is written as a control-character token (user text never holds one: strip_controls
# removes them) that the DingTalk adapter resolves once it knows the route: `@userId` plus
# `at.atUserIds` through a session webhook, the person's name through the OpenAPI, which has
# no `at` field.
MENTION = re.compile("\x1e([^\x1e\x1f]*)\x1f([^\x1e]*)\x1e")


def _dingtalk_escape(text: str) -> str:
    """User text for DingTalk markdown, shown as typed.

    DingTalk's markdown is a small subset, listed in its message-type documentation ("消息类型
    与数据格式", markdown: 标题 `#`, 引用 `>`, 加粗 `**`, 斜体 `*`, 链接 `[text](url)`, 图片
    `![](url)`, 有序/无序列表, 换行, and `<font>` for colour). It documents no backslash escapes
    and no HTML entities: a `\\(` or an `&amp;` would be shown exactly so. So only what would
    form markup in that subset is broken, invisibly where possible:
    - `*` (bold and italic both use it) becomes the full-width `＊`, which NFKC reads back as `*`;
    - a `]` that could close a link (`](`, or a value ending in `]`) and a `<` opening a tag
      (`<font …>`) get a zero-width joiner after them;
    - a line starting with `#` (heading) or `>` (quote) gets a zero-width joiner before it;
    - an `@` starting a word gets a zero-width joiner, so it never becomes someone's name.
    Everything else (parentheses, `&`, `_`, `|`, `~`, backticks, lists) stays as typed.
    """
    if _DT_SPECIAL.search(text) is None:
        return text  # most values (labels, ids, names): one scan instead of six
    text = strip_controls(text).translate(_DT_STAR)
    text = _DT_LINK.sub("]" + ZWJ, text)
    text = _DT_TAG.sub("<" + ZWJ, text)
    text = _DT_LINE.sub(lambda m: m.group(1) + ZWJ, text)
    return _DT_AT.sub("@" + ZWJ, text)


def _dingtalk_mention(user: str, name: str) -> str:
    return f"\x1e{user}\x1f{name}\x1e"


def resolve_mentions(text: str, *, by_id: bool) -> tuple[str, list[str]]:
    """DingTalk text with its mention tokens resolved: `@userId` (which DingTalk shows as the
    name when the id is in `at.atUserIds`) when `by_id`, else `@name`; and the ids, in order."""
    ids: list[str] = []

    def one(match: re.Match[str]) -> str:
        user, name = match.group(1), match.group(2)
        if user not in ids:
            ids.append(user)
        return f"@{user}" if by_id else f"@{name or user}"

    return MENTION.sub(one, text), ids


@dataclass(frozen=True)
class Names:
    """How people reach the bot where a message goes: its display name (a DingTalk group must
    @mention it) and, on Slack, the slash command of each family that has one of its own and
    the app command that reaches every other family. The slash commands come from the domains'
    declarations (`Domain.slash`, through the registry), which a test checks against
    manifest.yaml."""

    bot: str = "Liaison"
    slash: Mapping[str, str] = field(default_factory=dict)  # family -> "/complaint"
    app: str = "/liaison"


def _plain_command(words: str, direct: bool, names: Names) -> str:
    return f"/{words}"


def _slack_command(words: str, direct: bool, names: Names) -> str:
    family, _, rest = words.partition(" ")
    if family in names.slash:
        return f"{names.slash[family]} {rest}".rstrip()
    # In the bot's DM plain words reach the bot as a message; elsewhere only a slash command.
    return words if direct else f"{names.app} {words}"


def _dingtalk_command(words: str, direct: bool, names: Names) -> str:
    return f"/{words}" if direct else f"@{names.bot} /{words}"


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
    mention=_dingtalk_mention,
    has_buttons=False,
    command=_dingtalk_command,
)

DIALECTS = {d.name: d for d in (CONSOLE, SLACK, DINGTALK)}


def dialect_for(platform: str) -> Dialect:
    return DIALECTS.get(platform, CONSOLE)
