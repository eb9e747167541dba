"""`/review` (复盘): the team's figures for a period, weekly in the routed channels, and the
sign-in link to the web dashboard (`/liaison dashboard`)."""

from bot.domain import Domain
from handlers.review.settings import ReviewSettings

DOMAIN = Domain(
    "review",
    slash="/review",
    settings=ReviewSettings,
    code="handlers.review.commands",
)
DOMAIN.family("review", aliases=("复盘",), label="review.family")
DOMAIN.family("dashboard", aliases=("看板", "仪表盘"), label="review.dashboard_family")

__all__ = ["DOMAIN"]
