"""A domain is one declared unit. A probe domain declared in this file (its package's code
here, its templates written by the test), and nothing edited anywhere else, is discovered from
the one list, shows in /help, adds a role and a channel purpose, validates its settings
section, adds a CLI command, and has its slash command checked against the manifest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import Field
from sqlmodel import select

import handlers
from bot import cli
from bot.config import Period, Section, env, load_settings
from bot.context import Ctx
from bot.core import Liaison
from bot.db import Database
from bot.domain import Domain
from bot.errors import ConfigError
from bot.messages import Inbound, Reply
from bot.render import Renderer
from bot.router import Args, Registry
from tests.support import TEST_TEMPLATES, Chat, settings
from tests.test_slack_manifest import unlisted_slash_commands

# -- the probe domain, as handlers/probe/ would declare it ----------------------------------------


class ProbeSettings(Section):
    every: Period = Field(timedelta(hours=1), validation_alias=env("LIAISON_PROBE_EVERY"))


def _cli(sub) -> None:  # noqa: ANN001
    ping = sub.add_parser("probe", help="the probe domain").add_subparsers(dest="probe_command")
    ping.add_parser("ping", help="say pong").set_defaults(run=_cli_ping)


def _cli_ping(settings, args) -> int:  # noqa: ANN001
    print(f"pong every {settings.probe.every}")
    return 0


PROBE = Domain("probe", slash="/probe", roles=("prober",), purposes={"probes": ("探针",)},
               settings=ProbeSettings, cli=_cli)
PROBE.family("probe", aliases=("探针",), label="probe.family")


@PROBE.command("probe", "ping", aliases=("测试",), roles=("prober", "admin"),
               usage="probe.cmd.ping")
def ping(ctx: Ctx, args: Args) -> Reply:
    return Reply("probe/pong", {"every": ctx.settings.probe.every})


TEMPLATES = {
    "zh": {
        "labels.yaml": 'family: 探针\ncmd:\n  ping: "/probe ping — 探一下(别名:探针 测试)"\n'
                       "roles:\n  prober: 探测员\npurposes:\n  probes: 探针频道\n",
        "pong.j2": "探到了,每 {{ duration(every) }} 一次。",
    },
    "en": {
        "labels.yaml": 'family: Probe\ncmd:\n  ping: "/probe ping — probe once"\n'
                       "roles:\n  prober: prober\npurposes:\n  probes: probe channel\n",
        "pong.j2": "Pong, every {{ duration(every) }}.",
    },
}


# -- the tests -------------------------------------------------------------------------------------


@pytest.fixture
def probe_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe added to the one list the core reads, as handlers/__init__.py would."""
    monkeypatch.setattr(handlers, "DOMAINS", [*handlers.DOMAINS, PROBE])


def _app(tmp_path: Path) -> Liaison:
    root = tmp_path / "probe_templates"
    for locale, files in TEMPLATES.items():
        (root / locale / "probe").mkdir(parents=True)
        for name, text in files.items():
            (root / locale / "probe" / name).write_text(text, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'liaison.db'}"
    db = Database(url)
    db.upgrade()
    registry = Registry()
    handlers.register_all(registry)
    return Liaison(settings(url), db, Renderer("zh", extra=[TEST_TEMPLATES, root]), registry)


def test_a_probe_domain_is_discovered_helps_grants_and_routes(probe_listed, tmp_path, clock):
    app = _app(tmp_path)
    admin, bob = Chat(app, "admin", channel="C-PROBE", direct=False), Chat(app, "bob")
    assert "/probe ping — 探一下" in admin("/help")
    assert "/probe ping" not in bob("/help")  # a role of its own
    assert "没有权限" in bob("/probe ping") and "探测员" in bob("/probe ping")
    assert "已授予 bob 探测员角色" in admin("/role grant @bob prober")
    assert "探到了,每 1小时 一次" in bob("探针 测试")
    assert "探针频道" in admin("/route 探针 here")
    assert "探针频道 → 控制台 C-PROBE" in admin("/route list")
    bob("/lang en")
    assert "Pong, every 1h." in bob("/probe ping")
    assert "Channel routes" in bob("/route list") and "probe channel" in bob("/route list")


def test_the_probe_settings_section_is_validated(probe_listed, monkeypatch):
    assert load_settings(_env_file=None).probe.every == timedelta(hours=1)
    monkeypatch.setenv("LIAISON_PROBE_EVERY", "2h")
    assert load_settings(_env_file=None).probe.every == timedelta(hours=2)
    monkeypatch.setenv("LIAISON_PROBE_EVERY", "0")
    with pytest.raises(ConfigError, match="^Setting LIAISON_PROBE_EVERY: must be longer"):
        load_settings(_env_file=None)
    monkeypatch.setenv("LIAISON_PROBE_EVERY", "soon")
    with pytest.raises(ConfigError, match="^Setting LIAISON_PROBE_EVERY: 'soon' is not a"):
        load_settings(_env_file=None)


def test_the_probe_adds_its_cli_command(probe_listed, monkeypatch, capsys):
    monkeypatch.setenv("LIAISON_PROBE_EVERY", "30m")
    assert cli.main(["probe", "ping"]) == 0
    assert capsys.readouterr().out == "pong every 0:30:00\n"


def test_the_probe_slash_command_is_checked_against_the_manifest(probe_listed):
    registry = Registry()
    handlers.register_all(registry)
    assert unlisted_slash_commands(registry) == ["/probe"]


def test_commands_are_module_level_functions():
    registry = Registry()
    handlers.register_all(registry)
    handlers_ = [c.handler for f in registry.families.values() for c in f.commands.values()]
    assert len(handlers_) > 50
    assert [h.__qualname__ for h in handlers_ if "<locals>" in h.__qualname__] == []


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_every_reminder_kind_and_record_has_a_name_in_remind_list(locale):
    """`/remind list` names each reminder by its kind and record type; a kind without a label
    would show the code name (`dispute.next`) to the user."""
    import yaml

    labels = yaml.safe_load((Path(handlers.__file__).parent.parent / "templates" / locale
                             / "reminders" / "labels.yaml").read_text(encoding="utf-8"))
    handlers.load_all()  # the kinds are declared by each domain's code
    kinds = {kind for domain in handlers.DOMAINS for kind in domain.kinds}
    assert len(kinds) > 20
    unnamed = sorted(k for k in kinds if k.replace(".", "_") not in labels["kinds"])
    assert unnamed == []
    records = {"complaint", "meeting", "action", "comm", "talking_point", "dispute", "press",
               "interview", "training", "glossary", "calendar", "survey"}
    assert sorted(records - set(labels["records"])) == []


def _probe_page(app, liaison, pages) -> None:  # noqa: ANN001
    @app.post("/probe-page/<word>")
    def echo(word: str) -> str:
        return f"probe page: {word}"


def test_a_domain_serves_its_own_web_pages_behind_slacks_guard(tmp_path, monkeypatch):
    """A domain's pages (Domain.web) are on when its `served` says so: the HTTP server then
    starts, the page answers in the one web app, and its form passes the guard of Slack's
    endpoint (it is not a Slack request) while an unsigned POST elsewhere is still refused."""
    from werkzeug.test import Client

    from bot.domain import WebPages
    from bot.web.server import wsgi_app

    web = WebPages("/probe-page/", lambda s: s.public_url.startswith("https://"), _probe_page)
    paged = Domain("probepages", web=web)
    monkeypatch.setattr(handlers, "DOMAINS", [*handlers.DOMAINS, paged])
    url = f"sqlite:///{tmp_path / 'liaison.db'}"
    assert not settings(url).web_enabled
    on = settings(url, public_url="https://liaison.example.com", slack_bot_token="xoxb-1",
                  slack_signing_secret="s3cret")
    assert on.web_enabled and on.web_served("probepages") == [web]
    db = Database(url)
    db.upgrade()
    registry = Registry()
    handlers.register_all(registry)
    app = Liaison(on, db, Renderer("zh", extra=[TEST_TEMPLATES]), registry)
    from slack_bolt import App

    bolt = App(token="xoxb-1", signing_secret="s3cret", token_verification_enabled=False)
    client = Client(wsgi_app(app, bolt=bolt, signing_secret="s3cret"))
    answer = client.post("/probe-page/hello")
    assert answer.status_code == 200 and answer.get_data(as_text=True) == "probe page: hello"
    assert client.post("/slack/events", data="{}").status_code in (401, 403)


PROBE_CODE = """
import lazy_probe_state as state
state.imports.append(__name__)
if __name__ == "lazy_probe_first":
    state.entered.set()
    state.release.wait(10)
domain = state.domains[__name__]


@domain.command(domain.name, None)
def main(ctx, args):
    return None
"""


@pytest.fixture
def forget_probes():
    """The probe modules a test imports are forgotten after it (sys.modules)."""
    import sys

    yield
    for name in [m for m in sys.modules if m.startswith("lazy_probe_")]:
        del sys.modules[name]


def test_a_registry_imports_its_domains_code_once_on_first_use_and_others_wait(
        tmp_path, monkeypatch, forget_probes):
    """Installing a domain imports none of its code; the first question asked of the registry
    imports every domain's, in order, once. A thread asking meanwhile (a second Slack request
    while the first one loads) waits for all of it: never "unknown command" from a registry
    half filled."""
    import sys
    import threading
    import types

    state = types.ModuleType("lazy_probe_state")
    state.imports, state.entered, state.release = [], threading.Event(), threading.Event()
    first = Domain("alpha", code="lazy_probe_first")
    second = Domain("beta", code="lazy_probe_second")
    first.family("alpha")
    second.family("beta")
    state.domains = {"lazy_probe_first": first, "lazy_probe_second": second}
    sys.modules["lazy_probe_state"] = state
    for name in state.domains:
        (tmp_path / f"{name}.py").write_text(PROBE_CODE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry()
    registry.install(first)
    registry.install(second)
    assert state.imports == [] and registry.slash_commands == ()

    loading = threading.Thread(target=registry.load)
    loading.start()
    assert state.entered.wait(10)  # the first domain's code is being imported
    found = []
    asking = threading.Thread(target=lambda: found.append(registry.lookup_family("beta")))
    asking.start()
    asking.join(0.5)
    waited = asking.is_alive()
    state.release.set()
    loading.join(10)
    asking.join(10)
    assert waited, "a question asked while loading was answered from a half-filled registry"
    assert [f.name for f in found] == ["beta"]
    assert state.imports == ["lazy_probe_first", "lazy_probe_second"]
    assert list(registry.families) == ["alpha", "beta"]
    registry.load()
    assert state.imports == ["lazy_probe_first", "lazy_probe_second"]  # not again


BROKEN_CODE = """
import lazy_probe_state as state
state.imports.append(__name__)
raise RuntimeError("a half-deployed module")
"""


def test_a_domain_whose_code_does_not_import_gets_an_apology_not_retried_and_doctor_names_it(
        db_url, tmp_path, monkeypatch, caplog, capsys, forget_probes):
    """A broken install shows: every message gets the apology and the log says which domain,
    once (the module is not imported again: its decorators would run twice); an apology queued
    for delivery (Slack's and DingTalk's way) goes out, while a due reminder goes back to the
    outbox until the next sweep, no attempt counted; `liaison doctor` fails naming it."""
    import sys
    import types

    from schedules import api
    from schedules.api import Target
    from schedules.models import Reminder
    from schedules.scheduler import ReminderScheduler
    from tests.support import recording_adapters, renderer_with_test_templates

    state = types.ModuleType("lazy_probe_state")
    state.imports = []
    sys.modules["lazy_probe_state"] = state
    (tmp_path / "lazy_probe_broken.py").write_text(BROKEN_CODE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    broken = Domain("broken", code="lazy_probe_broken")
    broken.family("broken")
    registry = Registry()
    handlers.register_all(registry)
    registry.install(broken)
    app = Liaison(settings(db_url), Database(db_url), renderer_with_test_templates(), registry)
    with app.db.session() as session:
        api.plan(session, key="k1", kind="meeting.agenda_due", due=datetime.now(UTC),
                 target=Target.member("console", "alice"), record_type="meeting",
                 record_id="M-1")
    adapters = recording_adapters()
    scheduler = ReminderScheduler(app, adapters)
    before = datetime.now(UTC)
    upcoming = scheduler._sweep_once()  # the sweep's job
    chat = Chat(app, "alice")
    first, second = chat.say("/help"), chat.say("/complaint list")
    queued = app.handle(Inbound(platform="console", channel="console", user="alice",
                                text="/help"), queue=True)
    after_queued = scheduler._sweep_once()

    apology = "抱歉,处理这条消息时出了问题"
    assert [o.message.text[:len(apology)] for o in first + second] == [apology, apology]
    assert queued == [] and [o.message.text[:len(apology)] for o in
                             adapters["console"].sent] == [apology]
    # Not again at once (0.25 s, as for a database away), but at the next sweep.
    assert upcoming >= before + app.settings.reminder_sweep
    assert state.imports == ["lazy_probe_broken"]  # once, not at each message
    assert [r.getMessage() for r in caplog.records if r.levelname == "CRITICAL"] == [
        "domain broken: its code (lazy_probe_broken) could not be imported: "
        "RuntimeError('a half-deployed module')"]
    with app.db.session() as session:
        row = session.exec(select(Reminder).where(Reminder.kind != api.OUTBOUND)).one()
    assert (row.status, row.attempts, row.last_error) == ("pending", 0, "domains_not_loaded")
    with app.db.session() as session:
        sent = session.exec(select(Reminder).where(Reminder.kind == api.OUTBOUND)).one()
    assert sent.status == "sent" and after_queued >= before + app.settings.reminder_sweep

    # The hourly housekeeping still forgets what the core keeps (the domains' purges wait).
    from bot.models import InboundEvent

    with app.db.session() as session:
        session.add(InboundEvent(platform="slack", event_id="old",
                                 received_at=before - timedelta(days=30)))
    app.purge(datetime.now(UTC))
    with app.db.session() as session:
        assert session.exec(select(InboundEvent)).all() == []

    monkeypatch.setattr(handlers, "DOMAINS", [*handlers.DOMAINS, broken])
    monkeypatch.setenv("DATABASE_URL", db_url)
    from bot import doctor

    assert doctor.main() == 1
    out = capsys.readouterr().out
    assert ("FAIL  domains: domain broken: its code (lazy_probe_broken) could not be imported: "
            "RuntimeError('a half-deployed module'); the bot would answer every message with an "
            "apology.") in out


FREE_CODE = """
import threading

import lazy_probe_state as state

got = []


def try_lock():
    got.append(state.lock.acquire(timeout=0.5))
    if got[0]:
        state.lock.release()


other = threading.Thread(target=try_lock)
other.start()
other.join()
state.free.append(got[0])
"""


def test_the_first_message_imports_the_code_with_no_write_lock_held(
        tmp_path, forget_probes):
    """On SQLite every write holds the process's lock, which Slack acks and the DingTalk inbox
    wait for: the first message imports the domains' code before its transaction."""
    import sys
    import types

    from tests.support import renderer_with_test_templates

    url = f"sqlite:///{tmp_path / 'free.db'}"
    from bot.db import upgrade

    upgrade(url)
    state = types.ModuleType("lazy_probe_state")
    state.free = []
    sys.modules["lazy_probe_state"] = state
    (tmp_path / "lazy_probe_free.py").write_text(FREE_CODE, encoding="utf-8")
    sys.path.insert(0, str(tmp_path))
    try:
        probe = Domain("free", code="lazy_probe_free")
        registry = Registry()
        handlers.register_all(registry)
        registry.install(probe)
        app = Liaison(settings(url), Database(url), renderer_with_test_templates(), registry)
        state.lock = app.db._sqlite_lock  # the process's SQLite write lock (Database.write_lock)
        Chat(app, "alice").say("/help")
    finally:
        sys.path.remove(str(tmp_path))
    assert state.free == [True]


CHANGING_CODE = """
import lazy_probe_state as state

state.domain.family("extra")  # belongs in the package's __init__.py
"""


def test_code_that_changes_its_domains_declaration_fails_however_it_was_imported(
        tmp_path, monkeypatch, capsys, sqlite_url, forget_probes):
    """A start reads families, slash commands, settings, web pages and jobs before the code:
    code that adds one fails its load, naming the domain, even when something imported it
    before (a migration imports every domain's code), and `liaison doctor` says so."""
    import importlib
    import sys
    import types

    from bot import doctor
    from bot.errors import DomainLoadError

    state = types.ModuleType("lazy_probe_state")
    sys.modules["lazy_probe_state"] = state
    (tmp_path / "lazy_probe_changing.py").write_text(CHANGING_CODE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    state.domain = changing = Domain("changing", code="lazy_probe_changing")
    changing.family("changing")
    monkeypatch.setattr(handlers, "DOMAINS", [*handlers.DOMAINS, changing])
    changing.seal()  # as handlers/__init__.py seals every domain it lists
    importlib.import_module("lazy_probe_changing")  # imported before the registry's load
    registry = Registry()
    registry.install(changing)
    with pytest.raises(DomainLoadError, match="domain changing: its code .* changes what its "
                                              "package's __init__.py declares"):
        registry.load()
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    assert doctor.main() == 1
    assert "FAIL  domains: domain changing: its code (lazy_probe_changing) changes" in (
        capsys.readouterr().out)


def test_what_waits_for_the_domains_code_runs_once_it_is_in():
    """`liaison run` freezes what start-up made for the garbage collector, and again once the
    domains' code is in (Registry.after_load): their objects stay as long as the process."""
    probe = Domain("later")
    probe.family("later")
    registry = Registry()
    registry.install(probe)
    ran: list[int] = []
    registry.after_load(lambda: ran.append(len(registry._families)))
    assert ran == []
    registry.lookup_family("later")
    registry.load()
    assert ran == [1]
    registry.after_load(lambda: ran.append(0))  # once in, at once
    assert ran == [1, 0]
