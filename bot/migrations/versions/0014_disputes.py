"""disputes: the dispute and its append-only entries

Revision ID: 0014_disputes
Revises: 0013_meeting_video
Create Date: 2026-11-27 11:40:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0014_disputes'
down_revision: str | Sequence[str] | None = '0013_meeting_video'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _s(n: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=n)


def upgrade() -> None:
    op.create_table(
        'dispute',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ref', _s(16), nullable=False),
        sa.Column('partner', _s(200), nullable=False),
        sa.Column('partner_key', _s(200), nullable=False),
        sa.Column('subject', _s(300), nullable=False),
        sa.Column('stake', _s(200), nullable=False),
        sa.Column('owner_platform', _s(16), nullable=False),
        sa.Column('owner_id', _s(128), nullable=False),
        sa.Column('owner_name', _s(200), nullable=False),
        sa.Column('status', _s(16), nullable=False),
        sa.Column('next_step', _s(300), nullable=False),
        sa.Column('next_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('mediator', sa.JSON(), nullable=False),
        sa.Column('mediation_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('outcome', sa.Text(), nullable=True),
        sa.Column('closed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('entries', sa.Integer(), nullable=False),
        sa.Column('last_entry_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('ref'),
    )
    op.create_index('ix_dispute_partner', 'dispute', ['partner_key', 'status'])
    op.create_index('ix_dispute_owner', 'dispute', ['owner_platform', 'owner_id', 'status'])
    op.create_table(
        'dispute_entry',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dispute_id', sa.Integer(), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.Column('kind', _s(16), nullable=False),
        sa.Column('point', sa.Integer(), nullable=True),
        sa.Column('side', _s(8), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('extra', sa.JSON(), nullable=False),
        sa.Column('supersedes', sa.Integer(), nullable=True),
        sa.Column('by_platform', _s(16), nullable=False),
        sa.Column('by_id', _s(128), nullable=False),
        sa.Column('by_name', _s(200), nullable=False),
        sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['dispute_id'], ['dispute.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('dispute_id', 'n'),
    )
    op.create_index('ix_dispute_entry_dispute_id', 'dispute_entry', ['dispute_id'])


def downgrade() -> None:
    op.drop_index('ix_dispute_entry_dispute_id', table_name='dispute_entry')
    op.drop_table('dispute_entry')
    op.drop_index('ix_dispute_owner', table_name='dispute')
    op.drop_index('ix_dispute_partner', table_name='dispute')
    op.drop_table('dispute')
