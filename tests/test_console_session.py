"""The console chat as a newcomer meets it (issue 16): a one-line greeting saying who you are,
your roles, the database and how to leave, under a real pseudo-terminal; `quit`, `exit`,
`退出`; a draft left open is offered again after a restart; --locale is for one session."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import liaison
from tests.test_cli import _db, _env


def _console(tmp_path, *args: str, stdin: str):  # noqa: ANN001, ANN202
    """`liaison console ARGS` reading STDIN from a pipe, in this process (tests/support.py);
    the real process with a real pipe and terminal is tested in test_cli.py and above."""
    return liaison("console", *args, stdin=stdin, **_db(tmp_path))

BIN = Path(sys.executable).parent


def _read_until(fd: int, wanted: str, timeout: float = 60) -> str:
    """What the terminal showed, up to and including `wanted` (escape codes and all)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while wanted.encode() not in seen:
        left = deadline - time.monotonic()
        assert left > 0, seen.decode(errors="replace")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the other end closed
                break
            if not chunk:
                break
            seen += chunk
    return seen.decode(errors="replace")


@pytest.mark.parametrize(("locale", "greeting", "leave"), [
    ("en", "type help, or quit to leave", "quit"),
    ("zh", "输入 help 查看命令,quit 退出", "退出"),
])
def test_the_console_greets_in_one_line_and_quit_leaves(tmp_path, locale, greeting, leave):
    primary, secondary = pty.openpty()
    env = _env(tmp_path, LIAISON_ADMINS="console:alice", TERM="xterm")
    proc = subprocess.Popen(
        [str(BIN / "liaison"), "console", "--user", "alice", "--locale", locale],
        stdin=secondary, stdout=secondary, stderr=secondary, env=env, cwd=tmp_path,
        close_fds=True,
    )
    os.close(secondary)
    try:
        shown = _read_until(primary, greeting)
        line = next(ln for ln in shown.splitlines() if greeting in ln)
        assert "alice" in line and ("admin" in line or "管理员" in line)
        assert f"sqlite:///{tmp_path / 'cli.db'}" in line
        assert "Liaison commands" not in shown and "可用命令" not in shown  # no wall of help
        _read_until(primary, "alice>")
        os.write(primary, f"{leave}\r".encode())
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(primary)


def test_exit_leaves_a_piped_console_too(tmp_path):
    done = _console(tmp_path, "--user", "bob", stdin="/whoami\nexit\n/help\n")
    assert done.returncode == 0 and "bob" in done.stdout and "可用命令" not in done.stdout


def test_a_draft_left_open_is_offered_again_after_a_restart(tmp_path):
    _console(tmp_path, "--user", "carol", stdin="/complaint new\nACME\nquit\n")
    done = _console(tmp_path, "--user", "carol", stdin="")
    assert "之前没完成的草稿" in done.stdout and "联系方式" in done.stdout
    done = _console(tmp_path, "--user", "carol", "--locale", "en", stdin="")
    assert "unfinished draft from before" in done.stdout and "contact" in done.stdout.lower()


def test_the_locale_option_is_for_this_session_only(tmp_path):
    _console(tmp_path, "--user", "dave", stdin="/lang zh\n")
    done = _console(tmp_path, "--user", "dave", "--locale", "en", stdin="/whoami\n")
    assert "Language: English" in done.stdout
    done = _console(tmp_path, "--user", "dave", stdin="/whoami\n")
    assert "语言:中文" in done.stdout
