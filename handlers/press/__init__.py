"""`/press` (新闻稿): press releases, their versions, PR and legal review, publishing and
export."""

from handlers.press.commands import DOMAIN

__all__ = ["DOMAIN"]
