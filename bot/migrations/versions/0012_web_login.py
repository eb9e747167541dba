"""web login: one-time sign-in links to the dashboard, and indexes its overview reads

Revision ID: 0012_web_login
Revises: 0011_principle_words
Create Date: 2026-11-27 10:50:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0012_web_login'
down_revision: str | Sequence[str] | None = '0011_principle_words'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('web_login',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('used_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash'),
    )
    with op.batch_alter_table('web_login', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_login_member_id'), ['member_id'], unique=False)
    # the dashboard's overview and the weekly review read these
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.create_index('ix_meeting_minutes_missing', ['minutes_at', 'minutes_due_at'], unique=False)
    with op.batch_alter_table('comm_record', schema=None) as batch_op:
        batch_op.create_index('ix_comm_record_executed', ['state', 'executed_at'], unique=False)
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.create_index('ix_complaint_received', ['received_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.drop_index('ix_complaint_received')
    with op.batch_alter_table('comm_record', schema=None) as batch_op:
        batch_op.drop_index('ix_comm_record_executed')
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.drop_index('ix_meeting_minutes_missing')
    with op.batch_alter_table('web_login', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_login_member_id'))
    op.drop_table('web_login')
