"""`/dispute` (纠纷): partner disputes as an append-only written file, with mediation, linked
records, reminders and a Word/Markdown export."""

from bot.domain import Domain
from handlers.disputes.settings import DisputeSettings

DOMAIN = Domain(
    "disputes",
    slash="/dispute",
    roles=("disputes",),
    settings=DisputeSettings,
    code="handlers.disputes.commands",
)
DOMAIN.family("dispute", aliases=("纠纷",), label="disputes.family")

__all__ = ["DOMAIN"]
