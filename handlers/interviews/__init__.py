"""`/interview` (采访): preparation with approved talking points, sign-off, debrief."""

from bot.domain import Domain

DOMAIN = Domain("interviews", slash="/interview", code="handlers.interviews.commands")
DOMAIN.family("interview", aliases=("采访",), label="interviews.family")

__all__ = ["DOMAIN"]
