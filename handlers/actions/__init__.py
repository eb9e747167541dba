"""The actions domain (its package; the module was handlers/actions.py)."""

from handlers.actions.commands import register

__all__ = ["register"]
