"""Slack in Socket Mode: slack_sdk's builtin client gets its URL from a fake
`apps.connections.open`, connects to a local WebSocket server, and answers a slash command."""

from __future__ import annotations

import threading

from bot.adapters.slack import SlackAdapter
from tests.fakes.slack_api import TEAM, FakeSlack, FakeSocketMode, message_text, trigger_id
from tests.support import build_app


def test_socket_mode_connects_and_answers_a_slash_command(db_url: str, tmp_path) -> None:  # noqa: ANN001
    fake, socket = FakeSlack().start(), FakeSocketMode().start()
    fake.state.socket_url = socket.url
    fake.add_user("UALICE", "Alice", tz="Europe/London", locale="en-US")
    app, _ = build_app(db_url, tmp_path)
    adapter = SlackAdapter(app, bot_token="xoxb-test", app_token="xapp-test",
                           api_url=fake.api_url)
    runner = threading.Thread(target=adapter.run, daemon=True)
    runner.start()
    try:
        socket.wait_connected()
        opened = fake.calls("apps.connections.open")
        assert opened and opened[0].headers["Authorization"] == "Bearer xapp-test"

        socket.push({
            "envelope_id": "env-1", "type": "slash_commands", "accepts_response_payload": True,
            "payload": {
                "team_id": TEAM, "channel_id": "CGENERAL", "channel_name": "general",
                "user_id": "UALICE", "command": "/liaison", "text": "help",
                "response_url": fake.response_url("cmd-1"), "trigger_id": trigger_id(),
                "api_app_id": "A1",
            },
        })
        ack = socket.wait_ack("env-1")
        assert ack["payload"]["response_type"] == "ephemeral"
        assert "/liaison help" in message_text(ack["payload"])
    finally:
        adapter.stop()
        runner.join(timeout=10)
        socket.stop()
        fake.stop()
        app.db.dispose()
    assert not runner.is_alive()
