"""Prometheus metrics (prometheus-client), served at /metrics by the ops server (bot/ops.py)
when LIAISON_METRICS=1.

Counted in-process from when the ops server starts serving /metrics (`enable`): messages
handled by platform and command (the command's name, such as `complaint new`, or
`flow:<name>` for an answer inside a conversation), how long handling took, deliveries that
failed by platform and reason, rate-limit pauses, database errors and how late reminders went
out. Read from the database when scraped: the outbox by status and the conversations in
progress. Labels are platform names, command names and error codes: never what people typed,
and no user or channel ids.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.db import Database

OTHER = "other"  # a message that named no command (help hint, not understood, ...)

# The metrics, made by `enable()` when the process serves /metrics (bot/ops.py); until then
# nothing is counted, and prometheus_client is not imported (it is not needed otherwise).
_on: Any = None

_command: ContextVar[str] = ContextVar("liaison_metrics_command", default=OTHER)


def enable() -> None:
    """Start counting (the ops server does, when LIAISON_METRICS=1); once per process."""
    global _on
    if _on is not None:
        return
    from prometheus_client import CollectorRegistry, Counter, Histogram

    registry = CollectorRegistry()
    _on = SimpleNamespace(
        REGISTRY=registry,
        MESSAGES=Counter("liaison_messages_handled", "Inbound messages handled",
                         ("platform", "command"), registry=registry),
        HANDLING=Histogram("liaison_handling_seconds", "Time to handle one inbound message",
                           ("platform",), registry=registry,
                           buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)),
        LATENESS=Histogram("liaison_reminder_lateness_seconds",
                           "How long after its planned time a reminder went out", ("kind",),
                           registry=registry,
                           buckets=(0.5, 1, 2, 5, 15, 30, 60, 300, 900, 3600, 4 * 3600,
                                    86400)),
        FAILED=Counter("liaison_deliveries_failed", "Delivery attempts that failed",
                       ("platform", "reason"), registry=registry),
        PAUSES=Counter("liaison_rate_limit_pauses", "Rate-limit pauses the platforms asked for",
                       ("platform",), registry=registry),
        DB_ERRORS=Counter("liaison_database_errors",
                          "Database errors (unavailable: could not reach it in time)",
                          ("kind",), registry=registry),
    )


@contextmanager
def handling(platform: str) -> Iterator[None]:
    """Count and time one inbound message; `command` names it meanwhile."""
    if _on is None:
        yield
        return
    token = _command.set(OTHER)
    started = time.perf_counter()
    try:
        yield
    finally:
        _on.HANDLING.labels(platform).observe(time.perf_counter() - started)
        _on.MESSAGES.labels(platform, _command.get()).inc()
        _command.reset(token)


def command(name: str) -> None:
    _command.set(name)


def reminder_sent(kind: str, late: timedelta) -> None:
    if _on is not None:
        _on.LATENESS.labels(kind).observe(max(late.total_seconds(), 0.0))


def delivery_failed(platform: str, reason: str) -> None:
    # The code only (`dingtalk:400:invalidParameter`, `channel_not_found`): bounded labels.
    if _on is not None:
        _on.FAILED.labels(platform, reason[:80]).inc()


def rate_limited(platform: str) -> None:
    if _on is not None:
        _on.PAUSES.labels(platform).inc()


def database_error(unavailable: bool) -> None:
    if _on is not None:
        _on.DB_ERRORS.labels("unavailable" if unavailable else "error").inc()


class _FromDatabase:
    """The outbox by status and the conversations in progress, read when scraped (a
    prometheus_client collector: an object with `collect`)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily
        from sqlalchemy import func, select

        from bot.errors import StorageError
        from bot.models import Conversation
        from schedules.models import Reminder, Status

        try:
            with self.db.session() as session:
                by_status = dict(session.execute(
                    select(Reminder.status, func.count()).group_by(Reminder.status)).all())
                talking = session.execute(
                    select(func.count()).select_from(Conversation)
                    .where(Conversation.expires_at > datetime.now(UTC))).scalar_one()
        except StorageError:
            return  # the database errors counter says why
        depth = GaugeMetricFamily("liaison_outbox_depth", "Outbox rows by status",
                                  labels=("status",))
        for status in Status:
            depth.add_metric((status.value,), by_status.get(status.value, 0))
        yield depth
        yield GaugeMetricFamily("liaison_conversations_in_progress",
                                "Conversations waiting for their next answer", value=talking)


def exposition(db: Database) -> bytes:
    """The text a scrape gets: the counters, and what the database holds now."""
    from prometheus_client import CollectorRegistry, generate_latest

    enable()
    registry = CollectorRegistry()
    registry.register(_on.REGISTRY)  # the counters (a registry is a collector too)
    registry.register(_FromDatabase(db))
    return generate_latest(registry)
