"""worker heartbeats: which delivery workers run against this database

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = sqlmodel.sql.sqltypes.UTCDateTime
TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "worker_heartbeat",
        sa.Column("owner", TEXT(length=200), nullable=False),
        sa.Column("host", TEXT(length=200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("kind", TEXT(length=8), nullable=False),
        sa.Column("started_at", UTC(), nullable=False),
        sa.Column("seen_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("owner"),
    )
    op.create_index(
        op.f("ix_worker_heartbeat_seen_at"), "worker_heartbeat", ["seen_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_worker_heartbeat_seen_at"), table_name="worker_heartbeat")
    op.drop_table("worker_heartbeat")
