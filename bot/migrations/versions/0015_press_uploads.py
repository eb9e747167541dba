"""press releases keep uploaded images (a logo, pictures) for the Word export

Revision ID: 0015_press_uploads
Revises: 0012_web_login
Create Date: 2026-11-27 12:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0015_press_uploads'
down_revision: str | Sequence[str] | None = '0012_web_login'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'press_upload',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('mime', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('uploaded_by', sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('press_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('logo_file_id', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('press_version', schema=None) as batch_op:
        batch_op.drop_column('logo_file_id')
    op.drop_table('press_upload')
