"""The reminders domain (its package; the module was handlers/reminders.py)."""

from handlers.reminders.commands import register

__all__ = ["register"]
