"""Step parsers the flows share. Each takes the answer text and the context, returns a value
that can be stored as JSON, or raises InvalidAnswer naming a template that says why."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.errors import InvalidAnswer
from bot.messages import Choice

if TYPE_CHECKING:
    from bot.context import Ctx
    from bot.models import Member

Parser = Callable[[str, "Ctx"], Any]
# What a parser reads, for platforms with a widget for it (a Slack form's user and date
# pickers): set as the parser's `reads` attribute.
READS_MEMBER = "member"
READS_TIME = "time"

# <@U123>, <@U123|name> (Slack), @name (console, DingTalk text)
_SLACK_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_AT_NAME = re.compile(r"^@([\w.\-\u4e00-\u9fff]{1,64})$")
_AT_WORD = re.compile(r"(?<!\S)@[\w.\-\u4e00-\u9fff]{1,64}")


def text(max_len: int = 200, min_len: int = 1, single_line: bool = True) -> Parser:
    def parse(answer: str, ctx: Ctx) -> str:
        value = unicodedata.normalize("NFC", answer).strip()
        if single_line:
            value = " ".join(value.split())
        if len(value) < min_len:
            raise InvalidAnswer("errors/answer_empty")
        if len(value) > max_len:
            raise InvalidAnswer("errors/answer_too_long", limit=max_len, length=len(value))
        return value

    return parse


def choice(options: Sequence[Choice], synonyms: dict[str, Sequence[str]] | None = None) -> Parser:
    """By number (1-based), by value, by the label in either language, or by a synonym."""

    def parse(answer: str, ctx: Ctx) -> str:
        word = unicodedata.normalize("NFKC", answer).strip().lower()
        if word.isdigit() and 1 <= int(word) <= len(options):
            return options[int(word) - 1].value
        for option in options:
            names = {option.value.lower()}
            if not option.literal:
                for loc in ("zh", "en"):
                    names.add(str(ctx.app.renderer.label(loc, option.label)).lower())
            names.update(s.lower() for s in (synonyms or {}).get(option.value, ()))
            if word in names:
                return option.value
        raise InvalidAnswer("errors/answer_choice", count=len(options))

    return parse


def number(low: float, high: float, integer: bool = True) -> Parser:
    def parse(answer: str, ctx: Ctx) -> int | float:
        word = unicodedata.normalize("NFKC", answer).strip()
        try:
            value: int | float = int(word) if integer else float(word)
        except ValueError:
            raise InvalidAnswer("errors/answer_number", low=low, high=high) from None
        if not low <= value <= high:
            raise InvalidAnswer("errors/answer_number", low=low, high=high)
        return value

    return parse


@dataclass(frozen=True)
class MemberRef:
    platform: str
    user_id: str
    name: str

    def as_json(self) -> dict[str, str]:
        return {"platform": self.platform, "user_id": self.user_id, "name": self.name}


def parse_mention(answer: str, ctx: Ctx) -> dict[str, str]:
    """A member on the asker's platform, known to the bot (has talked to it), so a typo does
    not silently assign work to nobody: a Slack `<@U…>`, an `@name` the platform sent with its
    id (DingTalk's atUsers, in `Inbound.mentions`), a typed `@id`, a typed `@name` that exactly
    one member has, or the words `me`/`我`. A typed name that several members share is not
    guessed: the answer lists them with their ids."""
    from bot import members

    word = answer.strip()
    platform = ctx.member.platform
    if word.lower() in ("me", "myself", "我", "我自己"):
        return MemberRef(platform, ctx.member.user_id, ctx.member.display_name).as_json()
    slack = _SLACK_MENTION.match(word)
    at = _AT_NAME.match(word)
    if slack:
        found = members.find(ctx.session, platform, user_id=slack.group(1))
    elif at:
        found = _mentioned(ctx, at.group(1)) or members.find(
            ctx.session, platform, user_id=at.group(1))
        if found is None:
            same = members.named(ctx.session, platform, at.group(1))
            if len(same) > 1:
                raise InvalidAnswer(
                    "errors/answer_mention_ambiguous", name=word.lstrip("@"), candidates=[
                    {"name": m.display_name, "id": m.user_id} for m in same])
            found = same[0] if same else None
    else:
        raise InvalidAnswer("errors/answer_mention")
    if found is None:
        raise InvalidAnswer("errors/answer_unknown_member", name=word)
    return MemberRef(found.platform, found.user_id, found.display_name).as_json()


def _mentioned(ctx: Ctx, name: str) -> Member | None:
    """The member an `@name` of this message means, by the ids the platform sent with it.
    Ids written into the text (Slack's `<@U…>`) are read where they stand; the others belong
    to the message's `@name` words: the one whose member has that name, or the only one when
    the message has a single `@name`."""
    from bot import members

    inbound = ctx.inbound
    ids = [uid for uid in inbound.mentions if f"<@{uid}" not in inbound.text]
    if not ids:
        return None
    known = [m for uid in ids if (m := members.find(ctx.session, inbound.platform, user_id=uid))]
    same = [m for m in known if name in (m.display_name, m.user_id)]
    if len(same) == 1:
        return same[0]
    if not same and len(ids) == 1 and len(_AT_WORD.findall(inbound.text)) == 1:
        if not known:
            raise InvalidAnswer("errors/answer_unknown_member", name=f"@{name}")
        return known[0]
    return None


parse_mention.reads = READS_MEMBER  # type: ignore[attr-defined]


def when(future_only: bool = False, past_only: bool = False) -> Parser:
    """A date and time as people type it, read in the member's zone; stored as ISO UTC."""

    def parse(answer: str, ctx: Ctx) -> str:
        from bot.timeparse import TimeParseError, parse_when

        try:
            value = parse_when(answer, now=ctx.now, tz=ctx.zone)
        except TimeParseError:
            raise InvalidAnswer("errors/answer_when", text=answer.strip()[:100]) from None
        if future_only and value <= ctx.now:
            raise InvalidAnswer("errors/answer_when_past", at=value.isoformat())
        if past_only and value > ctx.now:
            raise InvalidAnswer("errors/answer_when_future", at=value.isoformat())
        return value.isoformat()

    parse.reads = READS_TIME  # type: ignore[attr-defined]
    return parse
