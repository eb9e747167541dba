"""`/remind` and how the reminder engine's own messages read."""

from bot.domain import Domain

DOMAIN = Domain(
    "reminders",
    slash="/reminders",
    purposes={"training": ("培训",)},
    code="handlers.reminders.commands",
)
DOMAIN.family("remind", aliases=("提醒",), label="reminders.family")

__all__ = ["DOMAIN"]
