"""Logs: plain text by default; with LIAISON_LOG_FORMAT=json one JSON object a line with time,
level, logger, message, platform and request id.

A request id is given to each inbound message when the core takes it (`request`); the
answers it queues carry it in the outbox row (`Outbound.meta["request_id"]`), and the
delivery worker logs their delivery under the same id, so one grep follows a message from
its arrival, through the outbox, to the platform. A reminder is delivered under its outbox
key. Log messages name platform ids and record ids, never what people typed.
"""

from __future__ import annotations

import json
import logging
import os
from contextvars import ContextVar
from datetime import UTC, datetime

_request_id: ContextVar[str | None] = ContextVar("liaison_request_id", default=None)
_platform: ContextVar[str | None] = ContextVar("liaison_platform", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


class request:  # noqa: N801  (used as a function: `with logs.request(...) as rid`)
    """Log under this platform and request id (a new one unless given) until the block ends.
    A class, not a generator: it is entered for every message (issue 22)."""

    __slots__ = ("_rid", "_platform", "_tokens")

    def __init__(self, platform: str | None, request_id: str | None = None) -> None:
        # 16 random hex digits, as `uuid4().hex[:16]` gave, at a fifth of its cost.
        self._rid = request_id or os.urandom(8).hex()
        self._platform = platform

    def __enter__(self) -> str:
        self._tokens = (_request_id.set(self._rid), _platform.set(self._platform))
        return self._rid

    def __exit__(self, *_exc: object) -> None:
        _request_id.reset(self._tokens[0])
        _platform.reset(self._tokens[1])


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "platform": _platform.get(),
            "request_id": _request_id.get(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The plain format, with the request id at the end of a line that has one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = _request_id.get()
        return f"{line} [{_platform.get()} {rid}]" if rid else line


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()
