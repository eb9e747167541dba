"""`/glossary` (术语): approved terms and the forms to avoid."""

from bot.domain import Domain

# No slash command of its own: reached as `/liaison glossary` in Slack channels.
DOMAIN = Domain("glossary", slash="", code="handlers.glossary.commands")
DOMAIN.family("glossary", aliases=("术语", "术语表"), label="glossary.family")

__all__ = ["DOMAIN"]
