"""`/action` (行动项): the action items recorded in meeting minutes."""

from handlers.actions.commands import DOMAIN

__all__ = ["DOMAIN"]
