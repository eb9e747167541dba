"""Rendered messages as Slack Block Kit: a title, the body in sections, choices as buttons.

Pure functions, no Slack calls. Text arrives already escaped for Slack mrkdwn by the renderer;
plain_text fields (headers, button labels) show text literally, so they get it unescaped.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from bot.messages import Rendered

CHOICE_ACTION = "liaison_choice"  # action_id prefix of a choice button
FORM_ACTION = "liaison_form_open"  # the button that opens a flow as a modal
FORM_CALLBACK = "liaison_form"  # callback_id of that modal

SECTION_LIMIT = 3000  # characters in one section's text
HEADER_LIMIT = 150
BUTTON_LIMIT = 75
BLOCK_LIMIT = 50  # blocks in one message
TEXT_LIMIT = 39000  # the fallback `text`, under Slack's 40,000


def plain(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


_ENTITY = re.compile(r"&[a-z]{0,4}$|<[^<>]*$")  # an entity or a <…> token left open


def _cut(line: str, limit: int) -> int:
    """Where to cut a line longer than `limit`: at the last space in the second half, and
    never inside `&amp;` or a `<@U…>` / `<https://…|…>` token."""
    space = line.rfind(" ", limit // 2, limit)
    cut = space + 1 if space > 0 else limit
    open_token = _ENTITY.search(line[:cut])
    if open_token and open_token.start() > 0:
        cut = open_token.start()
    return cut


def chunks(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Split at line ends so each piece fits one section; a longer line is cut between words,
    never inside an entity or a mention."""
    return list(_chunks(text, limit))


@lru_cache(maxsize=256)
def _chunks(text: str, limit: int) -> tuple[str, ...]:
    # Kept: the same answer (help, rendered once per roles and language) is split on every
    # command, twice (does it fit the ack; the ack), which was a tenth of a command's time.
    out: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                out.append(current)
                current = ""
            cut = _cut(line, limit)
            out.append(line[:cut])
            line = line[cut:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            out.append(current)
            current = line
        else:
            current = candidate
    if current.strip():
        out.append(current)
    return tuple(out)


def buttons(message: Rendered) -> list[dict[str, Any]]:
    """One actions block per 25 choices (Slack's limit per block)."""
    blocks = []
    elements: list[dict[str, Any]] = []
    for index, choice in enumerate(message.choices):
        button: dict[str, Any] = {
            "type": "button",
            "action_id": f"{CHOICE_ACTION}_{index}",
            "text": {"type": "plain_text", "text": clip(plain(choice.label), BUTTON_LIMIT),
                     "emoji": True},
            "value": choice.value[:2000],
        }
        if choice.style in ("primary", "danger"):
            button["style"] = choice.style
        elements.append(button)
        if len(elements) == 25:
            blocks.append({"type": "actions", "elements": elements})
            elements = []
    if elements:
        blocks.append({"type": "actions", "elements": elements})
    return blocks


def to_blocks(message: Rendered) -> list[dict[str, Any]]:
    """Every block of the message, however many; `payloads` splits them into messages."""
    blocks: list[dict[str, Any]] = []
    title = plain(message.title.strip())
    if title and "\n" not in title and len(title) <= HEADER_LIMIT:
        blocks.append({"type": "header", "text": {"type": "plain_text", "text": title}})
    elif title:
        blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": part}}
                   for part in chunks(message.title)]
    for part in chunks(message.body):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": part}})
    return blocks + buttons(message)


def _text_of(blocks: list[dict[str, Any]]) -> str:
    """A message's `text` (notifications, screen readers): what its blocks say."""
    parts = [b["text"]["text"] for b in blocks if isinstance(b.get("text"), dict)]
    return clip("\n".join(parts), TEXT_LIMIT)


def payloads(blocks: list[dict[str, Any]], text: str = "") -> list[dict[str, Any]]:
    """Blocks as one message, or as several in order when there are more than a message
    holds: nothing is dropped, and the buttons come with the last part."""
    groups = [blocks[i:i + BLOCK_LIMIT] for i in range(0, len(blocks), BLOCK_LIMIT)] or [[]]
    if len(groups) == 1:
        return [{"text": clip(text, TEXT_LIMIT) or _text_of(blocks) or " ", "blocks": blocks}]
    return [{"text": _text_of(group) or clip(text, TEXT_LIMIT) or " ", "blocks": group}
            for group in groups]


def message_payloads(message: Rendered,
                     extra: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """`text` and `blocks` for chat.postMessage and friends: one payload per message sent."""
    return payloads(to_blocks(message) + ([extra] if extra else []), message.text)


def combine(messages: list[Rendered]) -> list[dict[str, Any]]:
    """Several replies as few messages as possible (a slash command's response is one
    message; any further ones go by its response URL)."""
    blocks: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        if index:
            blocks.append({"type": "divider"})
        blocks.extend(to_blocks(message))
    return payloads(blocks, "\n\n".join(m.text for m in messages))


def answered(blocks: list[dict[str, Any]], label: str) -> list[dict[str, Any]]:
    """The message a button was pressed on, with its buttons replaced by the choice made, so
    the same question cannot be answered twice."""
    kept = [b for b in blocks if b.get("type") != "actions"]
    return kept + [{"type": "context",
                    "elements": [{"type": "plain_text", "text": f"✓ {clip(label, 140)}"}]}]


def form_button(label: str, value: str) -> dict[str, Any]:
    return {"type": "actions", "elements": [{
        "type": "button", "action_id": FORM_ACTION, "value": value,
        "text": {"type": "plain_text", "text": clip(label, BUTTON_LIMIT), "emoji": True},
    }]}
