"""`/meeting` (会议): partner meetings, their agenda, minutes and reminders."""

from bot.domain import Domain
from handlers.meetings.settings import MeetingSettings

PURPOSE = "meetings"  # the channel purpose it adds (`/route`)
DOMAIN = Domain(
    "meetings",
    slash="/meeting",
    settings=MeetingSettings,
    purposes={PURPOSE: ("meeting", "会议")},
    code="handlers.meetings.commands",
)
DOMAIN.family("meeting", aliases=("会议",), label="meetings.family")

__all__ = ["DOMAIN"]
