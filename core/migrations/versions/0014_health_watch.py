"""health watch: subjects, their changes, a service lease; revoked authorization, IMAP backoff,
Slack post results, the key canary and the mail-health toggles

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 20:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = sqlmodel.sql.sqltypes.UTCDateTime
TEXT = sqlmodel.sql.sqltypes.AutoString


# Literal server defaults let SQLite add each column in place (see 0010): a batch copy of a
# table drops it with foreign keys on.


def upgrade() -> None:
    op.create_table(
        "health_subject",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", TEXT(length=120), nullable=False),
        sa.Column("kind", TEXT(length=16), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=True),
        sa.Column("subject", TEXT(length=200), nullable=False),
        sa.Column("state", TEXT(length=8), nullable=False),
        sa.Column("reason", TEXT(length=1000), nullable=False),
        sa.Column("since", UTC(), nullable=False),
        sa.Column("checked_at", UTC(), nullable=True),
        sa.Column("candidate_state", TEXT(length=8), nullable=True),
        sa.Column("candidate_reason", TEXT(length=1000), nullable=True),
        sa.Column("alerted_state", TEXT(length=8), nullable=True),
        sa.Column("alerted_at", UTC(), nullable=True),
        sa.Column("muted_until", UTC(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenant.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_health_subject_key"), "health_subject", ["key"], unique=True)
    op.create_index(op.f("ix_health_subject_tenant_id"), "health_subject", ["tenant_id"])
    op.create_table(
        "health_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_key", TEXT(length=120), nullable=False),
        sa.Column("kind", TEXT(length=16), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=True),
        sa.Column("state", TEXT(length=8), nullable=False),
        sa.Column("reason", TEXT(length=1000), nullable=False),
        sa.Column("at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenant.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_health_change_subject_key"), "health_change", ["subject_key"])
    op.create_index(op.f("ix_health_change_tenant_id"), "health_change", ["tenant_id"])
    op.create_index(op.f("ix_health_change_at"), "health_change", ["at"])
    op.create_table(
        "service_lease",
        sa.Column("name", TEXT(length=32), nullable=False),
        sa.Column("owner", TEXT(length=100), nullable=True),
        sa.Column("until", UTC(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("mail_server") as batch:
        batch.add_column(sa.Column("auth_revoked_at", UTC(), nullable=True))
        batch.add_column(sa.Column("auth_revoked_reason", TEXT(length=1000), nullable=True))
        batch.add_column(
            sa.Column("auth_refusals", sa.JSON(), nullable=False, server_default="[]")
        )
    with op.batch_alter_table("email_account") as batch:
        batch.add_column(
            sa.Column("sync_failures", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("sync_next_at", UTC(), nullable=True))
        batch.add_column(sa.Column("sync_stopped_reason", TEXT(length=1000), nullable=True))
        batch.add_column(
            sa.Column("login_failures", sa.JSON(), nullable=False, server_default="[]")
        )
    with op.batch_alter_table("slack_channel_link") as batch:
        batch.add_column(sa.Column("last_post_at", UTC(), nullable=True))
        batch.add_column(sa.Column("last_post_error", TEXT(length=100), nullable=True))
    with op.batch_alter_table("notification_settings") as batch:
        batch.add_column(
            sa.Column("notify_mail_health", sa.Boolean(), nullable=False, server_default="1")
        )
    with op.batch_alter_table("system_settings") as batch:
        batch.add_column(
            sa.Column("notify_mail_health", sa.Boolean(), nullable=False, server_default="1")
        )
        batch.add_column(sa.Column("key_canary_enc", TEXT(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("system_settings") as batch:
        batch.drop_column("key_canary_enc")
        batch.drop_column("notify_mail_health")
    with op.batch_alter_table("notification_settings") as batch:
        batch.drop_column("notify_mail_health")
    with op.batch_alter_table("slack_channel_link") as batch:
        batch.drop_column("last_post_error")
        batch.drop_column("last_post_at")
    with op.batch_alter_table("email_account") as batch:
        batch.drop_column("login_failures")
        batch.drop_column("sync_stopped_reason")
        batch.drop_column("sync_next_at")
        batch.drop_column("sync_failures")
    with op.batch_alter_table("mail_server") as batch:
        batch.drop_column("auth_refusals")
        batch.drop_column("auth_revoked_reason")
        batch.drop_column("auth_revoked_at")
    op.drop_table("service_lease")
    op.drop_index(op.f("ix_health_change_at"), table_name="health_change")
    op.drop_index(op.f("ix_health_change_tenant_id"), table_name="health_change")
    op.drop_index(op.f("ix_health_change_subject_key"), table_name="health_change")
    op.drop_table("health_change")
    op.drop_index(op.f("ix_health_subject_tenant_id"), table_name="health_subject")
    op.drop_index(op.f("ix_health_subject_key"), table_name="health_subject")
    op.drop_table("health_subject")
