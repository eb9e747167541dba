"""Putting the parts together: settings -> database -> core -> adapters."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.config import Settings
from bot.core import Liaison
from bot.db import Database
from bot.render import Renderer

log = logging.getLogger(__name__)


def build(settings: Settings, *, migrate: bool = True) -> Liaison:
    db = Database(settings.database_url)
    if migrate:
        db.upgrade()
    return Liaison(settings, db, Renderer(settings.default_locale))


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Migrations say what they do at INFO; in a chat that is noise.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))


def platforms_configured(settings: Settings) -> list[str]:
    """The chat platforms whose settings are present; none means the console chat."""
    found: list[str] = []
    probes: dict[str, Callable[[Settings], bool]] = {}
    for name, probe in probes.items():
        if probe(settings):
            found.append(name)
    return found
