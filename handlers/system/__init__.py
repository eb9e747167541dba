"""Help, language, time zone, roles and channel routes."""

from handlers.system.commands import DOMAIN

__all__ = ["DOMAIN"]
