"""Slack message text as the person typed it.

Slack sends what the client showed as markup ("Formatting text for app surfaces", Slack
docs): `<@U123>` or `<@U123|name>` for a mentioned member, `<#C123|general>` for a channel,
`<!subteam^S123|@team>` for a user group, `<!here>`, `<!date^…|fallback>`, `<https://x|label>`
and `<mailto:a@b.c|a@b.c>` for links, and `&amp; &lt; &gt;` for the three characters it
escapes. The core wants plain text (stored as typed, shown the same on every platform and in
exports) plus the ids of the members mentioned.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_TOKEN = re.compile(r"<([^<>]*)>")
_USER = re.compile(r"^@([UW][A-Z0-9]+)$")


def unescape(text: str) -> str:
    """The three entities Slack escapes, and nothing else."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _link(target: str, label: str) -> str:
    if not label:
        return target.removeprefix("mailto:")
    bare = target.split(":", 1)[-1].lstrip("/")
    if label in (target, bare) or target.removeprefix("mailto:") == label:
        return label
    return f"{label} ({target.removeprefix('mailto:')})"


def decode(text: str, name_of: Callable[[str], str | None]) -> tuple[str, tuple[str, ...]]:
    """Plain text and the mentioned members' ids, in order. `name_of(user_id)` gives the name
    shown for a mention that came without one (message events send bare `<@U123>`)."""
    mentions: list[str] = []

    def token(inner: str) -> str:
        body, _, label = inner.partition("|")
        label = unescape(label)
        user = _USER.match(body)
        if user:
            if user.group(1) not in mentions:
                mentions.append(user.group(1))
            return "@" + (name_of(user.group(1)) or label or user.group(1))
        if body.startswith("#"):  # a channel
            return "#" + (label or body[1:])
        if body.startswith("!subteam^"):  # a user group
            return label if label.startswith("@") else "@" + (label or body[9:])
        if body.startswith("!"):  # <!here>, <!channel>, <!date^…|fallback>
            return label or "@" + body[1:].split("^", 1)[0]
        return _link(unescape(body), label)

    parts = _TOKEN.split(text)  # text, token body, text, token body, ..., text
    out = [unescape(part) if i % 2 == 0 else token(part) for i, part in enumerate(parts)]
    return "".join(out), tuple(mentions)
