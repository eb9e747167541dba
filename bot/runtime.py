"""Putting the parts together: settings -> database -> core -> adapters + reminder scheduler.

Each platform adapter is a class `Adapter(app: Liaison, settings: Settings)` with a blocking
`run()`, a thread-safe `stop()`, and `send(outbound)` (bot/adapters/base.py). `serve` runs
every configured adapter in its own thread next to one reminder scheduler, and stops them all
on SIGTERM or SIGINT.
"""

from __future__ import annotations

import gc
import importlib
import logging
import signal
import threading
from collections.abc import Mapping

from bot import logs
from bot.adapters.base import Adapter
from bot.config import Settings
from bot.core import Liaison
from bot.db import Database

log = logging.getLogger(__name__)

# platform -> "module:Class"; imported only when configured, so a missing SDK for an unused
# platform never stops the bot.
ADAPTERS = {
    "slack": "bot.adapters.slack:SlackAdapter",
    "dingtalk": "bot.adapters.dingtalk:DingTalkAdapter",
}


def build(settings: Settings, *, migrate: bool = True) -> Liaison:
    db = Database(
        settings.database_url,
        connect_timeout=settings.database_connect_timeout.total_seconds(),
        statement_timeout=settings.database_statement_timeout.total_seconds(),
    )
    if migrate:
        db.upgrade()
    return Liaison(settings, db)


CHAT_LOG = "liaison.log"


def configure_logging(settings: Settings, *, chat: bool = False) -> None:
    """Logs go to stderr, as text or as JSON lines (bot/logs.py, LIAISON_LOG_FORMAT); in the
    console chat to `liaison.log` in the working directory, so a delivery warning never lands
    in the middle of the conversation as if the bot said it."""
    level = logging.getLevelName(settings.log_level)
    handler = (logging.FileHandler(CHAT_LOG, encoding="utf-8") if chat
               else logging.StreamHandler())
    handler.setFormatter(logs.formatter(settings.log_format))
    logging.basicConfig(level=level, handlers=[handler])
    # Migrations and every scheduler tick are logged at INFO; that is noise, not news.
    for noisy in ("alembic", "apscheduler"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def platforms_configured(settings: Settings) -> list[str]:
    """The chat platforms whose settings are present; none means the console chat."""
    enabled = {"slack": settings.slack_enabled, "dingtalk": settings.dingtalk_enabled}
    return [name for name in ADAPTERS if enabled.get(name)]


def make_adapter(platform: str, app: Liaison, settings: Settings) -> Adapter:
    module_name, _, class_name = ADAPTERS[platform].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(app, settings)


def serve(app: Liaison, adapters: Mapping[str, Adapter], *, foreground: Adapter | None = None):
    """Run the adapters and the reminder scheduler until a signal (or the foreground adapter,
    such as the console, returns)."""
    from schedules.scheduler import ReminderScheduler

    for adapter in adapters.values():
        if hasattr(adapter, "peers"):
            # A reply may belong on another platform: a DingTalk complaint, a Slack channel.
            adapter.peers = adapters  # type: ignore[attr-defined]
    scheduler = ReminderScheduler(app, adapters)
    scheduler.start()
    web = start_web(app, adapters)
    if not gc.isenabled():  # started by `liaison run` or `console` (bot.cli.entry)
        gc.freeze()  # what start-up made stays: later collections need not scan it
        gc.enable()
        # So does the domains' code, imported with the first message or due reminder.
        app.registry.after_load(gc.freeze)
    stopping = threading.Event()

    def stop(*_: object) -> None:
        stopping.set()
        for adapter in adapters.values():
            try:
                adapter.stop()
            except Exception:
                log.exception("error while stopping the %s adapter", adapter.platform)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
        if foreground is None:
            signal.signal(signal.SIGINT, stop)
    threads = [
        threading.Thread(target=_run_adapter, args=(a, stop), name=f"adapter-{a.platform}")
        for a in adapters.values()
        if a is not foreground
    ]
    for thread in threads:
        thread.start()
    try:
        if foreground is not None:
            foreground.run()
        else:
            stopping.wait()
    finally:
        stop()
        for thread in threads:
            thread.join(timeout=10)
        scheduler.stop()
        if web is not None:
            web.stop()
        app.db.dispose()


def start_web(app: Liaison, adapters: Mapping[str, Adapter]):  # noqa: ANN201
    """The HTTP server for the web features when Slack's HTTP mode does not already serve
    them (Slack's HTTP mode serves the same web app on the same port)."""
    if not app.settings.web_enabled:
        return None
    slack = adapters.get("slack")
    if slack is not None and not getattr(slack, "socket_mode", True):
        return None
    from bot.web.server import WebServer

    return WebServer(app).start()


def _run_adapter(adapter: Adapter, stop_all) -> None:  # noqa: ANN001
    try:
        adapter.run()
    except Exception:
        log.exception("the %s adapter stopped with an error", adapter.platform)
        stop_all()
