"""`/calendar` (日历): working calendars per purpose or team, and company days off."""

from bot.domain import Domain
from handlers.calendar.settings import CalendarSettings

# No slash command of its own: `/liaison calendar` in Slack.
DOMAIN = Domain("calendar", slash="", settings=CalendarSettings, code="handlers.calendar.commands")
DOMAIN.family("calendar", aliases=("日历", "工作日历"), label="calendar.family")

__all__ = ["DOMAIN"]
