"""/metrics (LIAISON_METRICS=1) scraped over HTTP after a few messages and reminders: the
expected counters, and nothing people typed."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.errors import DeliveryError
from bot.ops import OpsServer
from tests.support import Chat, build_app, head_then_get, recording_adapters, run_due


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.fixture
def app(sqlite_url: str, tmp_path) -> Iterator:  # noqa: ANN001
    app, _ = build_app(sqlite_url, tmp_path)
    yield app
    app.db.dispose()


def scrape(app, metrics_on: bool = True) -> tuple[int, str]:  # noqa: ANN001
    server = OpsServer(app.db, port=0, host="127.0.0.1", metrics_on=metrics_on).start()
    try:
        return get(server.port, "/metrics")
    finally:
        server.stop()


def test_metrics_count_messages_reminders_and_failures_without_message_text(
    app, clock,  # noqa: ANN001
) -> None:
    status, text = scrape(app)
    assert status == 200
    before = samples(text)

    Chat(app, "admin", channel="C-COMPLAINTS", direct=False)("/route complaints here")
    Chat(app, "admin", channel="C-ESC", direct=False)("/route escalations here")
    Chat(app, "bob")("/whoami")
    Chat(app, "admin")("/role grant @bob agent")
    alice = Chat(app, "alice")
    alice('/complaint new customer="ACME 公司" contact=13800000000 channel=phone '
          'summary=秘密退款 details=两周前申请退款 severity=high received=now owner=@bob')
    alice("确认")

    # The first reminder goes out 30 s late; the next fails for good, then one is throttled.
    adapters = recording_adapters()
    clock.move_to(datetime(2026, 11, 26, 22, 0, 30, tzinfo=UTC))  # 4h before the deadline
    assert len(run_due(app, adapters)) == 1
    adapters["console"].fail_with.append(DeliveryError("channel_not_found", temporary=False))
    clock.move_to(datetime(2026, 11, 27, 1, 0, tzinfo=UTC))
    run_due(app, adapters)
    adapters["console"].fail_with.append(DeliveryError(
        "ratelimited", temporary=True, retry_after=30, scopes=("console:post",)))
    clock.move_to(datetime(2026, 11, 27, 2, 0, tzinfo=UTC))
    run_due(app, adapters)
    carol = Chat(app, "carol")
    carol("/投诉 新建")
    carol("Globex 私人")  # a conversation now waits for carol's next answer

    status, text = scrape(app)
    assert status == 200
    after = samples(text)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("liaison_messages_handled_total", platform="console",
                command="complaint new") == 2  # alice's and carol's
    assert grew("liaison_messages_handled_total", platform="console",
                command="flow:complaint") == 2  # 确认, and carol's first answer
    assert grew("liaison_handling_seconds_count", platform="console") == 8
    late = [v for (name, labels), v in after.items()
            if name == "liaison_reminder_lateness_seconds_count"]
    assert sum(late) - sum(v for (name, _), v in before.items()
                           if name == "liaison_reminder_lateness_seconds_count") >= 1
    assert grew("liaison_deliveries_failed_total", platform="console",
                reason="channel_not_found") == 1
    assert grew("liaison_rate_limit_pauses_total", platform="console") == 1
    assert after[("liaison_conversations_in_progress", ())] == 1
    assert after[("liaison_outbox_depth", (("status", "failed"),))] >= 1
    assert ("liaison_outbox_depth", (("status", "pending"),)) in after
    for private in ("ACME", "13800000000", "秘密", "Globex", "alice", "carol", "bob",
                    "C-COMPLAINTS"):
        assert private not in text


def test_health_and_readiness_always_metrics_only_when_asked(app) -> None:  # noqa: ANN001
    server = OpsServer(app.db, port=0, host="127.0.0.1", metrics_on=False).start()
    try:
        assert get(server.port, "/healthz") == (200, "ok\n")
        assert get(server.port, "/readyz") == (200, "ready\n")
        assert get(server.port, "/metrics")[0] == 404
    finally:
        server.stop()
    assert not server._thread.is_alive()


@pytest.mark.parametrize(("path", "body"), [("/healthz", b"ok\n"), ("/readyz", b"ready\n")])
def test_a_head_probe_gets_headers_only(app, path: str, body: bytes) -> None:  # noqa: ANN001
    """A load balancer's HEAD probe on a kept-alive connection: headers only, so the next
    answer on that connection starts where it should."""
    server = OpsServer(app.db, port=0, host="127.0.0.1", metrics_on=False).start()
    try:
        received = head_then_get(server.port, path)
    finally:
        server.stop()
    head, _, rest = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and f"Content-Length: {len(body)}".encode() in head
    assert rest.startswith(b"HTTP/1.1 200 OK") and rest.endswith(b"\r\n\r\n" + body)
