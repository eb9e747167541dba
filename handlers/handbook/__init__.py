"""`/handbook` (手册): the external-relations handbook, one command away."""

from bot.domain import Domain
from handlers.handbook.settings import HandbookSettings

DOMAIN = Domain(
    "handbook",
    slash="/handbook",
    settings=HandbookSettings,
    code="handlers.handbook.commands",
)
DOMAIN.family("handbook", aliases=("手册",), label="handbook.family")

__all__ = ["DOMAIN"]
