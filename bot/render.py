"""Rendering: every sentence the bot says comes from templates/<locale>/.

One Jinja environment is built at start-up and passed in. Every `{{ value }}` goes through
`finalize`, which escapes it for the target platform, so user text can never become a mention,
a broadcast or markup; user text is only ever a value, never template source.

A template renders the body; it may `{% set title %}...{% endset %}` a title. Short words
(choice labels, statuses, field names) live in templates/<locale>/labels.yaml, and in a domain
folder's own labels.yaml, and are read with `t('key')`.

A command named in a reply is written `{{ cmd('complaint respond') }}` in a template, and
`/complaint respond` in a label: both come out as the person has to type it where the message
goes (`Dialect.command`: a Slack slash command, `@Liaison /…` in a DingTalk group, …).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from types import BuiltinMethodType, MethodType
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import (
    BytecodeCache,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    pass_context,
)
from jinja2.ext import Extension
from jinja2.runtime import Context
from markupsafe import Markup

from bot.dialects import Dialect, Names, dialect_for
from bot.messages import Choice, Mention, Rendered, RenderedChoice, Reply
from bot.parsers import TIME_NOTES

LOCALES = ("zh", "en")
DEFAULT_BOT_NAME = "Liaison"
RENDER_CACHE = 256  # rendered replies kept per process (Reply.cache)
# A command in a label: `/family` at the start of a word (not `Area/City`, not a URL).
LABEL_COMMAND = re.compile(r"(?<![A-Za-z0-9_/.<&@])/([a-z]+)\b")


def templates_root() -> Path:
    return Path(str(files("templates")))


class Safe(str):
    """Markup the bot made itself (bold, a mention); finalize leaves it alone."""


@pass_context
def _finalize(context, value: Any) -> Any:  # noqa: ANN001
    # The renderer's own name, in the context's parent (the reply's, or an include's copy of
    # it); read there directly, without the context's look at the template's variables first.
    dialect: Dialect = context.parent["_dialect"]
    if type(value) is str:  # the common case (user text, labels), first
        return dialect.escape(value)
    if isinstance(value, Safe | Markup):
        return str(value)
    if isinstance(value, Mention):
        return dialect.mention(value.user_id, dialect.escape(value.name))
    if value is None:
        return ""
    return dialect.escape(str(value))


# What a dict instance has as attributes: its type's (it has no __dict__ of its own).
_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Context(Context):
    """Jinja's context, calling the renderer's own helpers (`t`, `when`, `cmd`, ...) directly:
    Jinja first looks each callable over for what it must be passed (the context, the
    environment), a third of a listing's rendering; these take none."""

    def call(__self, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401, N805
        if type(__obj) is MethodType and __obj.__func__ in _HELPERS:
            if kwargs:  # what Jinja adds for callables that take the context
                kwargs.pop("_loop_vars", None)
                kwargs.pop("_block_vars", None)
            return __obj(*args, **kwargs)
        if type(__obj) is BuiltinMethodType:
            # `row.get('x')`, `text.strip()`: a built-in takes no attribute, so it cannot ask
            # for the context (`jinja_pass_arg`); Jinja's look for one costs more than the call.
            if kwargs:
                kwargs.pop("_loop_vars", None)
                kwargs.pop("_block_vars", None)
            try:
                return __obj(*args, **kwargs)
            except StopIteration:  # as Jinja answers it
                return __self.environment.undefined(
                    "value was undefined because a callable raised a StopIteration exception")
        return super().call(__obj, *args, **kwargs)


class _Environment(Environment):
    """Jinja's environment, reading the dicts handlers pass faster.

    `row.ref` in a template is `getattr(row, "ref")` first, then `row["ref"]`: for a dict,
    every such read raised and caught an AttributeError first (a listing reads a few hundred,
    a fifth of its rendering). For a plain dict and a name its type has no attribute of,
    that first attempt can only fail, so the item is read directly; anything else goes
    Jinja's way (`d.items` is still the method)."""

    context_class = _Context

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401
        super().__init__(*args, **kwargs)
        self._loaded: dict[tuple[Any, str], Any] = {}

    def make_globals(self, d: Any) -> Any:  # noqa: ANN401
        """A template's globals: the environment's own dict when the template has none of its
        own (always, here), instead of a ChainMap over it, which every context for the
        template (each reply, each include) copies key by key. Changes to the environment's
        globals still show; template globals given when loading keep Jinja's ChainMap."""
        if not d:
            return self.globals
        return super().make_globals(d)

    def get_template(self, name: Any, parent: str | None = None,  # noqa: ANN401
                     globals: Any = None) -> Any:  # noqa: A002, ANN401
        """A template by name, kept once loaded: every reply and every `{% include %}` asks
        for one by name, and Jinja's own lookup builds a globals map and takes its cache's
        lock each time. Only without `auto_reload` (the renderer's setting: templates do not
        change while the bot runs), where Jinja's cache answers the same template without
        looking at the file either; with it, Jinja's way (globals are refused). Keyed by the
        loader too, as Jinja's cache is."""
        if globals:
            # Jinja would add them to the template's globals, here the environment's own
            # (make_globals): every template would see them.
            raise TypeError("the renderer's templates take no globals of their own")
        if self.auto_reload or type(name) is not str:
            return super().get_template(name, parent)
        if parent is not None:
            name = self.join_path(name, parent)
        key = (self.loader, name)
        found = self._loaded.get(key)
        if found is None:
            found = self._loaded[key] = super().get_template(name)
        return found

    def getattr(self, obj: Any, attribute: str) -> Any:  # noqa: ANN401
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


_NO_BREAK = "_no_trailing_break"
_TAG = re.compile(r"\{%(.*?)%\}|\{#.*?#\}")


class LineBreaks(Extension):
    """A line of text keeps its line break, even when it ends with a tag.

    `trim_blocks` removes the newline after every block tag, which is what a line holding only
    `{% for %}` or `{% endif %}` wants, but it also glued a list line ending in
    `{% include %}` or `{% endif %}` to the next one (`…(Europe/London)• #51 …`). So before
    Jinja reads a template, a line with text (an include counts) that ends in a tag gets `+%}`
    (keep the break), and
    a line that is one `{% if %}…{% endif %}` without `else` moves the break inside, so the line
    disappears when the condition is false. The file's last line is left alone: whoever
    includes the file decides what follows it, and so is a line followed by an empty one (the
    way templates kept such a break before)."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters[_NO_BREAK] = lambda text: text.rstrip("\n")

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        lines = source.split("\n")
        last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
        return "\n".join(_keep_break(line) if i < last and lines[i + 1] != "" else line
                          for i, line in enumerate(lines))


def _keep_break(line: str) -> str:
    stripped = line.rstrip()
    if not stripped.endswith("%}") or stripped.endswith(("+%}", "-%}")):
        return line
    tags = list(_TAG.finditer(stripped))
    words = [(m.group(1) or "").strip().split(None, 1)[0] if (m.group(1) or "").strip() else ""
             for m in tags]
    if not _TAG.sub("", stripped).strip() and "include" not in words:
        return line  # tags only: the line is structure, not text
    if words[0] == "set" and words[-1] == "endset":
        return line  # the title: not part of the body
    last = tags[-1]
    if words[-1] == "include":
        # What an included file ends with is its own affair: the line's break is the one kept.
        return (stripped[:last.start()] + f"{{% filter {_NO_BREAK} %}}" + last.group(0)
                + "{% endfilter +%}")
    if (stripped.lstrip().startswith("{%") and tags[0].start() == len(stripped) - len(
            stripped.lstrip()) and words[0] == "if" and _one_if(words)):
        return stripped[:last.start()] + "\n" + stripped[last.start():]
    return stripped[:last.end() - 2] + "+%}"


def _one_if(words: list[str]) -> bool:
    """The line's tags are one `if … endif` (no else at its level) closing at the last tag."""
    depth = 0
    for i, word in enumerate(words):
        if word in ("if", "for"):
            depth += 1
        elif word in ("endif", "endfor"):
            depth -= 1
            if depth == 0 and i != len(words) - 1:
                return False
        elif word in ("else", "elif") and depth == 1:
            return False
    return depth == 0 and words[-1] == "endif"


class _SharedBytecode(BytecodeCache):
    """Compiled templates kept in memory for every renderer of the process: a second renderer
    (a test's, or one per tenant) reads the source and skips the compiler. Jinja checks the
    source's checksum, so an edited template is compiled again."""

    def __init__(self) -> None:
        self._store: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:  # noqa: ANN001
        code = self._store.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket) -> None:  # noqa: ANN001
        self._store[bucket.key] = bucket.bytecode_to_string()


_BYTECODE = _SharedBytecode()


def _read_yaml(path: Path) -> dict[str, Any]:
    """A labels file, parsed once per process for as long as the file is unchanged (every
    renderer of a process shares it; callers must not change what they get)."""
    stat = path.stat()
    return _parse_yaml(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=512)
def _parse_yaml(path: Path, _mtime_ns: int, _size: int) -> dict[str, Any]:
    import yaml  # here, with the first labels read: not at start-up

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML has it
    return yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or {}  # noqa: S506


class _Labels(dict):
    """locale -> its labels, read the first time the locale is asked for (a bot whose people
    all speak one language never reads the other's; start-up reads none)."""

    def __init__(self, load: Callable[[str], dict[str, Any]]) -> None:
        super().__init__()
        self._load = load

    def __missing__(self, locale: str) -> dict[str, Any]:
        labels = self[locale] = self._load(locale)
        return labels


class Renderer:
    """`root` holds the templates (templates/ by default); `extra` roots of the same layout
    (`<locale>/<folder>/...`) add folders beside them without copying anything."""

    def __init__(
        self, default_locale: str = "zh", root: Path | None = None, extra: Iterable[Path] = (),
        bot_names: Mapping[str, str] | None = None,
    ) -> None:
        self.default_locale = default_locale
        self.root = root or templates_root()
        self.roots = [self.root, *extra]
        self.bot_names = dict(bot_names or {})  # platform -> the bot's display name there
        self.slash: dict[str, str] = {}  # family -> its Slack slash command (use_commands)
        self.app_command = Names.app
        self.env = _Environment(
            loader=FileSystemLoader([str(r) for r in self.roots]),
            extensions=[LineBreaks],
            undefined=StrictUndefined,
            finalize=_finalize,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=False,
            cache_size=2000,
            bytecode_cache=_BYTECODE,
        )
        self._labels = _Labels(self._load_labels)
        # Labels looked up (a list renders dozens): the files are read once (_Labels), so a
        # key's value never changes; the keys are the templates' and the code's, a few hundred.
        self._found: dict[tuple[str, str], Any] = {}
        # (locale, dialect, label key) -> the label as a choice shows it there (`_choice`).
        self._shown: dict[tuple[str, str, str], str] = {}
        # Rendered replies that said they depend on their `cache` key alone (Reply.cache).
        self._rendered: dict[tuple[Any, ...], Rendered] = {}
        # (locale, platform, zone, direct, bot, commands) -> what every reply rendered there gets
        # besides its own values: the helpers hold no state of one reply (a reply's time
        # notes get helpers of their own), so they are built once, not per reply.
        self._scopes: dict[tuple[Any, ...], dict[str, Any]] = {}

    def _load_labels(self, locale: str) -> dict[str, Any]:
        """`<locale>/labels.yaml`, plus each domain folder's own `labels.yaml` under the
        folder's name (`complaints/labels.yaml` -> `complaints.severity.high`). The `roles`
        and `purposes` a domain folder names are also read as `roles.x` and `purposes.x`, so
        the core's sentences about roles and channels name the ones a domain adds."""
        labels = dict(_read_yaml(self.root / locale / "labels.yaml"))
        for root in self.roots:
            for path in sorted((root / locale).glob("*/labels.yaml")):
                folder = _read_yaml(path)
                labels[path.parent.name] = folder
                for shared in ("roles", "purposes"):
                    labels[shared] = {**folder.get(shared, {}), **labels.get(shared, {})}
        return labels

    def use_commands(self, slash: Mapping[str, str], app: str) -> None:
        """The slash commands the domains declare (family -> `/complaint`) and the app command
        that reaches every other family, for platforms where commands are registered (Slack).
        The core passes them from its registry."""
        self.slash, self.app_command = dict(slash), app
        self._rendered.clear()
        self._scopes.clear()  # their helpers hold the commands (Names)

    def locale(self, locale: str | None) -> str:
        return locale if locale in LOCALES else self.default_locale

    def label(self, locale: str, key: str) -> str:
        loc = self.locale(locale)
        found = self._found.get((loc, key))
        if found is not None:
            return found
        value = self._labels[loc]
        for part in key.split("."):
            if not isinstance(value, dict) or part not in value:
                raise KeyError(f"label {key!r} missing in {locale}/labels.yaml")
            value = value[part]
        self._found[(loc, key)] = value
        return value

    def has_label(self, locale: str, key: str) -> bool:
        try:
            self.label(locale, key)
        except KeyError:
            return False
        return True

    def render(
        self,
        reply: Reply,
        *,
        locale: str | None,
        platform: str,
        zone: ZoneInfo,
        direct: bool = False,
    ) -> Rendered:
        """`direct`: the message goes to a one-to-one chat with the bot (commands are typed
        differently there than in a group channel)."""
        loc = self.locale(reply.locale or locale)
        if reply.cache is not None:
            key = (reply.template, reply.cache, loc, platform, direct)
            found = self._rendered.get(key)
            if found is None:
                found = self._render(reply, loc, platform, zone, direct)
                if len(self._rendered) >= RENDER_CACHE:
                    self._rendered.clear()  # bounded: role sets and topics are few
                self._rendered[key] = found
            return found
        return self._render(reply, loc, platform, zone, direct)

    def _scope(self, loc: str, platform: str, zone: ZoneInfo, direct: bool,
               time_notes: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """The names a template sees besides the reply's values: the helpers bound to the
        locale, zone, platform and `direct`, and the dialect. Kept per place (a handful: the
        locales, the platforms, the zones people set), except for a reply with time notes,
        whose `when` must know them."""
        bot = self.bot_names.get(platform, DEFAULT_BOT_NAME)
        # The commands too (use_commands also clears the kept ones): a cached scope's Names
        # holds the slash dict it was built with, so that id is not reused while it is kept.
        key = (loc, platform, zone, direct, bot, self.app_command, id(self.slash))
        if not time_notes:
            found = self._scopes.get(key)
            if found is not None:
                return found
        dialect = dialect_for(platform)
        helpers = _Helpers(self, loc, zone, dialect, direct,
                           Names(bot, self.slash, self.app_command), time_notes)
        scope = {
            "_dialect": dialect,
            "t": helpers.t,
            "when": helpers.when,
            "duration": helpers.duration,
            "bold": helpers.bold,
            "mention": helpers.mention,
            "cmd": helpers.cmd,
            "platform": platform,
            "locale": loc,
            "has_buttons": dialect.has_buttons,
        }
        if not time_notes:
            if len(self._scopes) >= RENDER_CACHE:
                self._scopes.clear()  # bounded, as _rendered is
            self._scopes[key] = scope
        return scope

    def _render(self, reply: Reply, loc: str, platform: str, zone: ZoneInfo,
                direct: bool) -> Rendered:
        scope = self._scope(loc, platform, zone, direct, _time_notes(reply.values))
        name = f"{loc}/{reply.template}.j2"
        try:
            template = self.env.get_template(name)
        except TemplateNotFound:
            raise KeyError(f"template {name} is missing") from None
        # What `template.make_module(values)` does, without the module object and with one
        # dict instead of two: Jinja's context for a template (not shared) is the globals
        # overlaid by the values; here the reply's values, then the renderer's names (which
        # win, as before), over the environment's globals. The body is the root render
        # function's output joined (`str(module)`), the title the exported `title`.
        values = {**self.env.globals, **reply.values, **scope, "choices": reply.choices}
        context = template.new_context(values, shared=True)
        body = "".join(template.root_render_func(context)).strip()
        title = context.vars.get("title") if "title" in context.exported_vars else None
        title = str(title or "").strip()
        dialect = scope["_dialect"]
        choices = tuple(self._choice(loc, dialect, c) for c in reply.choices)
        return Rendered(
            title=title, body=body, choices=choices, template=reply.template,
            step=str(reply.values.get("step_token") or ""), files=tuple(reply.files),
        )

    def _choice(self, locale: str, dialect: Dialect, choice: Choice) -> RenderedChoice:
        if choice.literal or choice.ref:
            label = choice.label if choice.literal else self.label(locale, choice.label)
            if choice.ref:
                label = label.replace("{ref}", choice.ref)
            return RenderedChoice(value=choice.value, label=dialect.escape(label),
                                  style=choice.style)
        # A label by key alone, as shown on the platform: looked up and escaped once (every
        # reminder to a person carries five "remind me again" buttons, a third of its
        # rendering). The keys are the code's and the templates' own, a few hundred at most;
        # user text and a record's ref (unbounded) are not kept.
        key = (locale, dialect.name, choice.label)
        label = self._shown.get(key)
        if label is None:
            label = self._shown[key] = dialect.escape(self.label(locale, choice.label))
        return RenderedChoice(value=choice.value, label=label, style=choice.style)

    def template_names(self, locale: str) -> set[str]:
        base = self.root / locale
        return {
            str(p.relative_to(base).with_suffix("")) for p in base.rglob("*.j2")
        }


class _Helpers:
    """Functions templates call, bound to one locale, zone and platform. The renderer keeps
    them per place (Renderer._scope) and uses them for every reply rendered there: they hold
    nothing of one reply, except the time notes of a reply that has some (built for it alone)."""

    def __init__(self, renderer: Renderer, locale: str, zone: ZoneInfo, dialect: Dialect,
                 direct: bool, names: Names, time_notes: Mapping[str, Mapping[str, Any]]):
        self.time_notes = time_notes
        self.renderer = renderer
        self.locale = locale
        self.zone = zone
        self.dialect = dialect
        self.direct = direct
        self.names = names
        # How `cmd` names the bot: escaped once, not at every command.
        self._cmd_names = replace(names, bot=dialect.escape(names.bot))

    def t(self, key: str, default: str | None = None, **fmt: Any) -> str:
        if default is not None and not self.renderer.has_label(self.locale, key):
            return default
        text = self.renderer.label(self.locale, key)
        text = text.format(**fmt) if fmt else text
        if isinstance(text, str) and "/" in text:
            # The label's text escaped, its commands as `cmd` writes them (a real `@`).
            pieces = LABEL_COMMAND.split(text)  # text, command, text, command, ..., text
            return Safe("".join(self.cmd(piece) if odd else self.dialect.escape(piece)
                                for odd, piece in zip(itertools.cycle((False, True)), pieces)))
        return text

    def cmd(self, words: str) -> Safe:
        """A command as the reader types it: `cmd('lang en')` is `/lang en` on the console,
        `/liaison lang en` in a Slack channel, `@Liaison /lang en` in a DingTalk group. The
        words and the bot's name are escaped, the `@` addressing the robot is not: it must
        stay one the person can type (DingTalk's escape breaks every `@` starting a word)."""
        return Safe(self.dialect.command(self.dialect.escape(str(words)), self.direct,
                                         self._cmd_names))

    def when(self, value: datetime | str | None, with_zone: bool = True) -> str:
        if value is None:
            return ""
        # A conversation's answers carry their notes; a command's reply may pass the parser's
        # TimeAnswer itself.
        note = (self.time_notes.get(value) if isinstance(value, str) else None) or getattr(
            value, "note", None)
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if note is None:
            return format_when(self.renderer, self.locale, value, self.zone, with_zone)
        # The text did not say which half of the day, or said "about": the echo says so.
        text = format_when(self.renderer, self.locale, value, self.zone, with_zone=False)
        if note.get("instead"):
            other = datetime.fromisoformat(note["instead"]).astimezone(self.zone)
            text = self.renderer.label(self.locale, "time.instead").format(
                when=text, other=f"{other:%H:%M}")
        if note.get("approximate"):
            text = self.renderer.label(self.locale, "time.about").format(when=text)
        return f"{text} ({self.zone.key})" if with_zone else text

    def duration(self, value: timedelta | float) -> str:
        return format_duration(self.renderer, self.locale, value)

    def bold(self, text: Any) -> Safe:
        inner = text if isinstance(text, Safe) else self.dialect.escape(str(text))
        return Safe(self.dialect.bold(inner))

    def mention(self, value: Mention | None) -> Safe:
        if value is None:
            return Safe("")
        return Safe(self.dialect.mention(value.user_id, self.dialect.escape(value.name)))


# The helpers templates call (none takes the context): see _Context.
_HELPERS = frozenset({_Helpers.t, _Helpers.cmd, _Helpers.when, _Helpers.duration, _Helpers.bold,
                      _Helpers.mention})


def _time_notes(values: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """What the echo of each time answer of a conversation must say, by its ISO text (see
    bot.parsers.TimeAnswer); a reply may also pass `time_notes` itself."""
    answers = values.get("answers")
    notes = answers.get(TIME_NOTES) if isinstance(answers, Mapping) else None
    found = list((notes or {}).values()) + list(values.get("time_notes") or [])
    return {n["at"]: n for n in found if isinstance(n, Mapping) and "at" in n}


def format_when(
    renderer: Renderer, locale: str, value: datetime, zone: ZoneInfo, with_zone: bool = True
) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(zone)
    weekdays = renderer.label(locale, "time.weekdays")
    text = renderer.label(locale, "time.datetime").format(
        year=local.year,
        month=local.month,
        month_name=renderer.label(locale, "time.months")[local.month - 1],
        day=local.day,
        weekday=weekdays[local.weekday()],
        hour=local.hour,
        minute=local.minute,
    )
    return f"{text} ({zone.key})" if with_zone else text


def format_duration(renderer: Renderer, locale: str, value: timedelta | float) -> str:
    seconds = int(value.total_seconds() if isinstance(value, timedelta) else value)
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    unit = _units(renderer, locale)
    parts = []
    if days:
        parts.append(unit["d"].format(n=days))
    if hours:
        parts.append(unit["h"].format(n=hours))
    if minutes and not days:
        parts.append(unit["m"].format(n=minutes))
    if not parts:
        parts.append(unit["m"].format(n=0 if seconds < 60 else minutes))
    return sign + unit["sep"].join(parts)


def _units(renderer: Renderer, locale: str) -> dict[str, str]:
    return renderer.label(locale, "time.units")
