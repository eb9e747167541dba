"""`liaison run` with DingTalk settings, as an operator starts it: a fresh process whose SDK
learns the endpoint from the settings, answers a message, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.fakes.dingtalk_server import FakeDingTalk

BIN = Path(sys.executable).parent


def test_liaison_run_serves_dingtalk_and_stops_on_sigterm(tmp_path: Path) -> None:
    fake = FakeDingTalk()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LIAISON_", "SLACK_", "DINGTALK_", "DATABASE_URL"))}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}", "HOME": str(tmp_path)})
    # The endpoint comes from .env, not the environment: the adapter must hand it to the SDK.
    (tmp_path / ".env").write_text(
        f"DINGTALK_CLIENT_ID={fake.client_id}\nDINGTALK_CLIENT_SECRET={fake.client_secret}\n"
        f"DINGTALK_OPENAPI_ENDPOINT={fake.endpoint}\n", encoding="utf-8",
    )
    proc = subprocess.Popen([str(BIN / "liaison"), "run"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        fake.wait_for(lambda: fake.sockets, timeout=60)
        fake.send_robot_message("帮助", user="zhang", nick="张三")
        reply = fake.wait_for(lambda: fake.webhook_texts(), timeout=30)[0]
        assert "可用命令" in reply
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        fake.stop()
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert "running on dingtalk" in err
