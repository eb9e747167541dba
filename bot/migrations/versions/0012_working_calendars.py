"""working calendars: calendar choices, company days off, and the complaint's two clocks

Revision ID: 0012_working_calendars
Revises: 0011_principle_words
Create Date: 2026-11-27 10:50:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0012_working_calendars'
down_revision: str | Sequence[str] | None = '0011_principle_words'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('calendar_choice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('calendar', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('hours', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('set_by', sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
    sa.Column('set_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('scope'),
    )
    op.create_table('calendar_day_off',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('added_by', sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
    sa.Column('added_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('day'),
    )
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resolve_due_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                                      nullable=True))
        batch_op.add_column(sa.Column('run_since', sqlmodel.sql.sqltypes.UTCDateTime(),
                                      nullable=True))
        batch_op.add_column(sa.Column('response_worked', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('resolve_worked', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('escalation_level', sa.Integer(), nullable=False,
                                      server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.drop_column('escalation_level')
        batch_op.drop_column('resolve_worked')
        batch_op.drop_column('response_worked')
        batch_op.drop_column('run_since')
        batch_op.drop_column('resolve_due_at')
    op.drop_table('calendar_day_off')
    op.drop_table('calendar_choice')
