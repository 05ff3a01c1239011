"""webhook targets (signed JSON POSTs of routed events)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 17:10:00

Created with AUTOINCREMENT on SQLite from the start: ids are never reused (see 0009).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_target",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret_enc", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("fenced", sa.Boolean(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenant.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_webhook_target_tenant_id"), "webhook_target", ["tenant_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_webhook_target_tenant_id"), table_name="webhook_target")
    op.drop_table("webhook_target")
