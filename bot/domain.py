"""A domain is one declared unit: a package under handlers/ exposing one `Domain` object.

The object declares everything the core needs to know about the domain: its command families and
commands (module-level functions), flows, reminder kinds, digest providers, background jobs, the
roles and channel purposes it adds, its settings section, its CLI sub-commands, its Slack
slash command and any web pages it serves. The core installs every domain listed in
`handlers.DOMAINS` into the registry and derives from it `/help`, the roles of `/role`, the
purposes of `/route`, the CLI, the validation of settings, the web pages served, and the
manifest check. Adding a domain touches its own package, its templates and
that one list.

The declaration comes in two parts, so that a start imports only what it uses. The package's
`__init__.py` makes the object with what is known before any message (its name, slash command,
roles, purposes, settings section, families, web pages and job names), importing nothing heavier
than its settings; `code` names the module whose import declares the rest on the same object
(commands, flows, reminder kinds, digests, purges, CLI). The registry imports every domain's
`code` the first time any of that is asked for (the first message, the first due reminder,
`/help`), not at start: bot.router.Registry.load.

    # handlers/visits/__init__.py
    DOMAIN = Domain("visits", slash="/visit", purposes={"visits": ("拜访",)},
                    code="handlers.visits.commands")
    DOMAIN.family("visit", aliases=("拜访",), label="visits.family")

    # handlers/visits/commands.py
    from handlers.visits import DOMAIN

    @DOMAIN.command("visit", "new", aliases=("新建",), usage="visits.cmd.new")
    def new(ctx: Ctx, args: Args) -> Reply: ...
"""

from __future__ import annotations

import argparse
import importlib
import os
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.errors import DomainLoadError, UserError
from bot.messages import Audience, Reply
from bot.router import DigestProvider, Handler, ReminderRenderer, ReminderSent

if TYPE_CHECKING:
    from bot.config import Section
    from bot.context import Ctx
    from bot.conversation import Flow
    from bot.router import Registry

# (the `liaison` sub-parsers) -> None. Each parser it adds sets `run`, a function
# (settings, parsed arguments) -> exit status, with `parser.set_defaults(run=...)`.
CliSetup = Callable[["argparse._SubParsersAction[Any]"], None]
# (session, now, settings) -> None: forget what the domain kept for a draft that was never
# saved (run with the core's daily purge, in its transaction).
Purge = Callable[[Any, Any, Any], None]
# (app) -> None: background work of the domain outside the chat (an outbox of its own, such
# as survey e-mails). The reminder scheduler runs it every LIAISON_REMINDER_SWEEP and at once
# after a commit that asked for it (schedules.api.run_job_after_commit); it must be safe to
# run in several processes at once (claim rows, do not assume to be alone).
Job = Callable[[Any], None]


@dataclass(frozen=True)
class WebPages:
    """Pages a domain serves in the bot's own web app (bot/web/app.py), under `prefix` (such
    as "/s/"): `install(flask_app, liaison, pages)` adds the routes, when `served(settings)`
    says they are on. Any domain's pages being on starts the HTTP server even without Slack's
    HTTP mode, and their prefix is let through the guard of Slack's endpoint (its forms are
    not Slack's and are not signed by Slack)."""

    prefix: str
    served: Callable[[Any], bool]  # (settings) -> bool
    install: Callable[[Any, Any, Any], None]  # (flask app, liaison, bot.web.app.Pages)


@dataclass
class Domain:
    name: str  # the package, its template folder and its settings section: settings.<name>
    # Its Slack slash command, e.g. "/complaint", which opens the domain's first family; ""
    # when it has none. With `app_command`, the command that reaches every other family too
    # (`/liaison lang en`).
    slash: str = ""
    app_command: bool = False
    roles: tuple[str, ...] = ()  # grantable roles it adds (`/role grant @x <role>`)
    purposes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # purpose -> aliases
    settings: type[Section] | None = None
    cli: CliSetup | None = None
    # Wiring that needs the finished registry (the digest kind reads every domain's providers).
    install: Callable[[Registry], None] | None = None
    families: list[tuple[str, tuple[str, ...], str]] = field(default_factory=list)
    commands: list[tuple[str, str | None, Handler, dict[str, Any]]] = field(default_factory=list)
    flows: list[Flow] = field(default_factory=list)
    kinds: dict[str, tuple[ReminderRenderer, ReminderSent | None]] = field(default_factory=dict)
    digests: list[DigestProvider] = field(default_factory=list)
    purges: list[Purge] = field(default_factory=list)
    jobs: dict[str, Job] = field(default_factory=dict)  # "surveys.mail" -> run(app)
    web: WebPages | None = None  # pages it serves in the bot's web app, if any
    # The module that declares the rest (commands, flows, kinds, ...), imported by `load`;
    # "" when everything is declared already (a domain made in one module, as in tests).
    code: str = ""
    # The declaration as its package made it (`seal`), which its code may not change.
    _sealed: tuple[Any, ...] | None = field(default=None, init=False, repr=False, compare=False)

    def family(self, name: str, aliases: Iterable[str] = (), label: str = "") -> None:
        self.families.append((name, tuple(aliases), label))

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
            self.commands.append((family, name, handler, {
                "aliases": tuple(aliases), "roles": tuple(roles), "usage": usage}))
            return handler

        return decorate

    def flow(self, flow: Flow) -> Flow:
        self.flows.append(flow)
        return flow

    def reminder_kind(
        self, kind: str, on_sent: ReminderSent | None = None
    ) -> Callable[[ReminderRenderer], ReminderRenderer]:
        """`render` (the decorated function) only reads; `on_sent` runs once, when the
        reminder is marked sent (see bot.router.ReminderKind)."""

        def decorate(render: ReminderRenderer) -> ReminderRenderer:
            self.kinds[kind] = (render, on_sent)
            return render

        return decorate

    def digest(self, provider: DigestProvider) -> DigestProvider:
        self.digests.append(provider)
        return provider

    def purge(self, forget: Purge) -> Purge:
        self.purges.append(forget)
        return forget

    def job(self, name: str) -> Callable[[Job], Job]:
        """A background job (see `Job`), named `<domain>.<what>`."""

        def decorate(run: Job) -> Job:
            self.jobs[name] = run
            return run

        return decorate

    def declaration(self) -> tuple[Any, ...]:
        """What the package's __init__.py declares, which a start reads before `load`."""
        return (self.slash, self.app_command, self.roles, dict(self.purposes), self.settings,
                self.web, tuple(self.families), tuple(self.jobs.items()))

    def seal(self) -> None:
        """Take note of the declaration (handlers/__init__.py does, before any domain's code
        is imported): a start reads it before the code, which must not change it."""
        if self._sealed is None:
            self._sealed = self.declaration()

    def load(self) -> None:
        """Import the module that declares the domain's commands, flows and kinds (`code`),
        once: its decorators fill this object in. DomainLoadError, naming the domain and the
        file that failed, when the import raises or changes the declaration."""
        if not self.code:
            return
        self.seal()
        try:
            importlib.import_module(self.code)
        except Exception as exc:  # whatever the import raised, with where
            raise DomainLoadError(f"domain {self.name}: its code ({self.code}) could not be "
                                  f"imported: {exc!r}{_where(exc)}") from exc
        if self.declaration() != self._sealed:
            raise DomainLoadError(
                f"domain {self.name}: its code ({self.code}) changes what its package's "
                "__init__.py declares (slash command, roles, purposes, families, settings, web "
                "pages, jobs), which a start reads before the code: declare it there")

    def install_into(self, registry: Registry) -> None:
        """Register what the domain declared (after `load`) in the registry's tables."""
        for name, aliases, label in self.families:
            registry.family(name, aliases, label=label)
        for family, name, handler, options in self.commands:
            registry.command(family, name, **options)(handler)
        for flow in self.flows:
            registry.flow(flow)
        for kind, (render, on_sent) in self.kinds.items():
            registry.reminder_kind(kind, on_sent=on_sent)(render)
        for provider in self.digests:
            registry.digest(provider)
        if self.install is not None:
            self.install(registry)


def _where(exc: BaseException) -> str:
    """The last line of a domain's code the error went through (another domain's, when one
    imports the other), for the operator: ` (handlers/glossary/commands.py, line 12)`."""
    inner = [f for f in traceback.extract_tb(exc.__traceback__)
             if f"{os.sep}handlers{os.sep}" in f.filename]
    if not inner:
        return ""
    path = inner[-1].filename
    return f" ({path[path.rindex(f'{os.sep}handlers{os.sep}') + 1:]}, line {inner[-1].lineno})"


def family_menu(ctx: Ctx, family_name: str, word: str | None) -> Reply:
    """What a family's own command says when it is not given a record id: its commands this
    member may use, or, after a word it does not know, the closest of them."""
    registry = ctx.app.registry
    family = registry.families[family_name]
    if word:
        raise UserError("errors/unknown_subcommand", word=f"{family_name} {word}",
                        family=family_name, suggestions=registry.suggest_sub(family, word))
    commands = [c.usage_key for c in family.commands.values() if c.allowed(ctx.roles)]
    return Reply("help/family", {"family": family.label_key, "aliases": list(family.aliases),
                                 "help_topic": family.name, "commands": commands,
                                 "command_aliases": {c.usage_key: list(c.aliases)
                                                     for c in family.commands.values()}},
                 audience=Audience.USER)
