"""Domain handlers: one module per domain, each with `register(registry)` adding its commands
and flows. Importing this package also registers every domain's tables for migrations."""

from __future__ import annotations

from typing import TYPE_CHECKING

import schedules.models  # noqa: F401  (the reminder outbox table)
from handlers import actions, comm, complaints, meetings, reminders, system, talking_points

if TYPE_CHECKING:
    from bot.router import Registry

DOMAINS = (system, reminders, complaints, talking_points, meetings, actions, comm)


def register_all(registry: Registry) -> None:
    for module in DOMAINS:
        module.register(registry)
