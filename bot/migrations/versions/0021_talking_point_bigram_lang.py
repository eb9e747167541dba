"""talking point bigrams per language: the two-character index of the folded text, one
partial index per language, so a search for the lapsed points of one language reads only that
language's entries for a two-character word

Revision ID: 0021_talking_point_bigram_lang
Revises: 0019_talking_point_text_lang
Create Date: 2026-11-28 05:00:00.000000
"""
from collections.abc import Sequence

from alembic import op


revision: str = '0021_talking_point_bigram_lang'
down_revision: str | Sequence[str] | None = '0019_talking_point_text_lang'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LANGUAGES = ('zh', 'en')  # handlers.talking_points.models.LANGUAGES: an index each
FUNCTION = 'liaison_bigrams'  # bot.db.BIGRAMS (0012)


def index(language: str) -> str:  # handlers.talking_points.search.BIGRAM_INDEXES
    return f'ix_talkingpoint_search_bigram_{language}'


def upgrade() -> None:
    """PostgreSQL only, as 0019 did for trigrams. A two-letter English word (`on`, `we`) is in
    half the points; looking for it among one language's lapsed points through the index of
    every text read the entries of all of them (tens of thousands, about 2 ms at 100,000
    points) to find none among the Chinese ones. SQLite's FTS5 tables need no counterpart
    (its lapsed points are read per language through the place table, 0018)."""
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    # Building it computes the bigrams of every point's text: at 100,000 points that takes
    # longer than the bot's statement timeout, which migrations run without (bot.db.upgrade).
    # fastupdate off, as the other search indexes (0018): no pending list for every search
    # to read through.
    for lang in LANGUAGES:
        op.execute(f"CREATE INDEX {index(lang)} ON talkingpoint USING gin "
                   f"({FUNCTION}(search_text)) WITH (fastupdate = off) "
                   f"WHERE language = '{lang}'")


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for lang in LANGUAGES:
        op.execute(f'DROP INDEX IF EXISTS {index(lang)}')
