"""outbox: a partial index of the rows still awaiting their delivery report

/metrics reads, at every scrape of every web machine, the oldest message sent in the last day
that is still `submitted`, and how many of them are late (docs/DEPLOY.md,
MiJuntosDeliveryReportsLate). Without this index that read fetched every `submitted` row ever
made, and rows whose report was lost stay `submitted` for good, so it grew with every wave. This
index holds only `submitted` rows, by their sending time: the read is one short range scan.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

WHERE = sa.text("status = 'submitted'")


def upgrade() -> None:
    op.create_index('ix_outbox_submitted', 'outbox', ['sent_at'],
                    postgresql_where=WHERE, sqlite_where=WHERE)


def downgrade() -> None:
    op.drop_index('ix_outbox_submitted', table_name='outbox')
