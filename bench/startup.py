"""Start-up: the time from spawning the process to ready (HTTP port bound, reminder scheduler
started, schema checked) and the resident memory then, for Liaison in Slack HTTP mode beside
a bare slack-bolt app served by waitress. Runs alternate, in the same command; also says
whether Alembic was imported (it need not be when the schema is current). A third row imports
only the libraries a ready Liaison has loaded (no module of its own, nothing built): the floor
that lazy imports in Liaison's code cannot go under. A fourth row starts Liaison as the first
does but with no domain (no package of handlers/ imported, an empty registry): what the domains
cost a start, the most that loading them on first use could save. `--stages` prints, for one
start, the CPU time and RSS after each step (imports, settings, build, adapter, scheduler).
`--dotenv` has the Liaison starts read a `.env` file that is a copy of `.env.example`
(as the README's Slack set-up makes it, `Copy .env.example to .env`) instead of none.

The domains' code is imported on first use (bot.router.Registry.load), so after the table one
more start says what comes after ready: the RSS once the start-up sweep and jobs have run (the
start left idle for --idle seconds, nothing due) and which domains' code they imported; then
the import of every domain's code, timed alone, as the first message or the first due reminder
does it, and the RSS after it; then the first command (`help`, through the core, as a platform
adapter hands it over: its first transaction and templates) and a second.

The project's modules are byte-compiled first, as `pip install` does in the image (the
Dockerfile), so that each run measures a start, not compiling 200 modules from source: the
children run with PYTHONDONTWRITEBYTECODE=1 (as the image does), which otherwise leaves a
development tree without .pyc files (about 0.7 s of CPU per start). `--source` skips that.

    .venv/bin/python bench/startup.py [--runs 5] [--stages] [--dotenv]
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401
from _common import ROOT

LIAISON = r"""
import sys, time
sys.path.insert(0, {root!r})
import bot.cli  # what the `liaison` script imports before bot.cli.entry runs
import gc; gc.disable()  # as bot.cli.entry does for `liaison run`, until the bot is ready
from bot.config import Settings
from bot.runtime import build
from bot.adapters.slack import SlackAdapter
settings = Settings(_env_file={env_file!r}, database_url={url!r}, slack_bot_token="xoxb-bench",
                    slack_signing_secret="s", slack_api_url="http://127.0.0.1:9/api/")
app = build(settings)
adapter = SlackAdapter(app, settings, host="127.0.0.1")
adapter.port = 0
adapter.listen()
from schedules.scheduler import ReminderScheduler
scheduler = ReminderScheduler(app, {{"slack": adapter}})
scheduler.start()
gc.freeze(); gc.enable()  # as bot.runtime.serve does once the bot is ready
"""

# Liaison as above, but with no domain: the settings and the registry without handlers/.
NO_DOMAINS = r"""
import sys, time
sys.path.insert(0, {root!r})
import bot.cli
import gc; gc.disable()
from bot.config import Settings
from bot.core import Liaison
from bot.db import Database
from bot.router import Registry
from bot.adapters.slack import SlackAdapter
settings = Settings(domains=[], _env_file={env_file!r}, database_url={url!r},
                    slack_bot_token="xoxb-bench", slack_signing_secret="s",
                    slack_api_url="http://127.0.0.1:9/api/")
db = Database(settings.database_url)
db.upgrade()
app = Liaison(settings, db, registry=Registry())
adapter = SlackAdapter(app, settings, host="127.0.0.1")
adapter.port = 0
adapter.listen()
from schedules.scheduler import ReminderScheduler
scheduler = ReminderScheduler(app, {{"slack": adapter}})
scheduler.start()
gc.freeze(); gc.enable()
assert "handlers" not in sys.modules
"""

# One Liaison start, step by step: the CPU time and RSS after each (printed before READY).
STAGES = r"""
import sys, time, resource
sys.path.insert(0, {root!r})
def mark(step, last=[0.0, 0.0]):
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (used.ru_utime + used.ru_stime) * 1000
    rss = next(int(line.split()[1]) for line in open("/proc/self/status")
               if line.startswith("VmRSS")) / 1024
    print(f"STAGE {{step:<44}} {{cpu:7.0f}} {{cpu - last[0]:7.0f}} "
          f"{{rss:7.1f}} {{rss - last[1]:6.1f}}")
    last[:] = [cpu, rss]
mark("interpreter")
import bot.cli; mark("import bot.cli")
import gc; gc.disable()
from bot.config import Settings; mark("import bot.config (pydantic-settings)")
import sqlalchemy.orm, sqlmodel; mark("import sqlmodel, sqlalchemy.orm")
import bot.models, schedules.models; mark("import bot.models, schedules.models")
import bot.core; mark("import bot.core (jinja2, the engine, ...)")
import handlers; mark("import handlers (every domain's declaration)")
from bot.runtime import build; mark("import bot.runtime")
settings = Settings(_env_file={env_file!r}, database_url={url!r}, slack_bot_token="xoxb-bench",
                    slack_signing_secret="s", slack_api_url="http://127.0.0.1:9/api/")
mark("Settings(...)")
from bot.adapters.slack import SlackAdapter; mark("import bot.adapters.slack (slack-bolt)")
app = build(settings); mark("build (schema check, registry, renderer)")
adapter = SlackAdapter(app, settings, host="127.0.0.1"); mark("SlackAdapter(...)")
adapter.port = 0
adapter.listen(); mark("listen (waitress, the web app)")
from schedules.scheduler import ReminderScheduler; mark("import schedules.scheduler")
scheduler = ReminderScheduler(app, {{"slack": adapter}})
scheduler.start(); mark("ReminderScheduler(...).start()")
gc.freeze(); gc.enable()
"""

BARE = r"""
import logging
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from waitress import create_server
app = App(client=WebClient(token="xoxb-bench", base_url="http://127.0.0.1:9/api/"),
          signing_secret="s", process_before_response=True,
          authorize=lambda enterprise_id, team_id: AuthorizeResult(
              enterprise_id=enterprise_id, team_id=team_id, bot_token="xoxb-bench"))
@app.command("/liaison")
def only_ack(ack):
    ack()
server = create_server(SlackRequestHandler(app), host="127.0.0.1", port=0, threads=8)
"""

# The floor under Liaison's own code: only the libraries a ready Slack-HTTP Liaison has imported
# (the same gc pause), none of its modules, nothing built.
LIBRARIES = r"""
import gc; gc.disable()
import pydantic_settings, sqlmodel, sqlalchemy.orm, sqlalchemy.dialects.sqlite, jinja2
import apscheduler.schedulers.background, apscheduler.triggers.cron, apscheduler.triggers.interval
import slack_bolt, slack_sdk, waitress.server, zoneinfo
from slack_bolt.adapter.wsgi import SlackRequestHandler
"""

# After READY (a Liaison start above): idle, then the first command and a second.
AFTER = r"""
import time
from bot.messages import Inbound
def domains_loaded():
    import handlers
    return [d.name for d in handlers.DOMAINS
            if d.code and d.code in sys.modules]
def rss_mb():
    return next(int(line.split()[1]) for line in open("/proc/self/status")
                if line.startswith("VmRSS")) / 1024
time.sleep({idle})
print("IDLE", rss_mb(), ",".join(domains_loaded()) or "-", flush=True)
began = time.perf_counter()
app.registry.load()
print("LOAD", (time.perf_counter() - began) * 1000, rss_mb(), len(domains_loaded()), flush=True)
for label in ("FIRST", "SECOND"):
    began = time.perf_counter()
    app.handle(Inbound(platform="console", channel="C1", user="U1", text="help"))
    print(label, (time.perf_counter() - began) * 1000, rss_mb(), len(domains_loaded()),
          flush=True)
"""

REPORT = r"""
rss = next(int(line.split()[1]) for line in open("/proc/self/status")
           if line.startswith("VmRSS"))
print("READY", rss, "alembic" in sys.modules, flush=True)
"""


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def stages(code: str) -> list[str]:
    """One start of `code`, its STAGE lines (step, CPU ms, its share, RSS MB, its share)."""
    proc = subprocess.run([sys.executable, "-c", "import sys\n" + code + REPORT],
                          capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert proc.returncode == 0, proc.stderr
    return [line.removeprefix("STAGE ") for line in proc.stdout.splitlines()
            if line.startswith("STAGE ")]


def once(code: str) -> tuple[float, float, bool, float]:
    """Wall time to ready, RSS then (MB), whether Alembic was imported, and the child's CPU
    time to ready (user + system: less at the mercy of other processes on a shared machine
    than the wall clock; read when it exits, killed right after saying it is ready)."""
    cpu = _cpu()
    began = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", "import sys\n" + code + REPORT],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    line = proc.stdout.readline()
    took = time.perf_counter() - began
    proc.kill()
    proc.wait()
    parts = line.split()
    assert parts and parts[0] == "READY", line
    return took, int(parts[1]) / 1024, parts[2] == "True", _cpu() - cpu


def after(code: str, idle: float) -> dict[str, list[str]]:
    """One start of `code` + AFTER: its IDLE, LOAD, FIRST and SECOND lines, by their first
    word."""
    script = "import sys\n" + code + REPORT + AFTER.replace("{idle}", repr(idle))
    proc = subprocess.run([sys.executable, "-c", script],
                          capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert proc.returncode == 0, proc.stderr
    return {line.split()[0]: line.split()[1:] for line in proc.stdout.splitlines()
            if line.split()[:1] in (["IDLE"], ["LOAD"], ["FIRST"], ["SECOND"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--source", action="store_true",
                        help="do not byte-compile the project first (a tree without .pyc)")
    parser.add_argument("--dotenv", action="store_true",
                        help="the Liaison starts read a .env of the values .env.example sets")
    parser.add_argument("--idle", type=float, default=2.0,
                        help="seconds a start is left idle before its RSS is read again")
    parser.add_argument("--stages", action="store_true",
                        help="also print the CPU time and RSS after each step of one start")
    args = parser.parse_args()
    if not args.source:
        for package in ("bot", "handlers", "schedules"):
            compileall.compile_dir(ROOT / package, quiet=1)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'startup.db'}"
        from bot.db import upgrade

        upgrade(url)  # the schema is current, as on every start but the first
        env_file = None
        if args.dotenv:
            env_file = str(Path(tmp) / ".env")  # a copy of the example, as the README makes
            shutil.copyfile(ROOT / ".env.example", env_file)
        given = {"root": str(ROOT), "url": url, "env_file": env_file}
        liaison_code = LIAISON.format(**given)
        no_domains = NO_DOMAINS.format(**given)
        names = ("liaison", "bare", "libraries", "no_domains")
        times: dict[str, list[float]] = {name: [] for name in names}
        rss: dict[str, list[float]] = {name: [] for name in names}
        cpu: dict[str, list[float]] = {name: [] for name in names}
        alembic = False
        once(liaison_code)
        once(BARE)  # warm the page cache
        for _ in range(args.runs):
            for name, code in (("liaison", liaison_code), ("bare", BARE), ("libraries", LIBRARIES),
                               ("no_domains", no_domains)):
                took, mb, imported, used = once(code)
                times[name].append(took)
                cpu[name].append(used)
                rss[name].append(mb)
                alembic |= imported and name == "liaison"
        steps = stages(STAGES.format(**given)) if args.stages else []
        later = after(liaison_code, args.idle)
    print(f"{'':<34} {'ready ms':>9} {'CPU ms':>8} {'RSS MB':>8}")
    for name, label in (("liaison", "Liaison (Slack HTTP + scheduler)"),
                        ("bare", "bare Bolt + waitress"),
                        ("libraries", "its libraries, imported only"),
                        ("no_domains", "Liaison without its domains")):
        print(f"{label:<34} {statistics.median(times[name]) * 1000:>9.0f} "
              f"{statistics.median(cpu[name]) * 1000:>8.0f} {statistics.median(rss[name]):>8.1f}")
    ratio = statistics.median(times["liaison"]) / statistics.median(times["bare"])
    print(f"Liaison / bare: start-up x{ratio:.2f}; goal: ready < 500 ms, RSS < 70 MB; "
          f"Alembic imported with the schema current: {alembic}")
    idle_mb, idle_domains = float(later["IDLE"][0]), later["IDLE"][1]
    print(f"the same start {args.idle:g} s after ready (its start-up sweep and jobs run, with "
          f"nothing due): RSS {idle_mb:.1f} MB; domains whose code they imported: "
          f"{idle_domains}")
    took, mb, loaded = later["LOAD"]
    print(f"then every domain's code imported (Registry.load, as the first message or the first "
          f"due reminder does): {float(took):.0f} ms, RSS after {float(mb):.1f} MB, "
          f"domains' code imported: {loaded}")
    for label, name in (("FIRST", "first"), ("SECOND", "second")):
        took, mb, loaded = later[label]
        print(f"then its {name} command (`help`, through the core): {float(took):.2f} ms, "
              f"RSS after {float(mb):.1f} MB")
    if steps:
        print(f"{'one start, after each step':<44} {'CPU ms':>7} {'+':>7} {'RSS MB':>7} {'+':>6}")
        print("\n".join(steps))
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
