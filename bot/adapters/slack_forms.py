"""A conversation flow as a Slack modal: its text and choice steps become inputs, and each
submitted value goes through the step's own parser, so a wrong value is a field error in the
modal, worded by the same template the conversation would use.

Generic: nothing here knows any domain. Steps that only make sense one at a time (lists
collected line by line, steps asked only after certain answers) stay in the conversation and
are asked there after the form.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot import members
from bot.adapters.slack_blocks import FORM_CALLBACK, clip, plain
from bot.context import Ctx
from bot.conversation import Flow, Step
from bot.core import zone_of
from bot.errors import InvalidAnswer
from bot.messages import Inbound, Reply
from bot.models import Member
from bot.parsers import READS_MEMBER, READS_TIME

if TYPE_CHECKING:
    from bot.core import Liaison

LABEL_LIMIT = 2000
TITLE_LIMIT = 24
ERROR_LIMIT = 500
TIME_SUFFIX = "__time"  # block_id of the time picker beside a step's date picker


def _reads(step: Step) -> str | None:
    return getattr(step.parse, "reads", None)


def _multiline(step: Step) -> bool:
    # parsers.text(single_line=False) keeps line breaks; its box should take them too.
    try:
        return inspect.getclosurevars(step.parse).nonlocals.get("single_line") is False
    except TypeError:
        return False


def form_steps(flow: Flow) -> list[Step]:
    return [s for s in flow.steps if not s.collect and s.when is None]


@contextmanager
def reading_ctx(app: Liaison, inbound: Inbound) -> Iterator[Ctx]:
    """A context for reading answers outside a message: the parsers may look things up (a
    mentioned member), but nothing is written."""
    with app.db.session() as session:
        member = members.find(session, inbound.platform, user_id=inbound.user) or Member(
            platform=inbound.platform, user_id=inbound.user,
            display_name=inbound.user_name or inbound.user,
        )
        locale = app.renderer.locale(member.locale or inbound.locale)
        ctx = Ctx(
            app=app, session=session, inbound=inbound, member=member,
            roles=members.roles(session, member, app.settings.admin_ids) if member.id else
            frozenset({members.IMPLICIT}),
            locale=locale, zone=zone_of(member.timezone or inbound.timezone, app.settings.zone),
            now=datetime.now(UTC),
        )
        yield ctx
        session.rollback()


def _text(app: Liaison, ctx: Ctx, reply: Reply) -> str:
    rendered = app.renderer.render(reply, locale=ctx.locale, platform="slack", zone=ctx.zone)
    return plain(rendered.text)


def _label(app: Liaison, ctx: Ctx, key: str) -> str:
    return str(app.renderer.label(ctx.locale, key))


def build_view(app: Liaison, ctx: Ctx, flow: Flow, metadata: dict[str, Any]) -> dict[str, Any]:
    steps = form_steps(flow)
    extra = flow.values(ctx, {}) if flow.values else {}
    blocks = []
    for number, step in enumerate(steps, 1):
        values = {"answers": {}, "flow": flow.name, **extra, "step_no": number,
                  "step_total": len(steps), "optional": step.optional, "collect": False,
                  "collected": []}
        question = _text(app, ctx, Reply(step.prompt, values)).split("\n", 1)[0]
        options = step.options(ctx, {})
        reads = _reads(step)
        label = {"type": "plain_text", "text": clip(question, LABEL_LIMIT) or step.key}
        if reads == READS_MEMBER:
            # A person is picked, not typed: a mention Slack fills in with a real member.
            element: dict[str, Any] = {"type": "users_select", "action_id": "value"}
        elif reads == READS_TIME:
            blocks.append({"type": "input", "block_id": step.key, "optional": step.optional,
                           "label": label,
                           "element": {"type": "datepicker", "action_id": "value"}})
            blocks.append({"type": "input", "block_id": step.key + TIME_SUFFIX,
                           "optional": True, "label": {"type": "plain_text",
                                                       "text": _label(app, ctx, "slack.time")},
                           "element": {"type": "timepicker", "action_id": "value"}})
            continue
        elif options:
            element = {
                "type": "static_select",
                "action_id": "value",
                "options": [
                    {"text": {"type": "plain_text", "text": clip(
                        c.label if c.literal else _label(app, ctx, c.label), 75)},
                     "value": c.value[:150]}
                    for c in options[:100]
                ],
            }
        else:
            element = {"type": "plain_text_input", "action_id": "value",
                       "multiline": _multiline(step)}
        blocks.append({"type": "input", "block_id": step.key, "optional": step.optional,
                       "label": label, "element": element})
    family = f"flows.{flow.name}"
    title = _label(app, ctx, family) if app.renderer.has_label(ctx.locale, family) else flow.name
    return {
        "type": "modal",
        "callback_id": FORM_CALLBACK,
        "private_metadata": json.dumps(metadata),
        "title": {"type": "plain_text", "text": clip(str(title), TITLE_LIMIT)},
        "submit": {"type": "plain_text", "text": clip(_label(app, ctx, "words.confirm"), 24)},
        "close": {"type": "plain_text", "text": clip(_label(app, ctx, "words.cancel"), 24)},
        "blocks": blocks,
    }


def loading_view(app: Liaison, locale: str, label: str = "slack.form_loading") -> dict[str, Any]:
    """The modal shown at once while the form is built; views.update replaces it (with the
    form, or with `slack.form_unavailable` when it could not be built)."""
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Liaison"},
        "blocks": [{"type": "section", "text": {
            "type": "plain_text", "text": str(app.renderer.label(locale, label))}}],
    }


def submitted(state: dict[str, Any]) -> dict[str, str]:
    """Each input of a view_submission's state as the words a person would have typed: a
    picked member as `@U123` (a mention by id), a date and time as `2026-12-01 15:00`."""
    out: dict[str, str] = {}
    values = state.get("values") or {}
    for block_id, actions in values.items():
        if block_id.endswith(TIME_SUFFIX):
            continue
        action = actions.get("value") or {}
        selected = action.get("selected_option")
        if selected:
            value = selected.get("value")
        elif action.get("selected_user"):
            value = "@" + action["selected_user"]
        elif action.get("selected_date"):
            time = ((values.get(block_id + TIME_SUFFIX) or {}).get("value") or {}).get(
                "selected_time")
            value = f"{action['selected_date']} {time}" if time else action["selected_date"]
        else:
            value = action.get("value")
        if value not in (None, ""):
            out[block_id] = str(value)
    return out


def check(app: Liaison, ctx: Ctx, flow: Flow, raw: dict[str, str]) -> dict[str, str]:
    """Field errors, by step key, as the conversation would word them; empty when all read."""
    errors: dict[str, str] = {}
    answers: dict[str, Any] = {}
    for step in form_steps(flow):
        if step.key not in raw:
            continue
        try:
            answers[step.key] = step.read(raw[step.key], ctx, answers)
        except InvalidAnswer as exc:
            errors[step.key] = clip(_text(app, ctx, Reply(exc.template, exc.params)), ERROR_LIMIT)
    return errors
