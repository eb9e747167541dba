"""`/training` (培训): the quarterly communication training, planned, announced, attended and
reported."""

from handlers.training.commands import DOMAIN

__all__ = ["DOMAIN"]
