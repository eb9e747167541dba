"""`/glossary` (术语): approved terms and the forms to avoid."""

from handlers.glossary.commands import DOMAIN

__all__ = ["DOMAIN"]
