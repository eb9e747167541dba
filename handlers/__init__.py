"""Domain handlers: one package per domain, each exposing one `Domain` (see bot/domain.py).

DOMAINS is the one list the core reads: the registry (commands, flows, reminder kinds,
digests, roles, purposes, slash commands), the CLI and the settings all come from it, in this
order (the order of /help). Importing this package also registers every domain's tables for
migrations."""

from __future__ import annotations

from typing import TYPE_CHECKING

import schedules.models  # noqa: F401  (the reminder outbox table)
from handlers import (
    actions,
    calendar,
    comm,
    complaints,
    disputes,
    glossary,
    handbook,
    interviews,
    meetings,
    press,
    principles,
    reminders,
    reports,
    review,
    surveys,
    system,
    talking_points,
    training,
)

if TYPE_CHECKING:
    from bot.router import Registry

DOMAINS = [
    system.DOMAIN,
    reminders.DOMAIN,
    complaints.DOMAIN,
    talking_points.DOMAIN,
    meetings.DOMAIN,
    actions.DOMAIN,
    comm.DOMAIN,
    handbook.DOMAIN,
    training.DOMAIN,
    reports.DOMAIN,
    review.DOMAIN,
    press.DOMAIN,
    interviews.DOMAIN,
    glossary.DOMAIN,
    principles.DOMAIN,
    calendar.DOMAIN,
    disputes.DOMAIN,
    surveys.DOMAIN,
]


def register_all(registry: Registry) -> None:
    for domain in DOMAINS:
        registry.install(domain)
