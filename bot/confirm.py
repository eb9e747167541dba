"""Commands that destroy or end something ask first: `/tp retire 3` answers with what it would
do and a Confirm button (or `/tp retire 3 confirm` typed); only that second message acts."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from bot.messages import Audience, Choice, Reply
from bot.router import Args

if TYPE_CHECKING:
    from bot.context import Ctx

WORDS = ("confirm", "确认", "yes")


def is_confirmed(args: Args) -> bool:
    return bool(args.positional) and args.positional[-1].lower() in WORDS


def without_confirm(args: Args) -> Args:
    """The arguments without the trailing confirm word (a closing reason stays as typed)."""
    if not is_confirmed(args):
        return args
    rest = args.rest.rstrip()
    return dataclasses.replace(args, positional=args.positional[:-1],
                               rest=rest[: len(rest) - len(args.positional[-1])].rstrip())


def ask_first(ctx: Ctx, args: Args, template: str, values: dict[str, Any]) -> Reply | None:
    """None when the command was confirmed; else the question, with the command to confirm."""
    if is_confirmed(args):
        return None
    command = " ".join(ctx.inbound.text.split())
    # The template shows it as the reader types it there: `{{ cmd(command) }}`.
    return Reply(template, {**values, "command": f"{command.lstrip('/')} confirm"},
                 audience=Audience.USER,
                 choices=[Choice(f"{command} confirm", "words.confirm", style="danger")])
