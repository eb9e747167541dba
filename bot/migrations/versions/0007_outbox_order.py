"""outbox order: messages to one conversation go out in the order they were written

Revision ID: 0007_outbox_order
Revises: 0002_reminders
Create Date: 2026-11-27 08:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0007_outbox_order'
down_revision: str | Sequence[str] | None = '0002_reminders'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('reminder', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'conversation', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True))
        batch_op.create_index('ix_reminder_conversation', ['conversation', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('reminder', schema=None) as batch_op:
        batch_op.drop_index('ix_reminder_conversation')
        batch_op.drop_column('conversation')
