"""What a start loads (issue 22: ready in under 500 ms): a Slack-HTTP bot whose schema is
current is ready, port bound, without importing Alembic or Flask. The web app (Flask) is built
with the first request that needs it, once, however many of the server's threads bring one at
the same moment, and then answers as before. With the dashboard on, it is built at start. The
domains' code (their commands, flows, kinds and tables) is imported by the first message, not
by the start: bot.router.Registry.load."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from bot.db import upgrade

CHILD = textwrap.dedent("""
    import sys, threading
    import bot.cli  # what the `liaison` script imports first
    from bot.config import Settings
    from bot.runtime import build
    from bot.adapters.slack import SlackAdapter
    web = dict(dashboard=True, web_secret="s" * 16, public_url="https://liaison.example.com")
    settings = Settings(_env_file=None, database_url=sys.argv[1], slack_bot_token="xoxb-t",
                        slack_signing_secret="s", slack_api_url="http://127.0.0.1:9/api/",
                        **(web if sys.argv[2] == "dashboard" else {}))
    import bot.web.server

    class Watched:  # the web app's build lock, counting the requests that come to it

        def __init__(self):
            self.lock, self.came, self.changed = threading.Lock(), 0, threading.Condition()

        def __enter__(self):
            with self.changed:
                self.came += 1
                self.changed.notify_all()
            self.lock.acquire()

        def __exit__(self, *exc):
            self.lock.release()

    watched = Watched()
    made = bot.web.server._FirstUse.__init__

    def watching(self, build):
        made(self, build)
        self._lock = watched

    bot.web.server._FirstUse.__init__ = watching
    app = build(settings)
    adapter = SlackAdapter(app, settings, host="127.0.0.1")
    adapter.port = 0
    adapter.listen()
    print("ready:", "alembic" in sys.modules, "flask" in sys.modules)
    print("loaded:", sorted(m for m in ("difflib", "getpass") if m in sys.modules))
    if sys.argv[2] == "dashboard":
        sys.exit()

    built = []
    real = bot.web.server._flask

    def counted(*args):
        # The first build (Flask imported here, in a server thread) waits until the other
        # three requests have come to the lock: they arrive during it and must wait for it.
        built.append(1)
        with watched.changed:
            watched.changed.wait_for(lambda: watched.came >= 4, timeout=20)
        return real(*args)

    bot.web.server._flask = counted
    threading.Thread(target=adapter._server.run, daemon=True).start()
    port = adapter._server.effective_port
    answers = []

    def get(path):
        import urllib.request
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
            answers.append(r.status)
            return r.read()

    threads = [threading.Thread(target=get, args=("/healthz",)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("healthz:", answers, "built:", len(built), get("/healthz"))
    adapter.stop()
""")


def test_a_ready_slack_http_bot_has_loaded_neither_alembic_nor_flask(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'start.db'}"
    upgrade(url)
    lines = _start(url, "plain")
    assert lines[0] == "ready: False False"
    # Nor what only a mistyped command (difflib) or the console (getpass) needs.
    assert lines[1] == "loaded: []"
    assert lines[2] == "healthz: [200, 200, 200, 200, 200] built: 1 b'ok\\n'"


def test_with_the_dashboard_on_flask_is_built_at_start(tmp_path: Path) -> None:
    """Pages people visit are built before the first visitor: a fault in them shows at start."""
    url = f"sqlite:///{tmp_path / 'start.db'}"
    upgrade(url)
    assert _start(url, "dashboard")[0] == "ready: False True"


# A bot started as `liaison run` starts one in Slack's HTTP mode, reminder scheduler included;
# then the first message.
LAZY_CHILD = textwrap.dedent("""
    import sys
    import bot.cli
    import handlers
    from bot.config import Settings
    from bot.messages import Inbound
    from bot.runtime import build
    from bot.adapters.slack import SlackAdapter
    from schedules.scheduler import ReminderScheduler

    def code():
        return sorted(d.name for d in handlers.DOMAINS if d.code and d.code in sys.modules)

    settings = Settings(_env_file=None, database_url=sys.argv[1], slack_bot_token="xoxb-t",
                        slack_signing_secret="s", slack_api_url="http://127.0.0.1:9/api/")
    app = build(settings)
    adapter = SlackAdapter(app, settings, host="127.0.0.1")
    adapter.port = 0
    adapter.listen()
    scheduler = ReminderScheduler(app, {"slack": adapter})
    scheduler.start()
    print("ready, domains' code:", code())
    print("slash commands:", " ".join(app.registry.slash_commands))
    print("surveys job:", sorted(scheduler.jobs))
    scheduler.stop()
    answers = app.handle(Inbound(platform="console", channel="C1", user="U1",
                                 text="/complaint list"))
    print("first message:", answers[0].message.text.splitlines()[0])
    print("then, domains' code:", len(code()), "of", len(handlers.DOMAINS))
""")


def test_a_start_imports_no_domains_code_and_the_first_message_imports_it(tmp_path):
    """A start reads each domain's declaration (slash command, families, settings, job names)
    and imports none of its code: the first message does, and is answered as ever."""
    url = f"sqlite:///{tmp_path / 'start.db'}"
    upgrade(url)
    done = subprocess.run([sys.executable, "-c", LAZY_CHILD, url], capture_output=True,
                          text=True, timeout=120, cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "ready, domains' code: []"
    assert "/complaint" in lines[1].split() and "/liaison" in lines[1].split()
    assert lines[2] == "surveys job: ['surveys.mail']"
    assert lines[3] == "first message: 投诉 · 未结(0)"  # the complaints list, empty
    assert lines[4] == "then, domains' code: 18 of 18"


def _start(url: str, mode: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", CHILD, url, mode], capture_output=True,
                          text=True, timeout=120, cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_a_dotenv_file_is_read_once_for_the_settings_and_every_section(tmp_path, monkeypatch):
    """Each domain's section used to read and parse `.env` again, and compare each of its
    lines with each of its fields: 12 readings, ~80 ms of a start with the example's values.
    Now the core settings' reading serves every section, with the same values and errors."""
    from datetime import timedelta

    import pytest
    from pydantic_settings.sources.providers import dotenv as source

    from bot.config import load_settings
    from bot.errors import ConfigError

    read = []
    real = source.dotenv_values

    def counted(*args, **kwargs):
        read.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(source, "dotenv_values", counted)
    for name in ("LIAISON_COMPLAINT_SLA", "LIAISON_TP_REVIEW", "LIAISON_HTTP_PORT"):
        monkeypatch.delenv(name, raising=False)
    env = tmp_path / ".env"
    env.write_text("LIAISON_HTTP_PORT=3111\nLIAISON_COMPLAINT_SLA=7h\nLIAISON_TP_REVIEW=30d\n"
                   "SOMETHING_ELSE=1\n", encoding="utf-8")
    settings = load_settings(_env_file=env)
    assert len(read) == 1
    assert settings.http_port == 3111
    assert settings.complaints.sla == timedelta(hours=7)
    assert settings.talking_points.review == timedelta(days=30)
    monkeypatch.setenv("LIAISON_COMPLAINT_SLA", "5h")  # the environment still wins
    assert load_settings(_env_file=env).complaints.sla == timedelta(hours=5)
    monkeypatch.delenv("LIAISON_COMPLAINT_SLA")
    env.write_text("LIAISON_COMPLAINT_SLA=soon\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="^Setting LIAISON_COMPLAINT_SLA: 'soon' is not a"):
        load_settings(_env_file=env)


def test_a_dotenv_file_that_is_not_utf8_is_named_in_a_clear_error(tmp_path, monkeypatch):
    """Saved in another encoding (a GBK editor, say), `.env` stopped the start with a
    UnicodeDecodeError's traceback; it is a configuration error that names the file."""
    import pytest

    from bot.config import load_settings
    from bot.errors import ConfigError

    monkeypatch.delenv("LIAISON_TIMEZONE", raising=False)
    env = tmp_path / ".env"
    env.write_bytes("LIAISON_TIMEZONE=亚洲/上海\n".encode("gbk"))
    with pytest.raises(ConfigError, match=r"^The settings file .*\.env is not UTF-8 text"):
        load_settings(_env_file=env)
