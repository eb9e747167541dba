"""`/complaint` (投诉): intake, the response clock, the lifecycle and its reminders."""

from bot.domain import Domain
from handlers.complaints.settings import ComplaintSettings

DOMAIN = Domain(
    "complaints",
    slash="/complaint",
    roles=("agent",),
    settings=ComplaintSettings,
    purposes={"complaints": ("complaint", "投诉"), "escalations": ("escalation", "升级")},
    code="handlers.complaints.commands",
)
DOMAIN.family("complaint", aliases=("投诉", "complaints"), label="complaints.family")

__all__ = ["DOMAIN"]
