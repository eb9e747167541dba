"""The bot's HTTP server when Slack's HTTP mode does not run one: the web app (dashboard,
/healthz, /readyz) on waitress, on LIAISON_HTTP_PORT, in a thread beside the adapters."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from bot.core import Liaison

log = logging.getLogger(__name__)


def wsgi_app(liaison: Liaison, *, bolt: Any = None, signing_secret: str = "") -> Any:  # noqa: ANN401
    """The one WSGI app: Flask (bot/web/app.py), behind the guard against hostile requests
    to Slack's endpoint when it serves one. With the dashboard or a domain's pages on, Flask
    is built now; without them it serves only /healthz and a 405, and is built with the first
    request that reaches it (importing it is a tenth of a start, issue 22): Slack's endpoint
    and /readyz never do."""
    from bot.adapters.http_guard import MAX_BODY, SLACK_PATH, SlackHttpGuard

    flask = _FirstUse(lambda: _flask(liaison, bolt))
    if liaison.settings.web_enabled:
        flask.build()  # a page's fault shows at start, not at its first visitor
    if bolt is None:
        return flask
    # One app serves Slack's endpoint and the pages (issue 18), behind the guard, which hands
    # POST /slack/events to Bolt's own WSGI adapter itself (not through Flask: issue 22).
    from bot.adapters.slack_wsgi import BoltWsgi

    return SlackHttpGuard(flask, liaison.db, signing_secret, max_body=MAX_BODY,
                          web_paths=tuple(w.prefix for w in liaison.settings.web_served()),
                          slack=BoltWsgi(bolt, path=SLACK_PATH))


def _flask(liaison: Liaison, bolt: Any) -> Any:  # noqa: ANN401
    from bot.web.app import create_app

    return create_app(liaison, bolt=bolt).wsgi_app


class _FirstUse:
    """A WSGI app made by its factory once, with the first request (whichever of the server's
    threads brings it) or on `build()`."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._app: Any = None
        self._lock = threading.Lock()

    def build(self) -> Any:  # noqa: ANN401
        app = self._app
        if app is None:
            with self._lock:
                if self._app is None:
                    self._app = self._build()
                app = self._app
        return app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:  # noqa: ANN401
        return self.build()(environ, start_response)


class WebServer:
    platform = "web"

    def __init__(self, liaison: Liaison, *, host: str = "0.0.0.0", port: int | None = None,
                 threads: int = 8) -> None:
        from waitress import create_server

        from bot.adapters.http_guard import MAX_BODY

        self.server = create_server(
            wsgi_app(liaison), host=host,
            port=liaison.settings.http_port if port is None else port, threads=threads,
            ident="liaison", clear_untrusted_proxy_headers=True,
            max_request_body_size=MAX_BODY + 1,
        )
        self.port = int(self.server.effective_port)
        self._thread = threading.Thread(target=self.server.run, name="web-http", daemon=True)

    def start(self) -> WebServer:
        self._thread.start()
        log.info("web server on port %s (/dash/, /s/, /healthz, /readyz)", self.port)
        return self

    def stop(self) -> None:
        from bot.ops import stop_waitress

        stop_waitress(self.server)
        self._thread.join(timeout=5)
