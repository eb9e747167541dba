"""talking point text per language: pg_trgm indexes of the folded text, one per language, so
a search for the lapsed points of one language reads only that language's trigrams

Revision ID: 0019_talking_point_text_lang
Revises: 0018_talking_point_places
Create Date: 2026-11-27 22:30:00.000000
"""
from collections.abc import Sequence

from alembic import op


revision: str = '0019_talking_point_text_lang'
down_revision: str | Sequence[str] | None = '0018_talking_point_places'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LANGUAGES = ('zh', 'en')  # handlers.talking_points.models.LANGUAGES: an index each


def index(language: str) -> str:  # handlers.talking_points.search.TEXT_INDEXES
    return f'ix_talkingpoint_search_trgm_{language}'


def upgrade() -> None:
    """PostgreSQL only, and only with pg_trgm (0003 may have gone on without it: searching
    then reads the table). An English word in the Chinese points' index (or the reverse)
    names nothing, where the index of every text names thousands of points to intersect
    with the lapsed ones. SQLite's FTS5 tables need no counterpart: its lapsed points are
    read through (status, verified_until) or the place table, per language (0018)."""
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    if not bind.exec_driver_sql(
            "SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").first():
        return
    # fastupdate off, as the other search indexes (0018): no pending list for every search
    # to read through.
    for lang in LANGUAGES:
        op.execute(f"CREATE INDEX {index(lang)} ON talkingpoint USING gin "
                   f"(search_text gin_trgm_ops) WITH (fastupdate = off) "
                   f"WHERE language = '{lang}'")


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for lang in LANGUAGES:
        op.execute(f'DROP INDEX IF EXISTS {index(lang)}')
