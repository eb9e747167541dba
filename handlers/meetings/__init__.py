"""`/meeting` (会议): partner meetings, their agenda, minutes and reminders."""

from handlers.meetings.commands import DOMAIN

__all__ = ["DOMAIN"]
