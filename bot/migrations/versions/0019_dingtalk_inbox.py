"""dingtalk inbox: robot messages recorded before their ACK, until handled

Revision ID: 0019_dingtalk_inbox
Revises: 0001_core
Create Date: 2026-11-27 22:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0019_dingtalk_inbox'
down_revision: str | Sequence[str] | None = '0001_core'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'dingtalk_inbox',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('msg_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('received_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('claimed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('msg_id'),
    )


def downgrade() -> None:
    op.drop_table('dingtalk_inbox')
