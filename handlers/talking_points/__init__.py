"""`/tp` (口径): approved talking points, their approval and re-verification."""

from bot.domain import Domain
from handlers.talking_points.settings import TalkingPointSettings

PURPOSE = "talking_points"  # the channel purpose it adds (`/route`)
DOMAIN = Domain(
    "talking_points",
    slash="/tp",
    roles=("approver",),
    settings=TalkingPointSettings,
    purposes={PURPOSE: ("tp", "talking-points", "口径")},
    code="handlers.talking_points.commands",
)
DOMAIN.family("tp", aliases=("口径", "talking-points"), label="talking_points.family")

__all__ = ["DOMAIN"]
