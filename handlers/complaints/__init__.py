"""The complaints domain (its package; the module was handlers/complaints.py)."""

from handlers.complaints.commands import register

__all__ = ["register"]
