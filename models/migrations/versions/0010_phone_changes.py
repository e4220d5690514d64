"""phone_change: every move of a household's phone of record, with its grace period and undo

The former phone is recognised by its keyed hash while the grace period lasts (an index lookup
on every first hop of a session, next to the one on household.phone).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'phone_change',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('hogar_id', sa.String(length=16), nullable=False),
        sa.Column('old_phone_key', sa.String(length=24), nullable=True),
        sa.Column('old_last3', sa.String(length=3), nullable=True),
        sa.Column('new_phone_key', sa.String(length=24), nullable=False),
        sa.Column('new_last3', sa.String(length=3), nullable=False),
        sa.Column('channel', sa.String(length=8), nullable=False),
        sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('grace_until', models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('reminders_before', sa.Boolean(), nullable=False),
        sa.Column('notice_id', sa.Integer(), nullable=True),
        sa.Column('undone_at', models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column('undone_by', sa.String(length=12), nullable=True),
        sa.ForeignKeyConstraint(['hogar_id'], ['household.hogar_id'],
                                name=op.f('fk_phone_change_hogar_id_household')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_phone_change')),
    )
    op.create_index(op.f('ix_phone_change_hogar_id'), 'phone_change', ['hogar_id'])
    op.create_index(op.f('ix_phone_change_old_phone_key'), 'phone_change', ['old_phone_key'])


def downgrade() -> None:
    op.drop_index(op.f('ix_phone_change_old_phone_key'), table_name='phone_change')
    op.drop_index(op.f('ix_phone_change_hogar_id'), table_name='phone_change')
    op.drop_table('phone_change')
