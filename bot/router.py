"""The command registry and parser.

`/complaint new customer="ACME Ltd" severity=high` -> family `complaint`, command `new`,
keywords {customer: "ACME Ltd", severity: "high"}. Every family and command has Chinese
aliases (`投诉 新建`); the leading slash is optional. Help is generated from the registry,
filtered by the member's roles.
"""

from __future__ import annotations

import logging
import re
import shlex
import threading
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.errors import DomainLoadError, UserError

if TYPE_CHECKING:
    from bot.context import Ctx
    from bot.conversation import Flow
    from bot.domain import Domain

log = logging.getLogger(__name__)

MAX_MESSAGE = 4000
# Roles every member or admin has whatever the domains: admins come from LIAISON_ADMINS, and
# everyone is staff. The roles that can be granted are the ones the domains declare.
CORE_ROLES = ("admin", "staff")
HELP_FAMILY = "help"
HELP_WORDS = frozenset({"help", "帮助", "?"})
_QUOTES = str.maketrans({"“": '"', "”": '"', "「": '"', "」": '"', "‘": "'", "’": "'"})
_KEYWORD = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*|[\u4e00-\u9fff]+)=(.*)$", re.S)


_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Controls other than tab and line breaks, and the bidi overrides that disguise text.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_HEAD = re.compile(r"^\s*(\S+)(?:\s+(\S+))?", re.S)
# What shlex.split (POSIX, no comments) splits words on, and the characters it reads
# otherwise than as part of a word: quotes and the backslash.
_SHELL_SPACE = re.compile(r"[ \t\r\n]+")
_SHELL_SPECIAL = re.compile(r"[\"'\\]")


def split_words(text: str) -> list[str]:
    """`shlex.split(text)`: words, quotes grouping them. A text with no quote or backslash
    (nearly every command) is split on shlex's own whitespace directly, as shlex would split
    it: its tokenizer, a character at a time, was a twentieth of a command's core (issue 22)."""
    if _SHELL_SPECIAL.search(text):
        return shlex.split(text)
    return [word for word in _SHELL_SPACE.split(text) if word]


def clean(text: str) -> str:
    """Every message once, at the edge. A lone surrogate (half of an emoji, pasted) cannot be
    stored or sent anywhere, so the message is refused with the reason, before any of it is
    kept; control characters are dropped. Otherwise the text stays as typed."""
    bad = _SURROGATE.search(text)
    if bad:
        raise UserError("errors/bad_characters", position=bad.start() + 1,
                        code=f"U+{ord(bad.group()):04X}")
    return _CONTROLS.sub("", text)


def command_form(text: str) -> str:
    """The command words as people type them on a Chinese keyboard: full-width `／` and
    letters, and the full-width space, read as their plain forms (Unicode NFKC). Only the
    first two words change; what follows is the user's text."""
    match = _HEAD.match(text)
    if match is None:
        return text.strip()
    words = [unicodedata.normalize("NFKC", w) for w in match.groups() if w]
    rest = text[match.end():].replace("\u3000", " ")
    return (" ".join(words) + rest).strip()


def _nfkc_key(word: str) -> str:
    """`收到时间＝明天` and `ｓｅｖｅｒｉｔｙ=high`: the key (not the value) in plain form."""
    for sign in ("=", "＝"):
        key, found, value = word.partition(sign)
        if found and key:
            return f"{unicodedata.normalize('NFKC', key)}={value}"
    return word


@dataclass(frozen=True)
class Args:
    """What followed the command words: positional words, key=value pairs, and the raw rest
    (for commands whose argument is free text, such as `/complaint note C-1 text ...`)."""

    positional: tuple[str, ...] = ()
    keywords: dict[str, str] = field(default_factory=dict)
    rest: str = ""

    def get(self, index: int, default: str | None = None) -> str | None:
        return self.positional[index] if index < len(self.positional) else default

    def text_after(self, count: int) -> str:
        """The raw text after the first `count` words, as the user typed it."""
        rest = self.rest
        for _ in range(count):
            rest = rest.lstrip()
            if not rest:
                return ""
            if rest[0] in "\"'":
                end = rest.find(rest[0], 1)
                rest = rest[end + 1 :] if end > 0 else ""
            else:
                parts = rest.split(None, 1)
                rest = parts[1] if len(parts) > 1 else ""
        return rest.strip()


Handler = Callable[["Ctx", Args], Any]
# (session, reminder, now) -> Reply | None.  Reads only: it may run several times for one send.
ReminderRenderer = Callable[[Any, Any, Any], Any]
# (session, reminder, now) -> None.  Runs once, in the transaction that marks the reminder sent.
ReminderSent = Callable[[Any, Any, Any], None]
# (session, now) -> {purpose: [item dicts]} of overdue work for the daily digest
DigestProvider = Callable[[Any, Any], dict[str, list[dict[str, Any]]]]


@dataclass(frozen=True)
class ReminderKind:
    """How a due reminder of one kind becomes a message, in two parts.

    `render` is pure: it reads the record as it is now and returns a Reply, or None when there
    is nothing to say any more (the reminder is then dropped). A retried send renders again.
    `on_sent` runs exactly once, inside the transaction that marks the reminder sent: this is
    where a kind plans its next nag, counts repeats or escalates."""

    render: ReminderRenderer
    on_sent: ReminderSent | None = None


@dataclass(frozen=True)
class Command:
    family: str
    name: str | None  # None: the family's own command (`/help`, `/tp <words>`)
    handler: Handler
    aliases: tuple[str, ...] = ()
    roles: frozenset[str] = frozenset()  # empty: everyone
    usage: str = ""  # label key of the help line; default cmd.<family>.<name or main>

    @property
    def usage_key(self) -> str:
        return self.usage or f"cmd.{self.family}.{self.name or 'main'}"

    @property
    def key(self) -> str:
        return f"{self.family} {self.name}" if self.name else self.family

    def allowed(self, roles: Iterable[str]) -> bool:
        return not self.roles or bool(self.roles & set(roles))


@dataclass
class Family:
    name: str
    aliases: tuple[str, ...] = ()
    commands: dict[str | None, Command] = field(default_factory=dict)
    label: str = ""  # label key of its name in help; default families.<name>

    @property
    def label_key(self) -> str:
        return self.label or f"families.{self.name}"

    def find(self, word: str) -> Command | None:
        low = word.lower()
        for command in self.commands.values():
            if command.name and (low == command.name or word in command.aliases):
                return command
        return None


@dataclass(frozen=True)
class Parsed:
    command: Command
    args: Args


class Registry:
    """All commands, flows, reminder kinds and digests, and the domains that declared them
    (`install`). Roles, channel purposes and slash commands are read from the domains.

    A domain's own declaration (name, slash command, roles, purposes, families, settings) is
    known from `install` on; its commands, flows, kinds and digests once its code is imported
    (Domain.code). That happens for every installed domain at once, the first time any of them
    is asked for (`load`): a start that has answered nothing yet has imported none of it."""

    def __init__(self) -> None:
        self._domains: list[Domain] = []
        self._waiting: list[Domain] = []  # installed, their code not yet imported (`load`)
        self._loading = threading.RLock()
        self._in_load = False
        self._broken: str | None = None  # what failed a load (it is not tried again)
        self._after_load: list[Callable[[], None]] = []
        self._families: dict[str, Family] = {}
        self._alias: dict[str, str] = {}
        self._flows: dict[str, Flow] = {}
        # Reminder kinds: how a due reminder becomes a message, rendered at send time.
        self._kinds: dict[str, ReminderKind] = {}
        # Overdue items per purpose for the daily digest, one provider per domain.
        self._digests: list[DigestProvider] = []
        # (session, settings, scope) -> the working calendar of a purpose or team; filled
        # by the calendar domain. Without it every calendar is 24x7.
        self._calendar_source: Callable[[Any, Any, str], Any] | None = None
        # (session, settings, member) -> a person's calendar (their team's, else the default).
        self._person_calendar_source: Callable[[Any, Any, Any], Any] | None = None

    def load(self) -> None:
        """Import the code of every domain installed and not loaded yet, in the order they were
        installed, and register what it declares. Called by everything that reads commands,
        flows, kinds or digests; once they are in, only a list's emptiness is checked. Another
        thread asking meanwhile waits for the whole; a domain's `install` hook, run while
        loading, reads what is registered so far (as it always has)."""
        if not self._waiting:
            return
        with self._loading:
            if self._in_load:
                return
            if self._broken is not None:
                raise DomainLoadError(self._broken)
            self._in_load = True
            try:
                while self._waiting:
                    domain = self._waiting[0]
                    domain.load()
                    domain.install_into(self)
                    self._waiting.pop(0)
            except Exception as exc:
                # Not tried again: a second import would run the module's decorators twice
                # (a digest listed twice). Every later question gets this error, and
                # `liaison doctor` names it.
                failed = self._waiting[0]
                self._broken = str(exc) if isinstance(exc, DomainLoadError) else (
                    f"domain {failed.name}: installing it failed: {exc!r}")
                log.critical("%s", self._broken, exc_info=exc)
                raise DomainLoadError(self._broken) from exc
            finally:
                self._in_load = False
            for then in self._after_load:
                then()

    def after_load(self, then: Callable[[], None]) -> None:
        """Call `then` once every domain's code is in: now, if it is."""
        with self._loading:
            if self.loaded:
                then()
            else:
                self._after_load.append(then)

    @property
    def loaded(self) -> bool:
        """Whether every installed domain's code is in (see `load`)."""
        return not self._waiting

    @property
    def domains(self) -> list[Domain]:
        """Every installed domain, its code loaded."""
        self.load()
        return self._domains

    @property
    def families(self) -> dict[str, Family]:
        self.load()
        return self._families

    @property
    def flows(self) -> dict[str, Flow]:
        self.load()
        return self._flows

    @property
    def reminder_kinds(self) -> dict[str, ReminderKind]:
        self.load()
        return self._kinds

    @property
    def digests(self) -> list[DigestProvider]:
        self.load()
        return self._digests

    @property
    def calendar_source(self) -> Callable[[Any, Any, str], Any] | None:
        self.load()
        return self._calendar_source

    @calendar_source.setter
    def calendar_source(self, source: Callable[[Any, Any, str], Any] | None) -> None:
        self._calendar_source = source

    @property
    def person_calendar_source(self) -> Callable[[Any, Any, Any], Any] | None:
        self.load()
        return self._person_calendar_source

    @person_calendar_source.setter
    def person_calendar_source(self, source: Callable[[Any, Any, Any], Any] | None) -> None:
        self._person_calendar_source = source

    @property
    def jobs(self) -> dict[str, Callable[[Any], None]]:
        """The domains' background jobs by name (declared with the domain: nothing loaded)."""
        return {name: run for d in self._domains for name, run in d.jobs.items()}

    def calendar(self, session: Any, settings: Any, scope: str = "default") -> Any:  # noqa: ANN401
        """The working calendar (bot.workcal.Calendar) of a purpose or team."""
        from bot import workcal

        if self.calendar_source is None:
            return workcal.build(workcal.ALWAYS, settings.zone)
        return self.calendar_source(session, settings, scope)

    def person_calendar(self, session: Any, settings: Any, member: Any) -> Any:  # noqa: ANN401
        """A person's working calendar: their team's when it has one, else the default."""
        if self.person_calendar_source is None:
            return self.calendar(session, settings)
        return self.person_calendar_source(session, settings, member)

    def install(self, domain: Domain) -> None:
        """Add a domain: its own declaration now, its code at the first `load`."""
        domain.seal()
        self._domains.append(domain)
        self._waiting.append(domain)

    @property
    def grantable_roles(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r for d in self._domains for r in d.roles))

    @property
    def roles(self) -> tuple[str, ...]:
        return (CORE_ROLES[0], *self.grantable_roles, *CORE_ROLES[1:])

    @property
    def purposes(self) -> tuple[str, ...]:
        return tuple(sorted({p for d in self._domains for p in d.purposes}))

    def purpose(self, word: str) -> str | None:
        """A purpose by its name or one of its aliases (`投诉`, `complaint`)."""
        low = word.lower()
        for domain in self._domains:
            for purpose, aliases in domain.purposes.items():
                if low == purpose or low in (a.lower() for a in aliases):
                    return purpose
        return None

    @property
    def slash_commands(self) -> tuple[str, ...]:
        return tuple(d.slash for d in self._domains if d.slash)

    @property
    def slack_commands(self) -> dict[str, str]:
        """family -> the slash command that opens it: each domain's command opens its first
        family. The other families are reached through `app_command`."""
        return {d.families[0][0]: d.slash for d in self._domains
                if d.slash and d.families and not d.app_command}

    @property
    def app_command(self) -> str:
        found = [d.slash for d in self._domains if d.app_command]
        return found[0] if found else "/liaison"

    def family(self, name: str, aliases: Iterable[str] = (), label: str = "") -> Family:
        fam = self._families.get(name)
        if fam is None:
            fam = self._families[name] = Family(name, tuple(aliases), label=label)
            self._alias[name] = name
            for alias in aliases:
                self._alias[alias.lower()] = name
        return fam

    def command(
        self,
        family: str,
        name: str | None = None,
        *,
        aliases: Iterable[str] = (),
        roles: Iterable[str] = (),
        usage: str = "",
    ) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            fam = self.family(family)
            fam.commands[name] = Command(
                family, name, handler, tuple(aliases), frozenset(roles), usage
            )
            return handler

        return decorate

    def reminder_kind(
        self, kind: str, on_sent: ReminderSent | None = None
    ) -> Callable[[ReminderRenderer], ReminderRenderer]:
        """Register how reminders of `kind` read (see ReminderKind). The decorated function is
        the pure `render`; `on_sent` is the optional once-only follow-up."""

        def decorate(render: ReminderRenderer) -> ReminderRenderer:
            self._kinds[kind] = ReminderKind(render, on_sent)
            return render

        return decorate

    def digest(self, provider: DigestProvider) -> DigestProvider:
        self._digests.append(provider)
        return provider

    def flow(self, flow: Flow) -> Flow:
        self._flows[flow.name] = flow
        return flow

    def lookup_family(self, word: str) -> Family | None:
        self.load()
        name = self._alias.get(word.lower().lstrip("/"))
        return self._families.get(name) if name else None

    def looks_like_command(self, text: str) -> bool:
        text = command_form(text)
        if text.startswith("/"):
            return True
        first = text.split(None, 1)[0] if text else ""
        return self.lookup_family(first) is not None or bool(self.aliased(first))

    def aliased(self, word: str) -> list[Command]:
        """The commands a word names on its own, without its family: `认领` is
        `/complaint assign`. A word that is an alias of one command but the name or alias of
        several (`列表`, `new`) names them all; the conversation words (`取消`, `完成`) never
        name a command on their own."""
        from bot.conversation import word_of  # the engine's words; it imports this module

        low = word.lower().lstrip("/")
        if not low or word_of(low) is not None:
            return []
        found = [c for fam in self.families.values() for c in fam.commands.values()
                 if c.name and (low == c.name or word in c.aliases or low in c.aliases)]
        return found if any(word in c.aliases or low in c.aliases for c in found) else []

    def parse(self, text: str) -> Parsed:
        text = command_form(text)
        if len(text) > MAX_MESSAGE:
            raise UserError("errors/too_long", limit=MAX_MESSAGE, length=len(text))
        body = text[1:] if text.startswith("/") else text
        try:
            words = split_words(body.translate(_QUOTES))
        except ValueError:
            raise UserError("errors/malformed", text=text) from None
        if not words:
            raise UserError("errors/unknown_command", word="/", suggestions=[])
        family = self.lookup_family(words[0])
        alone = self.aliased(words[0]) if family is None else []
        if len(alone) > 1:
            raise UserError("errors/ambiguous_command", word=words[0],
                            suggestions=[f"{c.family} {c.name}" for c in alone])
        if alone:
            family, words = self.families[alone[0].family], [alone[0].family, *words]
            body = f"{alone[0].family} {body}"
        if family is None:
            raise UserError(
                "errors/unknown_command", word=words[0], suggestions=self.suggest(words[0])
            )
        rest_words = words[1:]
        if (rest_words and rest_words[0].lower() in HELP_WORDS and family.find(rest_words[0])
                is None and family.name != HELP_FAMILY and HELP_FAMILY in self.families):
            # `/tp help`, `/投诉 帮助`: the family's help, not a search for "help".
            helper = self.families[HELP_FAMILY].commands[None]
            return Parsed(helper, Args((family.name,), {}, family.name))
        raw_rest = body.split(None, 1)[1] if len(body.split(None, 1)) > 1 else ""
        command = family.find(rest_words[0]) if rest_words else None
        if command is not None:
            rest_words = rest_words[1:]
            raw_rest = raw_rest.split(None, 1)[1] if len(raw_rest.split(None, 1)) > 1 else ""
        else:
            command = family.commands.get(None)
            if command is None:
                word = f"{family.name} {rest_words[0]}" if rest_words else family.name
                raise UserError(
                    "errors/unknown_subcommand",
                    word=word,
                    family=family.name,
                    suggestions=self.suggest_sub(family, rest_words[0] if rest_words else ""),
                )
        positional, keywords = [], {}
        for word in rest_words:
            match = _KEYWORD.match(_nfkc_key(word))
            if match:
                keywords[match.group(1).lower()] = match.group(2)
            else:
                positional.append(word)
        return Parsed(command, Args(tuple(positional), keywords, raw_rest.strip()))

    def suggest(self, word: str) -> list[str]:
        import difflib  # for a mistyped word only: not loaded before the first one

        self.load()
        names = list(self._alias)
        close = difflib.get_close_matches(word.lower().lstrip("/"), names, n=3, cutoff=0.5)
        return sorted({self._alias[c] for c in close})  # command words; templates cmd() them

    def suggest_sub(self, family: Family, word: str) -> list[str]:
        import difflib

        subs = {c.name: c for c in family.commands.values() if c.name}
        candidates = list(subs) + [a for c in subs.values() for a in c.aliases]
        # Only a real likeness is a suggestion (`frobnicate` is not "note"); otherwise all.
        close = difflib.get_close_matches(word.lower(), candidates, n=3, cutoff=0.6)
        found = [
            f"{family.name} {n}" for n in subs if n in close or set(subs[n].aliases) & set(close)
        ]
        return found or [f"{family.name} {n}" for n in subs]

    def visible(self, roles: Iterable[str]) -> list[tuple[Family, list[Command]]]:
        roles = set(roles)
        out = []
        for fam in self.families.values():
            commands = [c for c in fam.commands.values() if c.allowed(roles)]
            if commands:
                out.append((fam, commands))
        return out
