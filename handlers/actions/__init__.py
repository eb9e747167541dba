"""`/action` (行动项): the action items recorded in meeting minutes."""

from bot.domain import Domain

DOMAIN = Domain("actions", slash="/action", code="handlers.actions.commands")
DOMAIN.family("action", aliases=("行动项", "待办"), label="actions.family")

__all__ = ["DOMAIN"]
