"""talking point walk: indexes that let a search stop at the first few points whose topic
matches (in tie-break order) and find the points whose topic is the query

Revision ID: 0017_talking_point_walk
Revises: 0012_talking_point_bigrams
Create Date: 2026-11-27 15:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0017_talking_point_walk'
down_revision: str | Sequence[str] | None = '0012_talking_point_bigrams'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_talkingpoint_walk', 'talkingpoint',
                    ['status', 'language', sa.text('verified_at DESC'), 'id'])
    op.create_index('ix_talkingpoint_topic_lower', 'talkingpoint', [sa.text('lower(topic)')])


def downgrade() -> None:
    op.drop_index('ix_talkingpoint_topic_lower', table_name='talkingpoint')
    op.drop_index('ix_talkingpoint_walk', table_name='talkingpoint')
