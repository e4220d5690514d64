"""outbox: a partial index the dispatcher's claim walks in order

A claim takes the oldest due rows, those of one payment operation together. Without an index in
that order, every claim sorted all pending rows of the due time (a national wave: 760k rows,
~1 s a claim). This index holds only pending planned rows, so it shrinks as a wave goes out.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

WHERE = sa.text("status = 'pending' AND kind IS NOT NULL")


def upgrade() -> None:
    op.create_index('ix_outbox_claim', 'outbox', ['send_after', 'subject', 'id'],
                    postgresql_where=WHERE, sqlite_where=WHERE)


def downgrade() -> None:
    op.drop_index('ix_outbox_claim', table_name='outbox')
