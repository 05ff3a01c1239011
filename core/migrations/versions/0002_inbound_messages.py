"""inbound messages

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 04:30:30.535631
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('inbound_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('folder', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('uid', sa.BigInteger(), nullable=False),
    sa.Column('uidvalidity', sa.BigInteger(), nullable=False),
    sa.Column('message_id', sqlmodel.sql.sqltypes.AutoString(length=998), nullable=True),
    sa.Column('from_addr', sqlmodel.sql.sqltypes.AutoString(length=998), nullable=True),
    sa.Column('to_addr', sa.Text(), nullable=True),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=998), nullable=True),
    sa.Column('date', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('snippet', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('attachments', sa.JSON(), nullable=False),
    sa.Column('flags', sa.JSON(), nullable=False),
    sa.Column('quarantined', sa.Boolean(), nullable=False),
    sa.Column('quarantine_reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('fetched_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['email_account.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('inbound_message', schema=None) as batch_op:
        batch_op.create_index('ix_inbound_message_account_message_id', ['account_id', 'message_id'], unique=False)
        batch_op.create_index('uq_inbound_message_mailbox_uid', ['account_id', 'folder', 'uidvalidity', 'uid'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('inbound_message', schema=None) as batch_op:
        batch_op.drop_index('uq_inbound_message_mailbox_uid')
        batch_op.drop_index('ix_inbound_message_account_message_id')

    op.drop_table('inbound_message')
