"""glossary: approved terms and the forms to avoid

Revision ID: 0010_glossary
Revises: 0009_interviews
Create Date: 2026-11-27 09:20:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0010_glossary'
down_revision: str | Sequence[str] | None = '0009_interviews'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_text = sqlmodel.sql.sqltypes.AutoString
_time = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table('glossary_term',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', _text(length=60), nullable=False),
    sa.Column('term', _text(length=60), nullable=False),
    sa.Column('preferred', _text(length=60), nullable=False),
    sa.Column('avoid', sa.JSON(), nullable=False),
    sa.Column('added_by', _text(length=160), nullable=False),
    sa.Column('added_by_name', _text(length=200), nullable=False),
    sa.Column('created_at', _time(), nullable=False),
    sa.Column('updated_at', _time(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key'),
    )


def downgrade() -> None:
    op.drop_table('glossary_term')
