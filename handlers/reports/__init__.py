"""`/reports` (报告): the team's library of industry reports and background documents."""

from handlers.reports.commands import DOMAIN

__all__ = ["DOMAIN"]
