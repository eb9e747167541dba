"""`/press` (新闻稿): press releases, their versions, PR and legal review, publishing and
export."""

from bot.domain import Domain
from handlers.press.settings import PressSettings

DOMAIN = Domain(
    "press",
    slash="/press",
    roles=("pr", "legal"),
    settings=PressSettings,
    purposes={"pr": ("公关", "press-office"), "legal": ("法务",)},
    code="handlers.press.commands",
)
DOMAIN.family("press", aliases=("新闻稿",), label="press.family")

__all__ = ["DOMAIN"]
