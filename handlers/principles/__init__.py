"""The handbook's principles as a check on drafts: `check.py` (no chat, no storage) and the
word lists admins extend (`domain.py`: `lists`, `liaison principles import FILE`)."""

from bot.domain import Domain
from handlers.principles.check import Hint, WordLists, check

DOMAIN = Domain("principles", code="handlers.principles.domain")

__all__ = ["DOMAIN", "Hint", "WordLists", "check"]
