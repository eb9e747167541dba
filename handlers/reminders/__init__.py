"""`/remind` and how the reminder engine's own messages read."""

from handlers.reminders.commands import DOMAIN

__all__ = ["DOMAIN"]
