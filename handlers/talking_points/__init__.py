"""The talking_points domain (its package; the module was handlers/talking_points.py)."""

from handlers.talking_points.commands import register

__all__ = ["register"]
