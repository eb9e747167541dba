"""The dashboard over HTTP (werkzeug's test client on the real WSGI app, guard included):
sign-in links, session cookies, who sees what, exports, and the Slack endpoint in the same
app. The browser tests are in test_dashboard_browser.py."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from openpyxl import load_workbook
from werkzeug.test import Client

from bot.errors import ConfigError
from bot.web.server import wsgi_app
from tests import seed
from tests.conftest import START
from tests.support import Chat, build_app, settings

SECRET = "s" * 32
NOW = START  # Thursday 26 November 2026, 10:00 in Shanghai


@pytest.fixture(autouse=True)
def _numbered_from_one() -> None:
    seed.reset()


@pytest.fixture
def web(sqlite_url: str, tmp_path):  # noqa: ANN001, ANN201
    app, _ = build_app(sqlite_url, tmp_path, dashboard=True, web_secret=SECRET,
                       public_url="https://liaison.example.com")
    with app.db.session() as s:
        seed.complaint(s, NOW - timedelta(hours=30), customer="Late Ltd",
                       summary="overdue one")
        seed.complaint(s, NOW - timedelta(hours=2), customer="=HYPERLINK(\"x\")",
                       summary="fresh one", reporter=("console", "bob"))
        seed.complaint(s, NOW - timedelta(hours=1), customer="Alice Co",
                       summary="alice's own")
    yield app
    app.db.dispose()


def link(app, user: str) -> str:  # noqa: ANN001
    text = Chat(app, user)("/dashboard")  # `/liaison dashboard` on Slack
    return re.search(r"https://liaison\.example\.com(/dash/login/\S+)", text).group(1)


def signed_in(app, user: str) -> Client:  # noqa: ANN001
    client = Client(wsgi_app(app))
    path = link(app, user)
    response = client.post(path)
    assert response.status_code == 302 and response.headers["Location"].endswith("/dash/")
    return client


def test_a_link_signs_in_once_and_sets_a_safe_cookie(web, clock) -> None:  # noqa: ANN001
    client = Client(wsgi_app(web))
    path = link(web, "admin")
    # Opening the link (or a chat's link preview fetching it) spends nothing.
    assert client.get(path).status_code == 200
    assert client.get(path).status_code == 200
    response = client.post(path)
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert "Max-Age=43200" in cookie
    page = client.get("/dash/")
    assert page.status_code == 200
    assert "Late Ltd" in page.get_data(as_text=True)
    # used: refused everywhere, including from another browser
    again = Client(wsgi_app(web)).post(path)
    assert again.status_code == 302 and again.headers["Location"].endswith("/dash/expired")
    assert Client(wsgi_app(web)).get(path).headers["Location"].endswith("/dash/expired")


def test_a_link_expires_after_ten_minutes(web) -> None:  # noqa: ANN001
    with time_machine.travel(NOW, tick=False) as traveller:
        path = link(web, "admin")
        traveller.shift(timedelta(minutes=10, seconds=1))
        response = Client(wsgi_app(web)).post(path)
    assert response.headers["Location"].endswith("/dash/expired")


def test_a_session_lasts_twelve_hours(web) -> None:  # noqa: ANN001
    with time_machine.travel(NOW, tick=False) as traveller:
        client = signed_in(web, "admin")
        traveller.shift(timedelta(hours=11, minutes=59))
        assert client.get("/dash/").status_code == 200
        traveller.shift(timedelta(minutes=2))
        assert client.get("/dash/").headers["Location"].endswith("/dash/expired")


@pytest.mark.parametrize("path", ["/dash/", "/dash/complaints", "/dash/complaints.csv",
                                  "/dash/complaints.xlsx", "/dash/complaints/C-2026-0001",
                                  "/dash/review", "/dash/review.png"])
def test_without_a_session_or_with_a_forged_cookie_there_is_no_data(web, path: str) -> None:  # noqa: ANN001
    client = Client(wsgi_app(web))
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"].endswith("/dash/expired")
    client.set_cookie("liaison_session", 'eyJtIjoxfQ.forged.signature', path="/dash")
    forged = client.get(path)
    assert forged.status_code == 302 and b"Late Ltd" not in forged.get_data()


def test_staff_see_their_own_complaints_and_get_404_for_others(web, clock) -> None:  # noqa: ANN001
    client = signed_in(web, "bob")
    listing = client.get("/dash/complaints").get_data(as_text=True)
    assert "fresh one" in listing
    assert "overdue one" not in listing and "alice" not in listing
    refused = client.get("/dash/complaints/C-2026-0001")  # not his
    assert refused.status_code == 404 and "Late Ltd" not in refused.get_data(as_text=True)
    csv_text = client.get("/dash/complaints.csv").get_data().decode("utf-8-sig")
    assert "fresh one" in csv_text and "Late Ltd" not in csv_text


def test_exports_are_formula_safe_csv_with_bom_and_xlsx(web, clock) -> None:  # noqa: ANN001
    client = signed_in(web, "admin")
    body = client.get("/dash/complaints.csv?q=one").get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:3] == ["编号", "客户", "摘要"]
    assert {r[2] for r in rows[1:]} == {"overdue one", "fresh one"}
    assert "'=HYPERLINK(\"x\")" in [r[1] for r in rows[1:]]
    book = load_workbook(io.BytesIO(client.get("/dash/complaints.xlsx").get_data()))
    sheet = book.active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][:2] == ["编号", "客户"]
    assert len(values) == 4
    assert "'=HYPERLINK(\"x\")" in [v[1] for v in values]
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


def test_the_record_page_shows_the_timeline(web, clock) -> None:  # noqa: ANN001
    from bot.records import audit

    with web.db.session() as s:
        audit(s, "console:admin", "complaint", "C-2026-0001", "respond", {"response": "ok"},
              NOW)
    page = signed_in(web, "admin").get("/dash/complaints/c-2026-0001").get_data(as_text=True)
    assert "Late Ltd" in page and "respond" in page and "console:admin" in page


def test_the_slack_endpoint_lives_in_the_same_app(sqlite_url, tmp_path) -> None:  # noqa: ANN001
    from bot.adapters.slack import SlackAdapter

    app, _ = build_app(sqlite_url, tmp_path, dashboard=True, web_secret=SECRET,
                       public_url="http://127.0.0.1:1")
    adapter = SlackAdapter(app, bot_token="xoxb-test", signing_secret="shh",
                           api_url="http://127.0.0.1:9/api/", host="127.0.0.1", port=0)
    client = Client(adapter.wsgi())
    assert client.post("/slack/events", data="x").status_code == 401  # unsigned
    assert client.get("/healthz").get_data() == b"ok\n"
    assert client.get("/dash/").status_code == 302
    app.db.dispose()


def test_the_dashboard_needs_its_settings(sqlite_url) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError, match="LIAISON_WEB_SECRET"):
        settings(sqlite_url, dashboard=True, public_url="https://x.example")
    with pytest.raises(ConfigError, match="LIAISON_PUBLIC_URL"):
        settings(sqlite_url, dashboard=True, web_secret=SECRET)


def test_without_the_dashboard_the_command_says_so(sqlite_url, tmp_path) -> None:  # noqa: ANN001
    app, _ = build_app(sqlite_url, tmp_path)
    assert "未开启网页看板" in Chat(app, "alice")("/dashboard")
    app.db.dispose()


def test_the_review_page_shows_the_same_figures_and_the_chart(web, clock) -> None:  # noqa: ANN001
    client = signed_in(web, "admin")
    page = client.get("/dash/review?period=2026-11-20..2026-11-26").get_data(as_text=True)
    assert "收到投诉" in page and 'src="/dash/review.png?period=2026-11-20..2026-11-26"' in page
    png = client.get("/dash/review.png?period=2026-11-20..2026-11-26")
    assert png.content_type == "image/png" and png.get_data()[:4] == b"\x89PNG"
    assert client.get("/dash/review?period=nonsense").status_code == 404


def test_talking_points_staff_see_only_approved(web, clock) -> None:  # noqa: ANN001
    with web.db.session() as s:
        seed.talking_point(s, datetime(2027, 1, 1, tzinfo=UTC))
        pending = seed.talking_point(s, datetime(2027, 1, 1, tzinfo=UTC), status="pending")
        pending.topic = "secret draft"
    listing = signed_in(web, "bob").get("/dash/talking_points").get_data(as_text=True)
    assert "Topic" in listing and "secret draft" not in listing


def test_liaison_dashboard_on_slack_answers_privately_with_a_link_to_the_same_server(
        sqlite_url, tmp_path) -> None:  # noqa: ANN001
    import json
    import threading
    import urllib.request

    from bot.adapters.slack import SlackAdapter
    from tests.fakes.slack_api import FakeSlack, SignedClient, message_text

    fake = FakeSlack().start()
    fake.add_user("UADMIN", "Ada", tz="Asia/Shanghai", locale="zh-CN")
    app, _ = build_app(sqlite_url, tmp_path, dashboard=True, web_secret=SECRET,
                       public_url="http://127.0.0.1")
    adapter = SlackAdapter(app, bot_token="xoxb-test", signing_secret="slack-secret",
                           api_url=fake.api_url, host="127.0.0.1", port=0)
    port = adapter.listen()
    app.settings.public_url = f"http://127.0.0.1:{port}"
    thread = threading.Thread(target=adapter.run, daemon=True)
    thread.start()
    try:
        status, body = SignedClient(f"http://127.0.0.1:{port}", "slack-secret").command(
            "/liaison", "dashboard", user="UADMIN", channel="CGENERAL")
        answer = json.loads(body)
        assert status == 200 and answer["response_type"] == "ephemeral"
        url = re.search(r"http://127\.0\.0\.1:\d+/dash/login/[\w-]+", message_text(answer))
        assert url is not None
        with urllib.request.urlopen(url.group(0), timeout=5) as page:  # the sign-in page
            assert "登录看板" in page.read().decode("utf-8")
        assert fake.calls("chat.postMessage") == []  # never posted in the channel
    finally:
        adapter.stop()
        thread.join(timeout=10)
        fake.stop()
        app.db.dispose()


def test_the_review_page_takes_two_dates(web, clock) -> None:  # noqa: ANN001
    client = signed_in(web, "admin")
    page = client.get("/dash/review?from=2026-11-20&to=2026-11-26").get_data(as_text=True)
    assert "复盘：2026-11-20 – 2026-11-26" in page
    # the three complaints received in those days
    assert re.search(r"<td>收到投诉</td>\s*<td class=\"num\">3</td>", page)


def test_every_page_word_exists_in_both_languages() -> None:
    from bot.render import templates_root
    from bot.web.app import labels

    def keys(table: dict, prefix: str = "") -> set[str]:
        found: set[str] = set()
        for key, value in table.items():
            found |= keys(value, f"{prefix}{key}.") if isinstance(value, dict) else {
                f"{prefix}{key}"}
        return found

    zh, en = keys(labels("zh")), keys(labels("en"))
    assert zh == en
    used = set()
    for page in (templates_root() / "web").glob("*.j2"):
        used |= set(re.findall(r"t\('([a-z_.]+[a-z_])'", page.read_text(encoding="utf-8")))
    assert used - zh == set()
    from bot.web.data import ABSENT, KINDS

    for kind in KINDS.values():
        assert f"kind.{kind.name}" in zh
        assert {f"col.{c.name}" for c in kind.columns} <= zh
        assert {f"status.{s}" for s in kind.statuses} <= zh
    assert {f"kind.{k}" for k in ABSENT} <= zh


def test_the_web_server_starts_whenever_the_dashboard_is_on(sqlite_url, tmp_path) -> None:  # noqa: ANN001
    import socket
    import urllib.request

    from bot.runtime import start_web

    with socket.socket() as probe:  # a free port for LIAISON_HTTP_PORT
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app, _ = build_app(sqlite_url, tmp_path, dashboard=True, web_secret=SECRET,
                       public_url="http://127.0.0.1", http_port=port)

    class SocketModeSlack:
        socket_mode = True

    class HttpModeSlack:
        socket_mode = False

    assert start_web(app, {"slack": HttpModeSlack()}) is None  # Slack's server serves it
    server = start_web(app, {"slack": SocketModeSlack()})
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/readyz", timeout=5) as r:
            assert r.read() == b"ready\n"
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/dash/expired",
                                    timeout=5) as r:
            assert "链接已失效" in r.read().decode("utf-8")
    finally:
        server.stop()
    off, _ = build_app(sqlite_url, tmp_path)
    assert start_web(off, {}) is None
    app.db.dispose()
    off.db.dispose()
