"""usage cursor: usage records staged in Redis are moved into `query` up to this stream id

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    cursor = op.create_table(
        'usage_cursor',
        sa.Column('name', sa.String(length=20), nullable=False),
        sa.Column('last_id', sa.String(length=40), nullable=False),
        sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_usage_cursor')),
    )
    # The one row the drain updates conditionally (see workers/usage.py).
    op.bulk_insert(cursor, [{'name': 'usage', 'last_id': '0-0', 'updated_at': models.base.utcnow()}])


def downgrade() -> None:
    op.drop_table('usage_cursor')
