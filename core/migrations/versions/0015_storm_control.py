"""storm control: digests (bursts, held deliveries), re-sends, recipient modes, the system
server switch and SMTP proxies

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 23:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = sqlmodel.sql.sqltypes.UTCDateTime
TEXT = sqlmodel.sql.sqltypes.AutoString


# Columns are added in place (literal server defaults): a batch copy of `delivery` would
# rewrite the largest table and drop it with foreign keys on (see 0010).


def upgrade() -> None:
    op.add_column(
        "delivery", sa.Column("is_digest", sa.Boolean(), nullable=False, server_default="0")
    )
    # Plain ids, no foreign key: retention prunes a digest and its held deliveries (a copy and
    # its original) in any order, and a pruned one simply reads as gone.
    op.add_column("delivery", sa.Column("digest_id", sa.Integer(), nullable=True))
    op.add_column("delivery", sa.Column("resent_from", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_delivery_digest_id"), "delivery", ["digest_id"])
    op.create_table(
        "digest_burst",
        sa.Column("burst_key", TEXT(length=120), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=True),
        sa.Column("event", TEXT(length=32), nullable=False),
        sa.Column("channel", TEXT(length=8), nullable=False),
        sa.Column("opened_at", UTC(), nullable=False),
        sa.Column("closes_at", UTC(), nullable=False),
        sa.Column("singles", sa.Integer(), nullable=False),
        sa.Column("digest_id", sa.Integer(), nullable=True),
        sa.Column("held_last_window", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenant.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["digest_id"], ["delivery.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("burst_key"),
    )
    op.create_index("ix_digest_burst_closes", "digest_burst", ["closes_at"])
    for table in ("notification_settings", "system_settings"):
        op.add_column(
            table,
            sa.Column("recipient_mode", TEXT(length=12), nullable=False, server_default="to"),
        )
        op.add_column(table, sa.Column("digests", sa.JSON(), nullable=False, server_default="{}"))
    op.add_column(
        "notification_settings",
        sa.Column("use_system_server", sa.Boolean(), nullable=False, server_default="0"),
    )
    op.add_column("mail_server", sa.Column("proxy_url", sa.Text(), nullable=True))
    op.add_column("mail_server", sa.Column("proxy_password_enc", TEXT(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mail_server") as batch:
        batch.drop_column("proxy_password_enc")
        batch.drop_column("proxy_url")
    with op.batch_alter_table("notification_settings") as batch:
        batch.drop_column("use_system_server")
    for table in ("system_settings", "notification_settings"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("digests")
            batch.drop_column("recipient_mode")
    op.drop_index("ix_digest_burst_closes", table_name="digest_burst")
    op.drop_table("digest_burst")
    op.drop_index(op.f("ix_delivery_digest_id"), table_name="delivery")
    # In place, as they were added (SQLite drops a plain column since 3.35).
    for name in ("resent_from", "digest_id", "is_digest"):
        op.drop_column("delivery", name)
