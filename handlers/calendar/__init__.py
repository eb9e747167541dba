"""`/calendar` (日历): working calendars per purpose or team, and company days off."""

from handlers.calendar.commands import DOMAIN

__all__ = ["DOMAIN"]
