"""alerts that update in place: edit deliveries and the alert a health recovery edits

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ids, no foreign keys: retention may prune the edited delivery or the alert's event
    # first, and a missing one only means there is nothing left to edit.
    op.add_column("delivery", sa.Column("edit_of", sa.Integer(), nullable=True))
    op.add_column("health_subject", sa.Column("alert_event_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    # An edit still queued would become a second post of its alert: it goes.
    op.execute("DELETE FROM delivery WHERE edit_of IS NOT NULL AND status IN ('queued', 'sending')")
    # In place, as they were added (SQLite drops a plain column since 3.35): a copy-and-rename
    # of `delivery` would cascade to its messages and attempts.
    op.drop_column("health_subject", "alert_event_id")
    op.drop_column("delivery", "edit_of")
