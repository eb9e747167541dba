"""The handbook's principles as a check on drafts: `check.py` (no chat, no storage) and the
word lists admins extend (`domain.py`, `liaison principles import FILE`)."""

from handlers.principles.check import Hint, WordLists, check
from handlers.principles.domain import DOMAIN, lists

__all__ = ["DOMAIN", "Hint", "WordLists", "check", "lists"]
