"""talking point places: indexes of the two- and three-character substrings of each point's
topic, question and tags (and, on SQLite, its whole text), per language, so a search finds the
points a word ranks highest in without reading every point that mentions it

Revision ID: 0018_talking_point_places
Revises: 0017_talking_point_walk
Create Date: 2026-11-27 17:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0018_talking_point_places'
down_revision: str | Sequence[str] | None = '0017_talking_point_walk'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = 'talkingpoint_place'  # SQLite (handlers.talking_points.search.PLACE_TABLE)
TOKENS = 'liaison_place_tokens'  # SQLite: bot.db.PLACE_TOKENS
LANGUAGES = ('zh', 'en')  # handlers.talking_points.models.LANGUAGES: an index each (PG)
FUNCTION = 'liaison_grams'  # PostgreSQL: bot.db.GRAMS
# PostgreSQL: the text's GIN indexes (pg_trgm, 0003; bigrams, 0012).
EXISTING = ('ix_talkingpoint_search_trgm', 'ix_talkingpoint_search_bigram')


def grams(column: str) -> str:  # PostgreSQL
    # lower(): what ILIKE compares (it lower-cases both sides): the index misses no match.
    return f'{FUNCTION}(lower({column}))'


PLACES = ('topic', 'question', 'tags')  # PostgreSQL: a GIN index per place and language


def index(column: str, language: str) -> str:  # PostgreSQL
    return f"ix_talkingpoint_{column}_grams_{language}"


def upgrade() -> None:
    # Which points have lapsed, per language, read from the index alone.
    op.create_index('ix_talkingpoint_lapsed', 'talkingpoint',
                    ['status', 'verified_until', 'language'])
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        _sqlite()
    elif dialect == 'postgresql':
        _postgresql()


def _sqlite() -> None:
    """A contentless FTS5 table of every two- and three-character substring of each point's
    topic, question, tags and folded text, each a token naming its place and the point's
    language (bot.db.place_tokens, registered on every connection): a word's candidates in
    one place and language are then one short list per gram, and only which rows hold a
    token is kept (detail=none). Kept in step by triggers. Without FTS5 there is none, and
    searching ranks every match."""
    bind = op.get_bind()
    try:
        bind.exec_driver_sql(f"CREATE VIRTUAL TABLE {TABLE} USING fts5(tokens, content='', "
                             "tokenize='ascii', detail='none')")
    except sa.exc.OperationalError:
        return

    def tokens(row: str) -> str:
        return (f"{TOKENS}({row}language, {row}topic, {row}question, {row}tags, "
                f"{row}search_text)")

    def insert(row: str) -> str:
        return f"INSERT INTO {TABLE}(rowid, tokens) VALUES ({row}.id, {tokens(row + '.')});"

    def delete(row: str) -> str:
        return (f"INSERT INTO {TABLE}({TABLE}, rowid, tokens) "
                f"VALUES ('delete', {row}.id, {tokens(row + '.')});")

    op.execute(f"CREATE TRIGGER {TABLE}_ai AFTER INSERT ON talkingpoint BEGIN\n"
               f"  {insert('new')}\nEND")
    op.execute(f"CREATE TRIGGER {TABLE}_ad AFTER DELETE ON talkingpoint BEGIN\n"
               f"  {delete('old')}\nEND")
    op.execute(f"CREATE TRIGGER {TABLE}_au AFTER UPDATE OF topic, question, tags, language, "
               f"search_text ON talkingpoint BEGIN\n  {delete('old')}\n  {insert('new')}\nEND")
    op.execute(f"INSERT INTO {TABLE}(rowid, tokens) SELECT id, {tokens('')} FROM talkingpoint")


def _postgresql() -> None:
    """GIN indexes over the same grams (a text[]) of the topic, the question and the tags, one
    partial index per language: a search asks about one language at a time, and a word of
    one language then costs nothing to look up among the points of the other."""
    op.execute(f"""
        CREATE OR REPLACE FUNCTION {FUNCTION}(t text) RETURNS text[]
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
          SELECT coalesce(array_agg(DISTINCT substr(t, i, n)), '{{}}'::text[])
          FROM generate_series(2, 3) AS n,
               LATERAL generate_series(1, char_length(t) - n + 1) AS i
        $$""")
    # fastupdate off: with it on, new entries wait in a pending list that every search reads
    # through until a vacuum merges them (several milliseconds a search after a bulk import).
    # Points are approved one at a time; searching them is what must be quick.
    for column in PLACES:
        for lang in LANGUAGES:
            op.execute(f"CREATE INDEX {index(column, lang)} ON talkingpoint USING gin "
                       f"(({grams(column)})) WITH (fastupdate = off) WHERE language = '{lang}'")
    for existing in EXISTING:
        op.execute(f'ALTER INDEX IF EXISTS {existing} SET (fastupdate = off)')
        # Turning it off does not merge what already waits in the list ("GIN Fast Update
        # Technique": gin_clean_pending_list does).
        op.execute(f"SELECT gin_clean_pending_list(to_regclass('{existing}')) "
                   f"WHERE to_regclass('{existing}') IS NOT NULL")


def downgrade() -> None:
    op.drop_index('ix_talkingpoint_lapsed', table_name='talkingpoint')
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        for suffix in ('ai', 'ad', 'au'):
            op.execute(f'DROP TRIGGER IF EXISTS {TABLE}_{suffix}')
        op.execute(f'DROP TABLE IF EXISTS {TABLE}')
    elif dialect == 'postgresql':
        for existing in EXISTING:
            op.execute(f'ALTER INDEX IF EXISTS {existing} RESET (fastupdate)')
        for column in PLACES:
            for lang in LANGUAGES:
                op.execute(f'DROP INDEX IF EXISTS {index(column, lang)}')
        op.execute(f'DROP FUNCTION IF EXISTS {FUNCTION}(text)')
