"""Step parsers the flows share. Each takes the answer text and the context, returns a value
that can be stored as JSON, or raises InvalidAnswer naming a template that says why."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
# Where a conversation keeps what the echo of each time answer must say, by step key: the
# other half of the day when the text did not say which, and "about" (see TimeAnswer).
TIME_NOTES = "_time_notes"

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
    """By number (1-based), by value, by the label in either language, or by a synonym; and,
    as people type, by the start of one of those when only one option starts so (`政府` for
    `政府机构`). Otherwise the answer lists the options."""

    def names_of(option: Choice, ctx: Ctx) -> set[str]:
        names = {option.value.lower()}
        if not option.literal:
            for loc in ("zh", "en"):
                names.add(str(ctx.app.renderer.label(loc, option.label)).lower())
        else:
            names.add(option.label.lower())
        names.update(s.lower() for s in (synonyms or {}).get(option.value, ()))
        return names

    def parse(answer: str, ctx: Ctx) -> str:
        word = unicodedata.normalize("NFKC", answer).strip().lower()
        if word.isdigit() and 1 <= int(word) <= len(options):
            return options[int(word) - 1].value
        named = [(option, names_of(option, ctx)) for option in options]
        for option, names in named:
            if word in names:
                return option.value
        starting = [o for o, names in named if word and any(n.startswith(word) for n in names)]
        if len(starting) == 1:
            return starting[0].value
        listed = [{"label": o.label, "literal": o.literal} for o in options]
        raise InvalidAnswer("errors/answer_choice", count=len(options), options=listed)

    return parse


_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9, "十": 10}
# `5分`, `五星`, `4颗星`, `3/5`: a score as people type it.
_UNITS = re.compile(r"(?:分|星|颗星|颗|点|/\d+|points?|stars?)$")


def read_number(answer: str) -> str:
    """The number in an answer as people type it (`５`, `5分`, `五`, `五星`), as plain digits;
    anything else comes back as typed, for the caller to refuse."""
    word = unicodedata.normalize("NFKC", answer).strip().lower()
    word = _UNITS.sub("", word).strip()
    if word in _CN_DIGITS:
        return str(_CN_DIGITS[word])
    return word


def number(low: float, high: float, integer: bool = True) -> Parser:
    def parse(answer: str, ctx: Ctx) -> int | float:
        word = read_number(answer)
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


MENTIONS = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>|(?<!\S)@[\w.\-\u4e00-\u9fff]{1,64}")


def parse_mentions(answer: str, ctx: Ctx) -> list[dict[str, str]]:
    """Several members in one answer (`@bob @carol`, `<@U1> <@U2>`, `我`), each resolved as
    `parse_mention` does, in order and once each. Anything else in the answer is refused, so
    a name typed without its `@` is not silently left out."""
    found: list[dict[str, str]] = []
    for word in MENTIONS.findall(answer):
        ref = parse_mention(word, ctx)
        if all((f["platform"], f["user_id"]) != (ref["platform"], ref["user_id"])
               for f in found):
            found.append(ref)
    rest = [w for w in re.split(r"[\s,，、;；]+", MENTIONS.sub(" ", answer)) if w]
    for word in rest:
        if word.lower() in ("me", "myself", "我", "我自己"):
            ref = parse_mention(word, ctx)
            if ref not in found:
                found.append(ref)
        else:
            raise InvalidAnswer("errors/answer_mention")
    if not found:
        raise InvalidAnswer("errors/answer_mention")
    return found


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


# A date answer must be plausible: nothing is planned more than five years ahead or happened
# more than five years ago (year 9999 and 1970 are typos), and a past date over 30 days ago is
# taken only when the member confirms it with a `!` (a complaint received in October, filed now).
PLAUSIBLE = timedelta(days=5 * 365)
RECENT = timedelta(days=30)
_CONFIRMED = ("!", "！")


class TimeAnswer(str):
    """A time answer, stored as its ISO UTC text, that carries what its echo must say:
    `note` is {"at": the ISO text, "instead": the other reading's ISO text or None,
    "approximate": bool}, or None when the text was plain. `remember_note` keeps it with the
    conversation's answers, where the templates' `when()` finds it."""

    note: dict[str, Any] | None = None


def remember_note(answers: dict[str, Any], key: str, value: Any) -> None:
    """Keep (or drop, when the new answer is plain) the echo note of the answer to `key`."""
    notes = {k: v for k, v in (answers.get(TIME_NOTES) or {}).items() if k != key}
    note = getattr(value, "note", None)
    if note:
        notes[key] = note
    if notes or TIME_NOTES in answers:
        answers[TIME_NOTES] = notes


# "Next workday" by the person's working calendar (their team's, else the default): a day off
# or a make-up workday counts as it is; under 24x7, the next Monday-to-Friday day at 09:00.


def _next_workday(ctx: Ctx) -> datetime:
    from bot import workcal

    cal = ctx.app.registry.person_calendar(ctx.session, ctx.settings, ctx.member)
    return workcal.next_workday(cal, ctx.now, ctx.zone)


def when(future_only: bool = False, past_only: bool = False) -> Parser:
    """A date and time as people type it, read in the member's zone; stored as ISO UTC."""

    def parse(answer: str, ctx: Ctx) -> str:
        from bot import workcal
        from bot.timeparse import Reading, TimeParseError, read_when

        typed = answer.strip()
        confirmed = typed.endswith(_CONFIRMED)
        try:
            if workcal.says_next_workday(typed):
                reading = Reading(_next_workday(ctx).astimezone(UTC), None, False)
            else:
                reading = read_when(typed.rstrip("".join(_CONFIRMED)), now=ctx.now, tz=ctx.zone)
        except TimeParseError:
            raise InvalidAnswer("errors/answer_when", text=typed[:100]) from None
        value = reading.at
        if value > ctx.now + PLAUSIBLE:
            raise InvalidAnswer("errors/answer_when_too_far", at=value.isoformat(), years=5)
        if value < ctx.now - PLAUSIBLE:
            raise InvalidAnswer("errors/answer_when_too_old", at=value.isoformat(), years=5)
        if future_only and value <= ctx.now:
            raise InvalidAnswer("errors/answer_when_past", at=value.isoformat())
        if past_only and value > ctx.now:
            raise InvalidAnswer("errors/answer_when_future", at=value.isoformat())
        if past_only and value < ctx.now - RECENT and not confirmed:
            raise InvalidAnswer("errors/answer_when_long_ago", at=value.isoformat(),
                                days=RECENT.days, again=f"{typed}!")
        stored = TimeAnswer(value.isoformat())
        if reading.instead is not None or reading.approximate:
            stored.note = {
                "at": str(stored),
                "instead": None if reading.instead is None else reading.instead.isoformat(),
                "approximate": reading.approximate,
            }
        return stored

    parse.reads = READS_TIME  # type: ignore[attr-defined]
    return parse
