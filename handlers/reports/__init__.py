"""`/reports` (报告): the team's library of industry reports and background documents."""

from bot.domain import Domain

DOMAIN = Domain("reports", slash="/reports", code="handlers.reports.commands")
DOMAIN.family("reports", aliases=("报告", "报告库"), label="reports.family")

__all__ = ["DOMAIN"]
