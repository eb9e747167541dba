"""`/tp` (口径): approved talking points, their approval and re-verification."""

from handlers.talking_points.commands import DOMAIN

__all__ = ["DOMAIN"]
