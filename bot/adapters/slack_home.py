"""The App Home tab: what the person has open, as they would see it by typing the commands.

Each part is the answer to one of the person's own list commands, run through the core as if
typed in the bot's DM, so the Home shows exactly what the domains say (time left, due dates,
what to type next) and holds no business rules of its own: the per-item buttons (respond to
a complaint, mark an action item done, snooze a reminder) are the choices those answers carry.
Buttons on top start the common next steps that need no record. Pure functions; the
adapter publishes the view with views.publish.
"""

from __future__ import annotations

from typing import Any

from bot.adapters.slack_blocks import CHOICE_ACTION, clip, plain, to_blocks
from bot.messages import Rendered

# The parts of the Home, in order: the person's open complaints (with time left), open
# action items (with due dates), next meetings and reminders.
HOME_COMMANDS = ("/complaint list mine", "/action list mine", "/meeting list upcoming",
                 "/remind list")
# Buttons for the next steps that need no record picked first: (command, label key).
HOME_ACTIONS = (("/complaint new", "slack.home.new_complaint"),
                ("/meeting new", "slack.home.new_meeting"),
                ("/comm new", "slack.home.new_comm"))
HOME_BLOCKS = 100  # Slack's limit for a Home tab ("Block Kit" reference)


def home_view(title: str, actions: list[tuple[str, str]], parts: list[Rendered]) -> dict[str, Any]:
    """The Home tab: a title, the next-step buttons, then each part; within Slack's limit
    (the lists themselves are short: each command shows its first rows)."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(plain(title), 150)}},
        {"type": "actions", "elements": [
            {"type": "button", "action_id": f"{CHOICE_ACTION}_home_{n}", "value": command,
             "text": {"type": "plain_text", "text": clip(plain(label), 75), "emoji": True}}
            for n, (command, label) in enumerate(actions)]},
    ]
    for number, part in enumerate(parts):
        part_blocks = [{"type": "divider"}, *_unique_actions(to_blocks(part), number)]
        if len(blocks) + len(part_blocks) > HOME_BLOCKS:
            break
        blocks += part_blocks
    return {"type": "home", "blocks": blocks}


def _unique_actions(blocks: list[dict[str, Any]], part: int) -> list[dict[str, Any]]:
    """Each part numbers its buttons from 0: on the Home they are told apart by part too."""
    for block in blocks:
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            element["action_id"] = f"{element['action_id']}_part{part}"
    return blocks
