"""talking point bigrams: an index for two-character words (退款, 环保), which trigram
indexes cannot serve

Revision ID: 0012_talking_point_bigrams
Revises: 0003_talking_points
Create Date: 2026-11-27 10:45:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0012_talking_point_bigrams'
down_revision: str | Sequence[str] | None = '0003_talking_points'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = 'talkingpoint_bigram'
INDEX = 'ix_talkingpoint_search_bigram'
FUNCTION = 'liaison_bigrams'  # bot.db.BIGRAMS


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        _sqlite()
    elif dialect == 'postgresql':
        _postgresql()


def _sqlite() -> None:
    """A contentless FTS5 table holding each served copy's two-character substrings as
    tokens (bot.db.bigram_tokens, registered on every connection as liaison_bigrams), kept
    in step by triggers. Without FTS5 there is no table and searching uses LIKE alone."""
    bind = op.get_bind()
    try:
        bind.exec_driver_sql(
            f"CREATE VIRTUAL TABLE {TABLE} USING fts5(grams, content='', tokenize='ascii')")
    except sa.exc.OperationalError:
        return
    op.execute(f"""
        CREATE TRIGGER {TABLE}_ai AFTER INSERT ON talkingpoint BEGIN
          INSERT INTO {TABLE}(rowid, grams) VALUES (new.id, {FUNCTION}(new.search_text));
        END""")
    op.execute(f"""
        CREATE TRIGGER {TABLE}_ad AFTER DELETE ON talkingpoint BEGIN
          INSERT INTO {TABLE}({TABLE}, rowid, grams)
            VALUES ('delete', old.id, {FUNCTION}(old.search_text));
        END""")
    op.execute(f"""
        CREATE TRIGGER {TABLE}_au AFTER UPDATE OF search_text ON talkingpoint BEGIN
          INSERT INTO {TABLE}({TABLE}, rowid, grams)
            VALUES ('delete', old.id, {FUNCTION}(old.search_text));
          INSERT INTO {TABLE}(rowid, grams) VALUES (new.id, {FUNCTION}(new.search_text));
        END""")
    op.execute(f"INSERT INTO {TABLE}(rowid, grams) "
               f"SELECT id, {FUNCTION}(search_text) FROM talkingpoint")


def _postgresql() -> None:
    """A GIN index over the array of each served copy's two-character substrings."""
    op.execute(f"""
        CREATE OR REPLACE FUNCTION {FUNCTION}(t text) RETURNS text[]
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
          SELECT coalesce(array_agg(DISTINCT substr(t, i, 2)), '{{}}'::text[])
          FROM generate_series(1, char_length(t) - 1) AS i
        $$""")
    op.execute(f"CREATE INDEX {INDEX} ON talkingpoint USING gin ({FUNCTION}(search_text))")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        for suffix in ('ai', 'ad', 'au'):
            op.execute(f'DROP TRIGGER IF EXISTS {TABLE}_{suffix}')
        op.execute(f'DROP TABLE IF EXISTS {TABLE}')
    elif dialect == 'postgresql':
        op.execute(f'DROP INDEX IF EXISTS {INDEX}')
        op.execute(f'DROP FUNCTION IF EXISTS {FUNCTION}(text)')
