"""surveys: questionnaires, one private link per recipient (its token's hash, unique), and
the responses

Revision ID: 0016_surveys
Revises: 0014_disputes
Create Date: 2026-11-27 14:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0016_surveys'
down_revision: str | Sequence[str] | None = '0014_disputes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _s(n: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=n)


def upgrade() -> None:
    op.create_table(
        'survey',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ref', _s(16), nullable=False),
        sa.Column('title', _s(200), nullable=False),
        sa.Column('template', _s(16), nullable=False),
        sa.Column('questions', sa.JSON(), nullable=False),
        sa.Column('status', _s(16), nullable=False),
        sa.Column('owner_platform', _s(16), nullable=False),
        sa.Column('owner_id', _s(128), nullable=False),
        sa.Column('owner_name', _s(200), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('closed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('ref'),
    )
    op.create_index('ix_survey_template', 'survey', ['template'])
    op.create_table(
        'survey_invitation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('survey_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', _s(64), nullable=False),
        sa.Column('token_nonce', _s(32), nullable=False),
        sa.Column('name', _s(100), nullable=False),
        sa.Column('email', _s(254), nullable=False),
        sa.Column('mobile', _s(32), nullable=False),
        sa.Column('locale', _s(8), nullable=False),
        sa.Column('channel', _s(8), nullable=False),
        sa.Column('complaint_ref', _s(24), nullable=False),
        sa.Column('sent_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('send_error', _s(300), nullable=False),
        sa.Column('mail_status', _s(16), nullable=False),
        sa.Column('mail_attempts', sa.Integer(), nullable=False),
        sa.Column('mail_due_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('lease_owner', _s(64), nullable=True),
        sa.Column('lease_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('batch', _s(32), nullable=False),
        sa.Column('invited_by', _s(160), nullable=False),
        sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('used_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['survey_id'], ['survey.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    op.create_index('ix_survey_invitation_survey_id', 'survey_invitation', ['survey_id'])
    op.create_index('ix_survey_invitation_complaint', 'survey_invitation', ['complaint_ref'])
    op.create_index('ix_survey_invitation_mail', 'survey_invitation',
                    ['mail_status', 'mail_due_at'])
    op.create_index('ix_survey_invitation_batch', 'survey_invitation', ['batch'])
    op.create_table(
        'survey_response',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('survey_id', sa.Integer(), nullable=False),
        sa.Column('invitation_id', sa.Integer(), nullable=False),
        sa.Column('answers', sa.JSON(), nullable=False),
        sa.Column('action_ref', _s(16), nullable=False),
        sa.Column('submitted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['invitation_id'], ['survey_invitation.id']),
        sa.ForeignKeyConstraint(['survey_id'], ['survey.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('invitation_id'),
    )
    op.create_index('ix_survey_response_survey_id', 'survey_response', ['survey_id'])


def downgrade() -> None:
    op.drop_index('ix_survey_response_survey_id', table_name='survey_response')
    op.drop_table('survey_response')
    op.drop_index('ix_survey_invitation_batch', table_name='survey_invitation')
    op.drop_index('ix_survey_invitation_mail', table_name='survey_invitation')
    op.drop_index('ix_survey_invitation_complaint', table_name='survey_invitation')
    op.drop_index('ix_survey_invitation_survey_id', table_name='survey_invitation')
    op.drop_table('survey_invitation')
    op.drop_index('ix_survey_template', table_name='survey')
    op.drop_table('survey')
