"""The command line as a newcomer meets it: scripts, --help, --version, bad settings, and a
non-editable install that still finds its templates and migrations."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import liaison

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LIAISON_", "SLACK_", "DINGTALK_", "DATABASE_URL"))}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "HOME": str(tmp_path)})
    env.update(extra)
    return env


def _db(tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "HOME": str(tmp_path)}


def _liaison(tmp_path: Path, *args: str, stdin: str = "", **env: str):  # noqa: ANN202
    return subprocess.run(
        [str(BIN / "liaison"), *args], input=stdin, capture_output=True, text=True,
        env=_env(tmp_path, **env), cwd=tmp_path, timeout=120,
    )


def test_console_reads_lines_from_a_pipe_and_answers_each(tmp_path: Path) -> None:
    done = _liaison(tmp_path, "console", "--user", "alice", stdin="/help\n/lang en\n/help\n")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.index("Liaison 可用命令") < out.index("Done: I'll talk to you in English")
    assert out.index("Done: I'll talk to you in English") < out.index("Liaison commands")
    assert done.stderr == ""


def test_console_locale_option_and_run_without_platforms(tmp_path: Path) -> None:
    done = liaison("console", "--user", "bob", "--locale", "en", stdin="/whoami\n",
                   **_db(tmp_path))
    assert "bob (console bob)" in done.stdout and "Language: English" in done.stdout
    done = liaison("run", stdin="/whoami\n", **_db(tmp_path))  # no Slack/DingTalk: the console
    assert done.returncode == 0 and "角色" in done.stdout


def test_version_and_help_on_each_command(tmp_path: Path) -> None:
    version = _liaison(tmp_path, "--version")  # the installed script itself
    assert version.stdout.strip() == "liaison 0.1.0"
    for args in ([], ["run"], ["console"], ["db"], ["db", "upgrade"]):
        done = liaison(*args, "--help", **_db(tmp_path))
        assert done.returncode == 0 and "usage: liaison" in done.stdout, args


def test_the_script_stops_at_a_bad_setting_with_one_line(tmp_path: Path) -> None:
    """A real process: nothing else (a warning at import, a traceback) reaches the terminal."""
    done = _liaison(tmp_path, "run", LIAISON_ADMINS="alice")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Setting LIAISON_ADMINS:"), done.stderr


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    done = liaison("db", "upgrade", **_db(tmp_path))
    assert done.returncode == 0 and "database is up to date" in done.stdout
    import sqlite3

    tables = {r[0] for r in sqlite3.connect(tmp_path / "cli.db").execute(
        "select name from sqlite_master where type='table'")}
    assert {"member", "conversation", "reminder", "auditentry"} <= tables


@pytest.mark.parametrize(("name", "value"), [
    ("LIAISON_TIMEZONE", "Mars/Base"),
    ("LIAISON_CONVERSATION_TIMEOUT", "soon"),
    ("LIAISON_ADMINS", "alice"),
    ("LIAISON_DEFAULT_LOCALE", "fr"),
])
def test_a_bad_setting_stops_start_up_with_one_line_naming_it(tmp_path, name, value) -> None:
    done = liaison("run", **_db(tmp_path), **{name: value})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Setting {name}:"), done.stderr


def test_settings_come_from_a_dotenv_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("LIAISON_DEFAULT_LOCALE=en\n", encoding="utf-8")
    done = liaison("console", "--user", "carol", stdin="/whoami\n", **_db(tmp_path))
    assert "Language: English" in done.stdout


def test_a_non_editable_install_finds_templates_and_migrations(tmp_path: Path) -> None:
    target = tmp_path / "site"
    # The backend [build-system] names, from the dev venv (no isolated build environment to
    # download and fill: no network, and a third of the time); the wheel is the same.
    build = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stderr
    code = (
        "import bot, templates; from bot.render import Renderer; from bot.db import upgrade\n"
        "assert 'site' in bot.__file__ and 'site' in templates.__file__, bot.__file__\n"
        "r = Renderer(); assert 'help/index' in r.template_names('en')\n"
        f"upgrade('sqlite:///{tmp_path / 'wheel.db'}'); print('ok')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**_env(tmp_path), "PYTHONPATH": str(target)}, cwd=tmp_path,
                         timeout=120)
    assert run.stdout.strip() == "ok", run.stderr
