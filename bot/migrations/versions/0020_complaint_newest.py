"""complaint newest first: `/complaint list` reads the newest rows in index order

Revision ID: 0020_complaint_newest
Revises: 0004_complaints
Create Date: 2026-11-28 02:00:00.000000
"""
from collections.abc import Sequence

from alembic import op


revision: str = '0020_complaint_newest'
down_revision: str | Sequence[str] | None = '0004_complaints'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_complaint_created', 'complaint', ['created_at', 'id'])


def downgrade() -> None:
    op.drop_index('ix_complaint_created', table_name='complaint')
