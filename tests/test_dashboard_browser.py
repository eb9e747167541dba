"""The dashboard in a real browser: Debian's Chromium (`/usr/bin/chromium`, installed by
`make test` with apt-get when missing), headless, driven by Playwright, against the web app
on waitress on a free loopback port. A screenshot of the overview is written to the test
output folder (LIAISON_TEST_OUTPUT, default `test-output/` in the repository)."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from openpyxl import load_workbook
from playwright.sync_api import Browser, BrowserContext, Playwright, sync_playwright

from bot.web.server import WebServer
from tests import seed
from tests.support import Chat, build_app

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
OUTPUT = Path(os.environ.get("LIAISON_TEST_OUTPUT")
              or Path(__file__).resolve().parent.parent / "test-output")
RED = "rgb(176, 0, 32)"  # #b00020, the overdue colour


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    assert shutil.which("chromium") or Path(CHROMIUM).exists(), (
        "Chromium is missing: `make test` installs Debian's chromium with apt-get")
    with sync_playwright() as p:
        yield p


@pytest.fixture(autouse=True)
def _numbered_from_one() -> None:
    seed.reset()


@pytest.fixture
def site(sqlite_url: str, tmp_path) -> Iterator:  # noqa: ANN001
    app, _ = build_app(sqlite_url, tmp_path, dashboard=True, web_secret="b" * 32,
                       public_url="http://127.0.0.1")
    server = WebServer(app, host="127.0.0.1", port=0).start()
    app.settings.public_url = f"http://127.0.0.1:{server.port}"
    now = datetime.now(UTC)
    with app.db.session() as s:
        seed.complaint(s, now - timedelta(hours=30), customer="Late Ltd", summary="overdue one")
        seed.complaint(s, now - timedelta(hours=2), customer="=SUM(A1:A2)",
                       summary="bob's own", reporter=("console", "bob"))
        seed.complaint(s, now - timedelta(hours=1), customer="客户甲", summary="新的投诉")
    yield app
    server.stop()
    app.db.dispose()


@pytest.fixture(scope="module")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    """One Chromium per test module; each test opens its own contexts in it."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
    yield browser
    browser.close()


def browser(chromium: Browser) -> BrowserContext:
    """A fresh browser profile (a context: its own cookies, storage and downloads, like a
    private window), on a phone-sized screen."""
    return chromium.new_context(accept_downloads=True, viewport={"width": 390, "height": 844},
                                locale="zh-CN")


def sign_in_link(app, user: str) -> str:  # noqa: ANN001
    text = Chat(app, user)("/dashboard")  # `/liaison dashboard` on Slack
    return re.search(r"http://127\.0\.0\.1:\d+/dash/login/\S+", text).group(0)


def sign_in(context: BrowserContext, app, user: str):  # noqa: ANN001, ANN201
    page = context.new_page()
    page.goto(sign_in_link(app, user))
    page.click("#sign-in")
    page.wait_for_url(re.compile(r".*/dash/$"))
    return page


def test_sign_in_from_chat_and_see_the_overdue_complaint_in_red(
        chromium: Browser, site) -> None:  # noqa: ANN001
    context = browser(chromium)
    page = sign_in(context, site, "admin")
    late = page.locator("#open-complaints tr", has_text="Late Ltd")
    assert late.get_attribute("class") == "overdue"
    assert late.locator("td").first.evaluate("e => getComputedStyle(e).color") == RED
    assert "已超时" in late.inner_text()
    fresh = page.locator("#open-complaints tr", has_text="客户甲")
    assert fresh.locator("td").first.evaluate("e => getComputedStyle(e).color") != RED
    # ordered by time left: the overdue one first
    rows = page.locator("#open-complaints tbody tr").all_inner_texts()
    assert "Late Ltd" in rows[0]
    # no script is needed to show the content, and on a phone's width nothing overflows
    assert page.evaluate("document.scripts.length") == 0
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    # ...and every cell of a complaint, its deadline too, is in view without scrolling sideways
    due = late.locator("td[data-label]").nth(4).bounding_box()
    assert due is not None and due["x"] + due["width"] <= 390
    assert "截止时间" in late.locator("td").nth(4).evaluate(
        "e => getComputedStyle(e, '::before').content")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    shot = OUTPUT / "dashboard-overview.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 1000
    context.close()


def test_a_staff_member_does_not_see_others_records(
        chromium: Browser, site) -> None:  # noqa: ANN001
    context = browser(chromium)
    page = sign_in(context, site, "bob")
    assert "bob's own" in page.content()
    assert "Late Ltd" not in page.content() and "客户甲" not in page.content()
    page.goto(page.url + "complaints")
    assert page.locator("tbody tr").count() == 1
    response = page.goto(page.url.rsplit("/", 1)[0] + "/complaints/C-2026-0001")
    assert response.status == 404
    assert "未找到" in page.content() and "Late Ltd" not in page.content()
    context.close()


def test_an_expired_or_reused_link_is_refused(
        chromium: Browser, site) -> None:  # noqa: ANN001
    first = browser(chromium)
    page = first.new_page()
    url = sign_in_link(site, "admin")
    page.goto(url)
    page.click("#sign-in")
    page.wait_for_url(re.compile(r".*/dash/$"))
    first.close()
    # the same link in another browser: used already
    other = browser(chromium)
    page = other.new_page()
    page.goto(url)
    assert page.url.endswith("/dash/expired")
    assert page.locator("#expired").inner_text() == "链接已失效"
    # a link asked for eleven minutes ago
    with time_machine.travel(datetime.now(UTC) - timedelta(minutes=11), tick=False):
        stale = sign_in_link(site, "admin")
    page.goto(stale)
    assert page.url.endswith("/dash/expired")
    # and without signing in, no page shows data
    page.goto(url.split("/dash/")[0] + "/dash/complaints")
    assert page.url.endswith("/dash/expired") and "Late Ltd" not in page.content()
    other.close()


def test_csv_and_xlsx_downloads_open_with_the_right_rows(
        chromium: Browser, site, tmp_path: Path) -> None:  # noqa: ANN001
    context = browser(chromium)
    page = sign_in(context, site, "admin")
    page.goto(page.url + "complaints")
    page.fill("input[name=q]", "投诉")
    page.click("form.filters button")
    assert page.locator("tbody tr").count() == 1
    page.goto(page.url.split("?")[0])
    with page.expect_download() as info:
        page.click("#csv")
    raw = Path(info.value.path()).read_bytes()
    assert info.value.suggested_filename.endswith(".csv")
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][0] == "编号" and len(rows) == 4
    assert "'=SUM(A1:A2)" in [r[1] for r in rows]  # shown as text, never run
    assert "客户甲" in [r[1] for r in rows]
    with page.expect_download() as info:
        page.click("#xlsx")
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    assert saved.suffix == ".xlsx"
    book = load_workbook(saved)
    values = [[c.value for c in row] for row in book.active.iter_rows()]
    assert values[0][0] == "编号" and len(values) == 4
    assert {v[1] for v in values[1:]} == {"Late Ltd", "'=SUM(A1:A2)", "客户甲"}
    context.close()
