"""`/comm` (沟通): communication plans, their checklist, review and CSV export."""

from handlers.comm.commands import DOMAIN

__all__ = ["DOMAIN"]
