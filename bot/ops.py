"""The ops server: GET /healthz (the process is alive), GET /readyz (the database answers
within a second, else 503) and, with LIAISON_METRICS=1, GET /metrics for Prometheus, on
LIAISON_OPS_PORT.

It runs in every mode, Socket Mode and DingTalk Stream included, which have no HTTP server of
their own, so a container's HEALTHCHECK and a Kubernetes readiness probe work the same way
everywhere. It is meant for the private network: put only /slack/events behind the public
proxy.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from bot import metrics
from bot.db import Database

log = logging.getLogger(__name__)

READY_WITHIN = 1.0
DEFAULT_PORT = 9095


class OpsApp:
    """The WSGI application."""

    def __init__(self, db: Database, *, metrics_on: bool) -> None:
        self.db = db
        self.metrics_on = metrics_on
        if metrics_on:
            metrics.enable()  # counting starts now (off, it costs nothing, not even the import)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ops-ready")

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
        answer = _headers_only if method == "HEAD" else _answer
        if method not in ("GET", "HEAD"):
            return _answer(start_response, "405 Method Not Allowed", b"GET only\n")
        if path == "/healthz":
            return answer(start_response, "200 OK", b"ok\n")
        if path == "/readyz":
            future = self._pool.submit(self.db.ready)
            try:
                ready = future.result(timeout=READY_WITHIN)
            except FutureTimeout:
                ready = False
            if ready:
                return answer(start_response, "200 OK", b"ready\n")
            return answer(start_response, "503 Service Unavailable", b"database unavailable\n")
        if path == "/metrics" and self.metrics_on:
            from prometheus_client import CONTENT_TYPE_LATEST

            return answer(start_response, "200 OK", metrics.exposition(self.db),
                          CONTENT_TYPE_LATEST)
        return answer(start_response, "404 Not Found", b"not found\n")


def _answer(start_response: Callable[..., Any], status: str, body: bytes,
            content_type: str = "text/plain; charset=utf-8") -> list[bytes]:
    start_response(status, [("Content-Type", content_type),
                            ("Content-Length", str(len(body)))])
    return [body]


def _headers_only(start_response: Callable[..., Any], status: str, body: bytes,
                  content_type: str = "text/plain; charset=utf-8") -> list[bytes]:
    """HEAD: the headers a GET would get, and no body (waitress sends whatever the app
    returns, which a kept-alive client would read as the start of its next answer)."""
    _answer(start_response, status, body, content_type)
    return []


class OpsServer:
    def __init__(self, db: Database, *, port: int, metrics_on: bool,
                 host: str = "0.0.0.0") -> None:
        from waitress import create_server

        self.server = create_server(OpsApp(db, metrics_on=metrics_on), host=host, port=port,
                                    threads=2, ident="liaison-ops")
        self.port = int(self.server.effective_port)
        self.metrics_on = metrics_on
        self._thread = threading.Thread(target=self.server.run, name="ops-http", daemon=True)

    def start(self) -> OpsServer:
        self._thread.start()
        log.info("ops server on port %s (/healthz, /readyz%s)", self.port,
                 ", /metrics" if self.metrics_on else "")
        return self

    def stop(self) -> None:
        stop_waitress(self.server)
        self._thread.join(timeout=5)


def stop_waitress(server: Any) -> None:  # noqa: ANN401  (a waitress server)
    """Close every channel from inside a waitress server's own loop, which then ends, and
    wait for its worker threads."""

    def close_all() -> None:
        for channel in list(server._map.values()):
            channel.close()

    try:
        server.trigger.pull_trigger(close_all)
    except OSError:
        pass
    server.task_dispatcher.shutdown(timeout=5)
