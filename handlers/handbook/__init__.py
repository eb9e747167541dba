"""`/handbook` (手册): the external-relations handbook, one command away."""

from handlers.handbook.commands import DOMAIN

__all__ = ["DOMAIN"]
