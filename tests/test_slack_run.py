"""`liaison run` with Slack settings, as an operator starts it: a fresh process that picks
HTTP mode (signing secret) or Socket Mode (app token), answers a slash command, and stops
cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.fakes.slack_api import (
    TEAM,
    FakeSlack,
    FakeSocketMode,
    SignedClient,
    message_text,
    trigger_id,
)

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(tmp_path: Path, settings: dict[str, str]) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LIAISON_", "SLACK_", "DINGTALK_", "DATABASE_URL"))}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}", "HOME": str(tmp_path)})
    (tmp_path / ".env").write_text(
        "".join(f"{k}={v}\n" for k, v in settings.items()), encoding="utf-8")
    return subprocess.Popen([str(BIN / "liaison"), "run"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stop(proc: subprocess.Popen) -> str:
    try:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    return err


def test_liaison_run_serves_slack_over_http_and_stops_on_sigterm(tmp_path: Path) -> None:
    fake = FakeSlack().start()
    port = _free_port()
    proc = _start(tmp_path, {"SLACK_BOT_TOKEN": "xoxb-run", "SLACK_SIGNING_SECRET": "run-secret",
                             "SLACK_API_URL": fake.api_url, "LIAISON_HTTP_PORT": str(port)})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.status == 200
                    break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline and proc.poll() is None, "never came up"
                time.sleep(0.2)
        client = SignedClient(f"http://127.0.0.1:{port}", "run-secret")
        status, body = client.command("/liaison", "help", user="UADA", channel="CGENERAL")
        assert status == 200 and "/liaison help" in message_text(json.loads(body))
        assert client.command("/liaison", "help", user="UADA", channel="CGENERAL",
                              signature="v0=forged")[0] == 401
    finally:
        err = _stop(proc)
        fake.stop()
    assert "running on slack" in err and "HTTP mode" in err


def test_liaison_run_connects_in_socket_mode_and_stops_on_sigterm(tmp_path: Path) -> None:
    fake, ws = FakeSlack().start(), FakeSocketMode().start()
    fake.state.socket_url = ws.url
    proc = _start(tmp_path, {"SLACK_BOT_TOKEN": "xoxb-run", "SLACK_APP_TOKEN": "xapp-run",
                             "SLACK_API_URL": fake.api_url})
    try:
        ws.wait_connected(timeout=60)
        ws.push({"envelope_id": "run-1", "type": "slash_commands",
                 "accepts_response_payload": True,
                 "payload": {"team_id": TEAM, "channel_id": "CGENERAL", "channel_name": "general",
                             "user_id": "UADA", "command": "/liaison", "text": "help",
                             "response_url": "", "trigger_id": trigger_id()}})
        assert "/liaison help" in message_text(ws.wait_ack("run-1", timeout=30)["payload"])
    finally:
        err = _stop(proc)
        ws.stop()
        fake.stop()
    assert "Socket Mode connected" in err
