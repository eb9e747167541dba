"""Domain handlers: one package per domain, each exposing one `Domain` (see bot/domain.py).

DOMAINS is the one list the core reads: the registry (commands, flows, reminder kinds,
digests, roles, purposes, slash commands), the CLI and the settings all come from it, in this
order (the order of /help). Importing this package imports each domain's declaration only (its
package's __init__: settings, slash command, families); the registry imports their code, and
with it their tables, on first use (bot.router.Registry.load); migrations import them all at
once (`load_all`), the CLI and `liaison doctor` each domain's in turn."""

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


# What each package declared, before any domain's code is imported (importing a domain's code
# imports this package first): the code may not change it (Domain.load checks).
for _domain in DOMAINS:
    _domain.seal()


def load_all() -> None:
    """Import every domain's code: its commands, flows and kinds, and its tables."""
    for domain in DOMAINS:
        domain.load()


def register_all(registry: Registry) -> None:
    for domain in DOMAINS:
        registry.install(domain)
