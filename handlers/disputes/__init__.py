"""`/dispute` (纠纷): partner disputes as an append-only written file, with mediation, linked
records, reminders and a Word/Markdown export."""

from handlers.disputes.commands import DOMAIN

__all__ = ["DOMAIN"]
