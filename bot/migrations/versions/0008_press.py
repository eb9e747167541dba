"""press releases: releases, their versions and the reviewers' decisions

Revision ID: 0008_press
Revises: 0007_record_counter
Create Date: 2026-11-27 09:05:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0008_press'
down_revision: str | Sequence[str] | None = '0007_record_counter'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_text = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table('press_release',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ref', _text(length=20), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('state', _text(length=16), nullable=False),
    sa.Column('author_platform', _text(length=16), nullable=False),
    sa.Column('author_id', _text(length=128), nullable=False),
    sa.Column('author_name', _text(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('published_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('published_by', _text(length=160), nullable=False),
    sa.Column('published_to', _text(length=200), nullable=False),
    sa.Column('comm_ref', _text(length=20), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('year', 'seq'),
    sa.UniqueConstraint('ref'),
    )
    op.create_index('ix_press_release_state', 'press_release', ['state'], unique=False)
    op.create_table('press_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('release_ref', _text(length=20), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('headline', _text(length=120), nullable=False),
    sa.Column('background', sa.Text(), nullable=False),
    sa.Column('facts', sa.JSON(), nullable=False),
    sa.Column('contact_name', _text(length=200), nullable=False),
    sa.Column('contact_way', _text(length=200), nullable=False),
    sa.Column('logo', _text(length=500), nullable=False),
    sa.Column('images', sa.JSON(), nullable=False),
    sa.Column('planned_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('legal', sa.Boolean(), nullable=False),
    sa.Column('created_by', _text(length=160), nullable=False),
    sa.Column('created_by_name', _text(length=200), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('release_ref', 'number'),
    )
    op.create_index(op.f('ix_press_version_release_ref'), 'press_version', ['release_ref'],
                    unique=False)
    op.create_table('press_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('release_ref', _text(length=20), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('side', _text(length=8), nullable=False),
    sa.Column('decision', _text(length=8), nullable=False),
    sa.Column('by', _text(length=160), nullable=False),
    sa.Column('by_name', _text(length=200), nullable=False),
    sa.Column('note', _text(length=500), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_press_decision_release', 'press_decision', ['release_ref', 'version'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_press_decision_release', table_name='press_decision')
    op.drop_table('press_decision')
    op.drop_index(op.f('ix_press_version_release_ref'), table_name='press_version')
    op.drop_table('press_version')
    op.drop_index('ix_press_release_state', table_name='press_release')
    op.drop_table('press_release')
