"""delivery messages in their own table

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 11:05:00

The worker updates a delivery row at each claim and record; SQLite rewrites the whole row on
UPDATE, the message included. Moving the message out keeps those updates small.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('delivery_content',
    sa.Column('delivery_id', sa.Integer(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['delivery.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('delivery_id')
    )
    op.execute(
        "INSERT INTO delivery_content (delivery_id, content) "
        "SELECT id, content FROM delivery WHERE length(content) > 0"
    )
    # Not a batch (copy-and-rename) on SQLite: dropping the old table would cascade, with
    # foreign keys on, to every delivery's attempts and content. SQLite ≥ 3.35 drops a column.
    op.execute("ALTER TABLE delivery DROP COLUMN content")


def downgrade() -> None:
    empty = "x''" if op.get_bind().dialect.name == "sqlite" else "''::bytea"
    op.add_column(
        'delivery',
        sa.Column('content', sa.LargeBinary(), nullable=False, server_default=sa.text(empty)),
    )
    op.execute(
        "UPDATE delivery SET content = (SELECT content FROM delivery_content "
        "WHERE delivery_content.delivery_id = delivery.id) "
        "WHERE id IN (SELECT delivery_id FROM delivery_content)"
    )
    op.drop_table('delivery_content')
