"""index on delivery.event_id

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 15:00:00

Deleting an event (retention, a deleted tenant) makes the database look for the deliveries
that reference it (the ON DELETE CASCADE); without this index that is a scan of the whole
delivery table per event: pruning 500 events took about 3 s on 50,000 deliveries.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_delivery_event", "delivery", ["event_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_delivery_event", table_name="delivery")
