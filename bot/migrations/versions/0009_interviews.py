"""interviews: preparation, sign-off and debrief

Revision ID: 0009_interviews
Revises: 0008_press
Create Date: 2026-11-27 09:10:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0009_interviews'
down_revision: str | Sequence[str] | None = '0008_press'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_text = sqlmodel.sql.sqltypes.AutoString
_time = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table('interview',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ref', _text(length=20), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('state', _text(length=16), nullable=False),
    sa.Column('owner_platform', _text(length=16), nullable=False),
    sa.Column('owner_id', _text(length=128), nullable=False),
    sa.Column('owner_name', _text(length=200), nullable=False),
    sa.Column('outlet', _text(length=100), nullable=False),
    sa.Column('journalist', _text(length=100), nullable=False),
    sa.Column('topic', _text(length=120), nullable=False),
    sa.Column('at', _time(), nullable=False),
    sa.Column('format', _text(length=16), nullable=False),
    sa.Column('spokesperson_platform', _text(length=16), nullable=False),
    sa.Column('spokesperson_id', _text(length=128), nullable=False),
    sa.Column('spokesperson_name', _text(length=200), nullable=False),
    sa.Column('questions', sa.JSON(), nullable=False),
    sa.Column('legal', sa.Boolean(), nullable=False),
    sa.Column('signoffs', sa.JSON(), nullable=False),
    sa.Column('confirmed_at', _time(), nullable=True),
    sa.Column('unprepared', sa.JSON(), nullable=False),
    sa.Column('correction', sa.Text(), nullable=False),
    sa.Column('debriefed_at', _time(), nullable=True),
    sa.Column('created_at', _time(), nullable=False),
    sa.Column('updated_at', _time(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('year', 'seq'),
    sa.UniqueConstraint('ref'),
    )
    op.create_index('ix_interview_state', 'interview', ['state'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_interview_state', table_name='interview')
    op.drop_table('interview')
