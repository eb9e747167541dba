"""`/review` (复盘): the team's figures for a period, weekly in the routed channels, and the
sign-in link to the web dashboard (`/liaison dashboard`)."""

from handlers.review.commands import DOMAIN

__all__ = ["DOMAIN"]
