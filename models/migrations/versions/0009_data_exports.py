"""data_export: when the programme exported each import, so answers know how fresh they are

One row an import (a re-import of the same export updates its row). The schedule data's age is
the export time of the latest import that carried cronograma.csv or abonos.csv.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'data_export',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('exported_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('source', sa.String(length=10), nullable=False),
        sa.Column('imported_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('files', sa.String(length=120), nullable=False),
        sa.Column('schedule', sa.Boolean(), nullable=False),
        sa.Column('rows_read', sa.Integer(), nullable=False),
        sa.Column('rows_changed', sa.Integer(), nullable=False),
        sa.Column('rows_rejected', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_data_export')),
        sa.UniqueConstraint('exported_at', 'files', name=op.f('uq_data_export_exported_at')),
    )


def downgrade() -> None:
    op.drop_table('data_export')
