"""Rendered messages as Slack Block Kit: a title, the body in sections, choices as buttons.

Pure functions, no Slack calls. Text arrives already escaped for Slack mrkdwn by the renderer;
plain_text fields (headers, button labels) show text literally, so they get it unescaped.
"""

from __future__ import annotations

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


def chunks(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Split at line ends so each piece fits one section; a longer line is cut hard."""
    out: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                out.append(current)
                current = ""
            out.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            out.append(current)
            current = line
        else:
            current = candidate
    if current.strip():
        out.append(current)
    return out


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
    blocks: list[dict[str, Any]] = []
    title = plain(message.title.strip())
    if title and "\n" not in title and len(title) <= HEADER_LIMIT:
        blocks.append({"type": "header", "text": {"type": "plain_text", "text": title}})
    elif title:
        blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": part}}
                   for part in chunks(message.title)]
    for part in chunks(message.body):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": part}})
    actions = buttons(message)
    room = BLOCK_LIMIT - len(actions)
    if len(blocks) > room:
        # Past Slack's block limit the body is shortened; the buttons must stay usable.
        blocks = blocks[: room - 1] + [
            {"type": "section", "text": {"type": "mrkdwn", "text": "…"}}
        ]
    return blocks + actions


def message_payload(message: Rendered) -> dict[str, Any]:
    """`text` (notifications, screen readers) and `blocks` for chat.postMessage and friends."""
    return {"text": clip(message.text, TEXT_LIMIT) or " ", "blocks": to_blocks(message)}


def combine(messages: list[Rendered]) -> dict[str, Any]:
    """Several replies as one message, for a slash command's single response."""
    blocks: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        if index:
            blocks.append({"type": "divider"})
        blocks.extend(to_blocks(message))
    text = "\n\n".join(m.text for m in messages)
    return {"text": clip(text, TEXT_LIMIT) or " ", "blocks": blocks[:BLOCK_LIMIT]}


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
