"""`/comm` (沟通): communication plans, their checklist, review and CSV export."""

from bot.domain import Domain
from handlers.comm.settings import CommSettings

DOMAIN = Domain("comm", slash="/comm", settings=CommSettings, code="handlers.comm.commands")
DOMAIN.family("comm", aliases=("沟通",), label="comm.family")

__all__ = ["DOMAIN"]
