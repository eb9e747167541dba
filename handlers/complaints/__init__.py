"""`/complaint` (投诉): intake, the response clock, the lifecycle and its reminders."""

from handlers.complaints.commands import DOMAIN

__all__ = ["DOMAIN"]
