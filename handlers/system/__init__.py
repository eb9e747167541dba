"""The system domain (its package; the module was handlers/system.py)."""

from handlers.system.commands import register

__all__ = ["register"]
