"""`/interview` (采访): preparation with approved talking points, sign-off, debrief."""

from handlers.interviews.commands import DOMAIN

__all__ = ["DOMAIN"]
