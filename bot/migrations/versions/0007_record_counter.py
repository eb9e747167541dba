"""one per-year id counter for every record type (record_counter), replacing the complaint,
communication and meeting counters; their values carry over

Revision ID: 0007_record_counter
Revises: 0004_complaints, 0005_meetings, 0006_comm
Create Date: 2026-11-27 08:10:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0007_record_counter'
down_revision: str | Sequence[str] | None = ('0004_complaints', '0005_meetings', '0006_comm')
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('record_counter',
    sa.Column('prefix', sqlmodel.sql.sqltypes.AutoString(length=4), nullable=False),
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('prefix', 'year')
    )
    op.execute("INSERT INTO record_counter (prefix, year, last) "
               "SELECT 'C', year, last FROM complaint_counter")
    op.execute("INSERT INTO record_counter (prefix, year, last) "
               "SELECT 'K', year, last FROM comm_counter")
    op.execute("INSERT INTO record_counter (prefix, year, last) "
               "SELECT prefix, year, value FROM meeting_counter")
    op.drop_table('complaint_counter')
    op.drop_table('comm_counter')
    op.drop_table('meeting_counter')


def downgrade() -> None:
    op.create_table('meeting_counter',
    sa.Column('prefix', sqlmodel.sql.sqltypes.AutoString(length=4), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('prefix', 'year')
    )
    op.create_table('comm_counter',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('year')
    )
    op.create_table('complaint_counter',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('year')
    )
    op.execute("INSERT INTO meeting_counter (prefix, year, value) "
               "SELECT prefix, year, last FROM record_counter WHERE prefix IN ('M', 'A')")
    op.execute("INSERT INTO comm_counter (year, last) "
               "SELECT year, last FROM record_counter WHERE prefix = 'K'")
    op.execute("INSERT INTO complaint_counter (year, last) "
               "SELECT year, last FROM record_counter WHERE prefix = 'C'")
    op.drop_table('record_counter')
