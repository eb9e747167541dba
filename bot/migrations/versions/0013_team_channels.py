"""team channels: a channel tied to a team (the zone its weekly review is read in)

Revision ID: 0013_team_channels
Revises: 0012_teams
Create Date: 2026-11-27 11:40:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0013_team_channels'
down_revision: str | Sequence[str] | None = '0012_teams'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('team_channel',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('workspace', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('channel_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('tied_by', sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
    sa.Column('tied_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform', 'channel_id')
    )
    with op.batch_alter_table('team_channel', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_team_channel_team_id'), ['team_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('team_channel', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_team_channel_team_id'))
    op.drop_table('team_channel')
