"""action items from training logs too: meeting_id optional, origin and origin_ref

Revision ID: 0012_action_origin
Revises: 0007_record_counter
Create Date: 2026-11-27 10:56:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0012_action_origin'
down_revision: str | Sequence[str] | None = '0007_record_counter'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('meeting_action', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin', sqlmodel.sql.sqltypes.AutoString(length=16),
                                      nullable=False, server_default='meeting'))
        batch_op.add_column(sa.Column('origin_ref', sqlmodel.sql.sqltypes.AutoString(length=16),
                                      nullable=False, server_default=''))
        batch_op.alter_column('meeting_id', existing_type=sa.INTEGER(), nullable=True)
    # Existing items all come from meetings: name their meeting.
    op.execute("UPDATE meeting_action SET origin_ref = (SELECT meeting.ref FROM meeting "
               "WHERE meeting.id = meeting_action.meeting_id) WHERE meeting_id IS NOT NULL")


def downgrade() -> None:
    op.execute("DELETE FROM meeting_action WHERE meeting_id IS NULL")
    with op.batch_alter_table('meeting_action', schema=None) as batch_op:
        batch_op.alter_column('meeting_id', existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column('origin_ref')
        batch_op.drop_column('origin')
