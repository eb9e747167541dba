"""The comm domain (its package; the module was handlers/comm.py)."""

from handlers.comm.commands import register

__all__ = ["register"]
