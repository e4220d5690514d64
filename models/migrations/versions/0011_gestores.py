"""gestor: the programme's field staff; query: who made an assisted lookup, and where

A gestor's registered phone opens the assisted menu (issue 14). An assisted lookup is a `query`
row of channel `gestor` carrying the gestor's code, UT and Tambo at the time (no DNI, no phone).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'gestor',
        sa.Column('gestor_id', sa.String(length=16), nullable=False),
        sa.Column('nombres', sa.String(length=120), nullable=False),
        sa.Column('apellidos', sa.String(length=120), nullable=False),
        sa.Column('phone', sa.String(length=16), nullable=False),
        sa.Column('unidad_territorial', sa.String(length=40), nullable=False),
        sa.Column('tambo', sa.String(length=80), nullable=True),
        sa.Column('estado', sa.String(length=12), nullable=False),
        sa.Column('suspended_at', models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('suspended_by', sa.String(length=64), nullable=True),
        sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('gestor_id', name=op.f('pk_gestor')),
        sa.UniqueConstraint('phone', name=op.f('uq_gestor_phone')),
    )
    op.create_index(op.f('ix_gestor_unidad_territorial'), 'gestor', ['unidad_territorial'])
    with op.batch_alter_table('query') as batch:
        batch.add_column(sa.Column('gestor_id', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('gestor_ut', sa.String(length=40), nullable=True))
        batch.add_column(sa.Column('tambo', sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('query') as batch:
        batch.drop_column('tambo')
        batch.drop_column('gestor_ut')
        batch.drop_column('gestor_id')
    op.drop_index(op.f('ix_gestor_unidad_territorial'), table_name='gestor')
    op.drop_table('gestor')
