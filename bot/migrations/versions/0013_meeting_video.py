"""meetings carry a video-conference link

Revision ID: 0013_meeting_video
Revises: 0012_action_origin
Create Date: 2026-11-27 11:30:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0013_meeting_video'
down_revision: str | Sequence[str] | None = '0012_action_origin'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.add_column(sa.Column('video_url', sqlmodel.sql.sqltypes.AutoString(length=500),
                                      nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.drop_column('video_url')
