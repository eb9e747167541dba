"""The conversation engine: walks a member through a flow one question at a time.

A flow is data (steps with a key, a prompt template, a parser, choices, optional or not), and
its state is a database row per (platform, channel, user), so a restart or another replica
continues at the same step. The words cancel / back / skip / status (取消 / 上一步 / 跳过 /
状态) work at every step; a flow ends with a summary and a confirmation before anything is
written; an invalid answer is asked again with the reason.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, insert, update
from sqlalchemy import select as core_select
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from bot import parsers
from bot.db import Direct, fresh
from bot.errors import InvalidAnswer, UserError
from bot.messages import Choice, Reply
from bot.models import Conversation

if TYPE_CHECKING:
    from sqlmodel import Session

    from bot.context import Ctx
    from bot.router import Registry

log = logging.getLogger(__name__)

# Built once: building the expression cost more than running it (issue 22).
# populate_existing: the engine writes with Core statements (below), which the session's
# identity map does not see; a Conversation some other code loaded into this session is
# overwritten with the row as it is, not handed back as it was.
_CURRENT = select(Conversation).where(
    Conversation.platform == bindparam("platform"),
    Conversation.channel_id == bindparam("channel"),
    Conversation.user_id == bindparam("user"),
).execution_options(populate_existing=True)
_CURRENT_LOCKED = _CURRENT.with_for_update()

# The engine writes its row with these statements, not through the session's unit of work:
# a step changes one known row, and the flush that works out what changed cost more than the
# rest of the step (issue 22). A conversation the engine holds is therefore never in the
# session (`current` detaches it); every change is written when it is made (`_save`, `_drop`).
# They run on the driver's cursor with the columns' own conversions (bot.db.Direct):
# SQLAlchemy's execution around the driver's call cost eight times the call (issue 22).
_TABLE = Conversation.__table__
_INSERT = Direct(insert(_TABLE).returning(_TABLE.c.id),
                 [c.key for c in _TABLE.columns if c.key != "id"])
_DELETE = Direct(delete(_TABLE).where(_TABLE.c.id == bindparam("conv_id")))
_WRITTEN = ("step", "answers", "history", "context", "updated_at", "expires_at")
_UPDATE = Direct(update(_TABLE).where(_TABLE.c.id == bindparam("conv_id")), list(_WRITTEN))
_COLUMNS = tuple(c.key for c in _TABLE.columns)

# `current` reads the row with Core and builds the detached Conversation itself: the ORM
# query cost twice the Core one (issue 22). Same columns, types and lock as _CURRENT.
_ROW_SELECT = core_select(*_TABLE.columns).where(
    _TABLE.c.platform == bindparam("platform"),
    _TABLE.c.channel_id == bindparam("channel"),
    _TABLE.c.user_id == bindparam("user"),
)
_ROW = Direct(_ROW_SELECT)
_ROW_LOCKED = Direct(_ROW_SELECT.with_for_update())
# session.info: (platform, channel, user) -> the row's columns as this transaction last read
# or wrote them (None: no row), so a second `current` in one message (`/x new` reads it in
# the core, then `start` again) costs no query. The engine writes conversation rows; the Slack
# adapter also moves a conversation into a thread or the DM, after it has read `held`.
_HELD = "conversations"


def held(session: Session, platform: str, channel: str,
         user: str) -> tuple[bool, dict[str, Any] | None]:
    """Whether this transaction has read or written the member's conversation in this channel
    through the engine, and its row's columns as it last did (None: no conversation)."""
    rows = session.info.get(_HELD)
    if rows is None or (platform, channel, user) not in rows:
        return False, None
    return True, rows[(platform, channel, user)]

CONFIRM = "__confirm__"

WORDS = {
    "cancel": {"cancel", "/cancel", "取消", "退出", "quit"},
    "back": {"back", "上一步", "返回"},
    "skip": {"skip", "跳过"},
    "status": {"status", "状态", "进度"},
    "yes": {"yes", "y", "ok", "confirm", "确认", "是", "好", "对", "提交"},
    "no": {"no", "n", "否", "不"},
    "done": {"done", "完成", "结束", "好了"},
}


# A choice that stays tappable after its question is answered (DingTalk's message links) sends
# "<answer> #<token>", the token naming the question it belongs to, so that an old link cannot
# answer whatever question is current.
_TAPPED = re.compile(r"^(?P<answer>\S+) #(?P<token>q[0-9a-f]{6})$")


def tapped(text: str) -> tuple[str, str | None]:
    """(answer, token) of a tapped choice; (text, None) for anything typed."""
    match = _TAPPED.match(text.strip())
    return (match["answer"], match["token"]) if match else (text, None)


def step_token(conv: Conversation) -> str:
    """Names the question being asked: this conversation, this step, this far along."""
    started = conv.started_at
    if started.tzinfo is not None:  # stored aware; read back naive on some databases
        started = started.astimezone(UTC).replace(tzinfo=None)
    seed = f"{started.isoformat()}|{conv.step}|{len(conv.history)}"
    return "q" + hashlib.sha256(seed.encode()).hexdigest()[:6]


def word_of(text: str) -> str | None:
    word = unicodedata.normalize("NFKC", text).strip().lower().rstrip(".。!！")
    for name, synonyms in WORDS.items():
        if word in synonyms:
            return name
    return None


def field_named(ctx: Ctx, flow: Flow, name: str) -> Step:
    """The step a prefilled `key=value` fills: by its key, or by its name in either language
    (`收到时间=` is `received=`). Unknown: the answer lists the keys in the member's language."""
    word = unicodedata.normalize("NFKC", name).strip().lower()
    renderer = ctx.app.renderer
    for step in flow.steps:
        label = f"fields.{step.key}"
        names = {step.key} | {str(renderer.label(loc, label)).lower()
                              for loc in ("zh", "en") if renderer.has_label(loc, label)}
        if word in names:
            return step
    raise UserError("errors/unknown_field", field=name, fields=[s.key for s in flow.steps])


Values = Callable[["Ctx", dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Step:
    key: str
    prompt: str  # template name
    parse: parsers.Parser | None = None  # None with choices: pick one of them
    choices: Sequence[Choice] | Callable[[Ctx, dict[str, Any]], Sequence[Choice]] = ()
    optional: bool = False
    default: Callable[[Ctx, dict[str, Any]], Any] | None = None  # the value when skipped
    when: Callable[[dict[str, Any]], bool] | None = None  # ask only when this holds
    collect: bool = False  # a list: one item a line, until "done"
    max_items: int = 30
    # With collect: the template acknowledging each message's items, for items that are
    # records (a dict) rather than words, so they can be shown field by field.
    collected: str = "flow/collected"
    # With collect: what "done" on an empty list says, and what "back" to the list says when
    # it keeps the items collected so far (count).
    empty: str = "flow/required"
    kept: str = "flow/kept"
    # The question takes a file sent with the message (ctx.inbound.files); its parser reads
    # it. A file sent at any other question is refused, and nothing of the message is kept.
    files: bool = False

    def options(self, ctx: Ctx, answers: dict[str, Any]) -> list[Choice]:
        found = self.choices(ctx, answers) if callable(self.choices) else self.choices
        return list(found)

    def read(self, text: str, ctx: Ctx, answers: dict[str, Any]) -> Any:
        parse = self.parse or parsers.choice(self.options(ctx, answers))
        value = parse(text, ctx)
        parsers.remember_note(answers, self.key, value)  # "15:30 (not 03:30)" in the echo
        return value


@dataclass(frozen=True)
class Flow:
    name: str
    steps: tuple[Step, ...]
    summary: str  # template showing the answers before confirmation
    finish: Callable[[Ctx, dict[str, Any]], list[Reply]]  # writes the record
    values: Values | None = None  # extra values for prompts and the summary

    def step(self, key: str) -> Step:
        for step in self.steps:
            if step.key == key:
                return step
        raise KeyError(key)

    def pending(self, answers: dict[str, Any]) -> Step | None:
        for step in self.steps:
            if step.key not in answers and (step.when is None or step.when(answers)):
                return step
        return None

    def asked(self, answers: dict[str, Any]) -> list[Step]:
        return [s for s in self.steps if s.when is None or s.when(answers)]


_NOT_YET = object()  # an answer still to come, for counting the questions ahead


def _hold(ctx: Ctx, conv: Conversation, values: dict[str, Any] | None) -> None:
    """What `current` reads next in this transaction: the row just written (or none)."""
    ctx.session.info.setdefault(_HELD, {})[(conv.platform, conv.channel_id, conv.user_id)] = (
        values)


def _set(conv: Conversation, **values: Any) -> None:  # noqa: ANN401
    """Change the engine's copy of a conversation. The copy is never in a session (it is
    written with Core statements, `_save`), so the model's change tracking has nothing to do:
    the values go straight into it, as `bot.db.loaded` puts them (SQLModel's __setattr__ was
    a twentieth of a step, issue 22)."""
    conv.__dict__.update(values)


def _counted(flow: Flow, conv: Conversation) -> list[Step]:
    """The questions this conversation asks, for "(2/5)": not the answers given with the
    command, and a question that hangs on an answer still to come counted as if asked, so the
    total does not grow mid-way."""
    answers = conv.answers
    given = {key for key in answers if key not in conv.history}
    counted, hopeful = [], dict(answers)
    for step in flow.steps:
        if step.key not in given and (step.when is None or step.when(
                answers if step.key in answers else hopeful)):
            counted.append(step)
        hopeful.setdefault(step.key, _NOT_YET)  # the later questions may hang on this one
    return counted


class Engine:
    def __init__(self, registry: Registry) -> None:
        """The flows are the registry's, read at each use (a registry imports its domains'
        code on first use: bot.router.Registry.load)."""
        self.registry = registry

    @property
    def flows(self) -> Mapping[str, Flow]:
        return self.registry.flows

    # -- state -------------------------------------------------------------------------------

    def current(self, ctx: Ctx) -> Conversation | None:
        """The member's conversation in this channel, as a copy of its row (a new object at
        each call: what the caller changes is not written, nor seen by others). Never in a
        session, nor to be added to one: built as `fresh` builds it, without the identity a
        detached object carries (which cost twice the rest, issue 22)."""
        inbound = ctx.inbound
        key = (inbound.platform, inbound.channel, inbound.user)
        held = ctx.session.info.setdefault(_HELD, {})
        if key in held:
            return None if held[key] is None else fresh(Conversation, held[key])
        # Two quick answers from one person must not both advance the same step.
        # (SQLite: the transaction took the write lock at BEGIN; PostgreSQL: the row lock.)
        postgres = ctx.app.db.dialect == "postgresql"
        params = {"platform": key[0], "channel": key[1], "user": key[2]}
        rows = (_ROW_LOCKED if postgres else _ROW).rows(ctx.session.connection(), params)
        if not rows:
            held[key] = None
            return None
        values = rows[0]
        # (The identity key as SQLAlchemy documents it, `orm.util.identity_key`: class,
        # primary key, token; built here, as asking the session for it costs a mapper lookup.)
        if ctx.session.identity_map and (
                Conversation, (values["id"],), None) in ctx.session.identity_map:
            # Other code loaded this row into the session: that copy is brought up to date
            # and detached, as an ORM read with populate_existing does.
            conv = ctx.session.exec(_CURRENT_LOCKED if postgres else _CURRENT,
                                    params=params).one()
            ctx.session.expunge(conv)
        held[key] = values
        return fresh(Conversation, values)

    def _save(self, ctx: Ctx, conv: Conversation) -> None:
        """Write the conversation as it now stands: one INSERT for a new one, else one UPDATE
        of the fields a step changes. Run at once, so a later query in this transaction (an
        adapter's, a parser's `current`) sees it; rolled back with the rest on any error."""
        ctx.session.info["wrote"] = True  # a failure now says "rolled back" (bot/db.py)
        # On the session's connection: the same transaction, without the ORM's layer (which
        # a Core statement does not need, and cost a third of running it).
        connection = ctx.session.connection()
        # Every column is in the copy's __dict__ (`loaded`, `fresh`, `_set`), never expired
        # (never in a session): read there, without the instrumented attributes.
        values = conv.__dict__
        if values["id"] is None:
            row = {k: values[k] for k in _COLUMNS if k != "id"}
            _set(conv, id=_INSERT.rows(connection, row)[0]["id"])
        else:
            _UPDATE.run(connection, {"conv_id": values["id"], **{k: values[k] for k in _WRITTEN}})
        _hold(ctx, conv, {k: values[k] for k in _COLUMNS})

    def _drop(self, ctx: Ctx, conv: Conversation) -> None:
        """Delete the conversation's row (it ended, expired or was replaced)."""
        ctx.session.info["wrote"] = True
        _DELETE.run(ctx.session.connection(), {"conv_id": conv.id})
        _hold(ctx, conv, None)

    def expire_if_stale(self, ctx: Ctx, conv: Conversation) -> list[Reply]:
        if conv.expires_at > ctx.now:
            return []
        self._drop(ctx, conv)
        return [Reply("flow/expired", {"flow": conv.flow})]

    # -- starting ----------------------------------------------------------------------------

    def start(self, ctx: Ctx, name: str, prefill: dict[str, str] | None = None) -> list[Reply]:
        flow = self.flows[name]
        answers: dict[str, Any] = {}
        refused: list[Reply] = []  # a value that does not do is asked for in its turn
        for key, raw in (prefill or {}).items():
            step = field_named(ctx, flow, key)
            try:
                answers[step.key] = step.read(raw, ctx, answers)
            except InvalidAnswer as exc:
                refused.append(Reply(exc.template, {**exc.params, "field": key}))
        replies: list[Reply] = []
        conv = self.current(ctx)
        if conv is not None:
            if conv.expires_at > ctx.now:
                replies.append(Reply("flow/replaced", {"flow": conv.flow, "new": name}))
            self._drop(ctx, conv)
        # Never in a session (written by `_save`), as `current` builds a copy of a row.
        conv = fresh(Conversation, dict(
            id=None,
            platform=ctx.inbound.platform,
            channel_id=ctx.inbound.channel,
            user_id=ctx.inbound.user,
            thread_id=ctx.inbound.thread,
            flow=name,
            step="",
            answers=answers,
            history=[],  # answers given with the command are not steps to go back through
            context={},
            started_at=ctx.now,
            updated_at=ctx.now,
            expires_at=ctx.now + ctx.settings.conversation_timeout,
        ))
        replies.append(Reply("flow/started", {"flow": name}))
        replies.extend(refused)
        replies.extend(self._advance(ctx, flow, conv))
        return replies

    def resume(self, ctx: Ctx, conv: Conversation) -> list[Reply]:
        """An open draft, announced (after a restart) with its question asked again."""
        flow = self.flows.get(conv.flow)
        if flow is None:
            return []
        return [Reply("flow/resumed", {"flow": conv.flow}), *self._prompt(ctx, flow, conv)]

    # -- answering ---------------------------------------------------------------------------

    def answer(self, ctx: Ctx, conv: Conversation, text: str) -> list[Reply]:
        flow = self.flows.get(conv.flow)
        if flow is None:  # a flow removed by an upgrade
            self._drop(ctx, conv)
            return [Reply("flow/expired", {"flow": conv.flow})]
        text, token = tapped(text)
        if token is not None and token != step_token(conv):
            # A link of a question already answered: say so, ask the current one, change nothing.
            return [Reply("flow/already_answered"), *self._prompt(ctx, flow, conv)]
        answers = dict(conv.answers)
        text = self._numbered(ctx, flow, conv, text)
        word = word_of(text)
        _set(conv, updated_at=ctx.now, expires_at=ctx.now + ctx.settings.conversation_timeout)

        if word == "cancel":
            self._drop(ctx, conv)
            return [Reply("flow/cancelled", {"flow": conv.flow})]
        # From here on the conversation is kept (its expiry moved on) or dropped: every branch
        # ends in `_save` or `_drop`.
        if word == "status":
            return self._again(ctx, flow, conv, self._status(ctx, flow, conv))
        if word == "back":
            return self._back(ctx, flow, conv)

        if conv.step == CONFIRM:
            if word == "yes":
                replies = self._finish(ctx, flow, answers)
                self._drop(ctx, conv)
                return replies
            if word == "no":
                self._drop(ctx, conv)
                return [Reply("flow/cancelled", {"flow": conv.flow})]
            return self._again(ctx, flow, conv, Reply("flow/confirm_again"))

        step = flow.step(conv.step)
        if ctx.inbound.files and not step.files:
            return self._again(ctx, flow, conv, Reply("flow/file_not_here", {
                "names": [f.filename[:80] for f in ctx.inbound.files]}))
        if word == "skip":
            if not step.optional:
                return self._again(ctx, flow, conv, Reply("flow/required"))
            answers[step.key] = step.default(ctx, answers) if step.default else None
            _set(conv, context={})
            return self._accept(ctx, flow, conv, step, answers)

        if step.collect:
            return self._collect(ctx, flow, conv, step, answers, text, word)
        if word in ("yes", "no", "done") and not step.options(ctx, answers):
            # "confirm" at a free-text question is a slip, not the customer's contact
            return self._again(ctx, flow, conv, Reply("flow/command_word",
                                                      {"word": text.strip()}))

        try:
            answers[step.key] = step.read(text, ctx, answers)
        except InvalidAnswer as exc:
            return self._again(ctx, flow, conv, Reply(exc.template, exc.params))
        return self._accept(ctx, flow, conv, step, answers)

    def _again(self, ctx: Ctx, flow: Flow, conv: Conversation, *said: Reply) -> list[Reply]:
        """What was said, then the current question asked again; the conversation stays at
        its step (saved: its expiry moved on)."""
        self._save(ctx, conv)
        return [*said, *self._prompt(ctx, flow, conv)]

    def _numbered(self, ctx: Ctx, flow: Flow, conv: Conversation, text: str) -> str:
        """Where a platform shows numbered options instead of buttons, "2" means option 2."""
        word = unicodedata.normalize("NFKC", text).strip()
        if not word.isdigit():
            return text
        if conv.step == CONFIRM:
            options = ["yes", "cancel"]
        else:
            options = [c.value for c in flow.step(conv.step).options(ctx, conv.answers)]
        index = int(word) - 1
        return options[index] if 0 <= index < len(options) else text

    def _collect(self, ctx, flow, conv, step, answers, text, word) -> list[Reply]:  # noqa: ANN001
        items = list(conv.context.get("items", []))
        if word == "done":
            if not items and not step.optional:
                return self._again(ctx, flow, conv, Reply(step.empty))
            answers[step.key] = items
            _set(conv, context={})
            return self._accept(ctx, flow, conv, step, answers)
        new = []
        if step.files and ctx.inbound.files:
            # The files of the message, as the step's parser reads them: a list of items.
            try:
                new = list(step.read(text, ctx, answers))
            except InvalidAnswer as exc:
                self._save(ctx, conv)
                return [Reply(exc.template, exc.params)]
        for line in filter(None, (ln.strip() for ln in text.splitlines())):
            if step.files and ctx.inbound.files:
                break  # a comment sent with the files is not an item
            try:
                new.append(step.read(line, ctx, answers))
            except InvalidAnswer as exc:
                # Nothing of this message is kept when one line is wrong.
                self._save(ctx, conv)
                return [Reply(exc.template, {**exc.params, "line": line})]
        if len(items) + len(new) > step.max_items:
            self._save(ctx, conv)
            return [Reply("flow/too_many", {"limit": step.max_items})]
        _set(conv, context={"items": items + new})
        self._save(ctx, conv)
        return [Reply(step.collected, {"count": len(items) + len(new), "added": new})]

    def _finish(self, ctx: Ctx, flow: Flow, answers: dict[str, Any]) -> list[Reply]:
        """Save the record. When that fails for a reason the member cannot fix (a value the
        database refuses, a bug), the draft ends with an apology rather than failing again at
        every confirm; a database that is busy or away is worth a retry, so the draft stays."""
        try:
            with ctx.session.begin_nested():
                return flow.finish(ctx, answers)
        except (UserError, OperationalError):
            raise
        except Exception:
            log.exception("could not save a %s; the draft is dropped", flow.name)
            ctx.session.info.pop(_HELD, None)  # what `finish` wrote was rolled back
            return [Reply("flow/failed", {"flow": flow.name})]

    def _accept(self, ctx, flow, conv, step, answers) -> list[Reply]:  # noqa: ANN001
        _set(conv, answers=answers, history=[*conv.history, step.key])
        return self._advance(ctx, flow, conv)

    def _back(self, ctx: Ctx, flow: Flow, conv: Conversation) -> list[Reply]:
        history = list(conv.history)
        if not history:
            return self._again(ctx, flow, conv, Reply("flow/no_back"))
        key = history.pop()
        answers = {k: v for k, v in conv.answers.items() if k != key}
        kept = conv.answers.get(key) if flow.step(key).collect else None
        # Back to a list: its items stay, to add to or go on from with "done".
        context = {"items": list(kept)} if isinstance(kept, list) and kept else {}
        _set(conv, history=history, answers=answers, step=key, context=context)
        self._save(ctx, conv)
        said = [Reply(flow.step(key).kept, {"count": len(kept)})] if context else []
        return [*said, *self._prompt(ctx, flow, conv)]

    def _advance(self, ctx: Ctx, flow: Flow, conv: Conversation) -> list[Reply]:
        nxt = flow.pending(conv.answers)
        _set(conv, step=nxt.key if nxt else CONFIRM)
        self._save(ctx, conv)
        return self._prompt(ctx, flow, conv)

    # -- what the member sees -----------------------------------------------------------------

    def _values(self, ctx: Ctx, flow: Flow, conv: Conversation) -> dict[str, Any]:
        extra = flow.values(ctx, conv.answers) if flow.values else {}
        return {"answers": conv.answers, "flow": flow.name, **extra}

    def _prompt(self, ctx: Ctx, flow: Flow, conv: Conversation) -> list[Reply]:
        values = {**self._values(ctx, flow, conv), "step_token": step_token(conv)}
        if conv.step == CONFIRM:
            yes_no = [
                Choice("yes", "words.confirm", style="primary"),
                Choice("cancel", "words.cancel", style="danger"),
            ]
            return [Reply(flow.summary, values, choices=yes_no)]
        step = flow.step(conv.step)
        asked = _counted(flow, conv)
        position = next((i for i, s in enumerate(asked) if s.key == step.key), 0)
        values.update(
            step_no=position + 1,
            step_total=len(asked),
            optional=step.optional,
            collect=step.collect,
            collected=conv.context.get("items", []),
        )
        return [Reply(step.prompt, values, choices=step.options(ctx, conv.answers))]

    def _status(self, ctx: Ctx, flow: Flow, conv: Conversation) -> Reply:
        asked = _counted(flow, conv)  # as the questions' "(2/5)" counts them
        done = [s.key for s in asked if s.key in conv.answers]
        return Reply(
            "flow/status",
            {"flow": flow.name, "done": len(done), "total": len(asked), "answers": conv.answers},
        )
