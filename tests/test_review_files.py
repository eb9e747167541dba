"""The weekly review's chart reaches each platform as a picture: an upload shared in the Slack
channel (files_upload_v2 against the fake Slack), an image message in the DingTalk group
(image upload, then sampleImageMsg, against the fake DingTalk), a PNG file in the console's
folder."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import time_machine

from bot.adapters.console import ConsoleAdapter
from bot.adapters.slack import SlackAdapter
from bot.models import ChannelRoute
from handlers.review import chart
from schedules.scheduler import ReminderScheduler
from tests import seed
from tests.fakes.dingtalk_server import FakeDingTalk, shared
from tests.fakes.slack_api import FakeSlack
from tests.support import build_app, run_due
from tests.test_dingtalk import make

NOW = datetime(2026, 11, 30, 1, 30, tzinfo=UTC)  # Monday 09:30 in Shanghai


def _size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


def _seed(app) -> None:  # noqa: ANN001
    seed.reset()
    with app.db.session() as s:
        seed.complaint(s, datetime(2026, 11, 24, 2, tzinfo=UTC),
                       responded=datetime(2026, 11, 24, 3, tzinfo=UTC))


def test_the_slack_channel_gets_the_chart_as_an_uploaded_file(sqlite_url: str, tmp_path) -> None:  # noqa: ANN001
    fake = FakeSlack().start()
    fake.add_channel("CREVIEW", joined=True)
    app, _ = build_app(sqlite_url, tmp_path)
    _seed(app)
    with app.db.session() as s:
        s.add(ChannelRoute(purpose="complaints", platform="slack", channel_id="CREVIEW"))
    adapter = SlackAdapter(app, bot_token="xoxb-test", signing_secret="x" * 16,
                           api_url=fake.api_url, host="127.0.0.1", port=0)
    try:
        with time_machine.travel(NOW, tick=False):
            ReminderScheduler(app, {"slack": adapter}).plan_review(NOW)
            run_due(app, {"slack": adapter})
        files = fake.wait_for_files(1)
        assert [(f.channel, f.filename) for f in files] == [("CREVIEW", "review-2026-11-23.png")]
        assert files[0].title == "复盘图表 2026-11-23 – 2026-11-29"
        assert _size(files[0].data) == chart.CHART_SIZE
        posted = fake.calls("chat.postMessage")
        assert any("收到投诉:1(0)" in str(c.params.get("text")) for c in posted)
    finally:
        adapter.stop()
        fake.stop()
        app.db.dispose()


def test_the_dingtalk_group_gets_the_chart_as_an_image(sqlite_url: str, tmp_path: Any) -> None:  # noqa: ANN001
    dingtalk: FakeDingTalk = shared()
    dingtalk.reset()
    group = "cid-review-group=="
    dingtalk.groups.add(group)
    app, adapter, _ = make(sqlite_url, tmp_path, dingtalk, dingtalk_oapi_endpoint=dingtalk.endpoint)
    _seed(app)
    with app.db.session() as s:
        s.add(ChannelRoute(purpose="pr", platform="dingtalk", channel_id=group))
    with time_machine.travel(NOW, tick=False):
        ReminderScheduler(app, {"dingtalk": adapter}).plan_review(NOW)
        sent = run_due(app, {"dingtalk": adapter})
    assert len(sent) == 1
    images = dingtalk.sent_images()
    assert [where for where, _ in images] == [group]
    assert _size(images[0][1]) == chart.CHART_SIZE
    assert [u.body["type"] for u in dingtalk.calls_to("/media/upload")] == ["image"]
    app.db.dispose()


def test_the_console_writes_the_chart_to_a_file(sqlite_url: str, tmp_path: Path) -> None:
    app, _ = build_app(sqlite_url, tmp_path)
    _seed(app)
    console = ConsoleAdapter(app, "alice", files_dir=tmp_path / "files")
    with time_machine.travel(NOW, tick=False):
        shown = "\n".join(console._delivered(o) for o in app.handle(console._inbound("/review")))
    written = tmp_path / "files" / "review-2026-11-23.png"
    assert str(written) in shown
    assert _size(written.read_bytes()) == chart.CHART_SIZE
    app.db.dispose()
