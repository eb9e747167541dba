"""The meetings domain (its package; the module was handlers/meetings.py)."""

from handlers.meetings.commands import register

__all__ = ["register"]
