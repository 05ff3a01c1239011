"""mail that reads right: each owner's time zone and locale, custom templates per locale

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    # A tenant's NULL follows the system's value; the system's are always set.
    op.add_column("notification_settings", sa.Column("timezone", TEXT(length=64), nullable=True))
    op.add_column("notification_settings", sa.Column("locale", TEXT(length=16), nullable=True))
    op.add_column(
        "system_settings",
        sa.Column("timezone", TEXT(length=64), nullable=False, server_default="UTC"),
    )
    op.add_column(
        "system_settings",
        sa.Column("locale", TEXT(length=16), nullable=False, server_default="en_US"),
    )
    # "" is the owner's template for every locale (what existed before locales).
    op.add_column(
        "custom_template",
        sa.Column("locale", TEXT(length=16), nullable=False, server_default=""),
    )
    op.drop_index("uq_custom_template_tenant_name", table_name="custom_template")
    op.drop_index("uq_custom_template_system_name", table_name="custom_template")
    op.create_index(
        "uq_custom_template_tenant_name",
        "custom_template",
        ["tenant_id", "name", "locale"],
        unique=True,
    )
    op.create_index(
        "uq_custom_template_system_name",
        "custom_template",
        ["name", "locale"],
        unique=True,
        sqlite_where=sa.text("tenant_id IS NULL"),
        postgresql_where=sa.text("tenant_id IS NULL"),
    )


def downgrade() -> None:
    op.execute("DELETE FROM custom_template WHERE locale <> ''")
    op.drop_index("uq_custom_template_system_name", table_name="custom_template")
    op.drop_index("uq_custom_template_tenant_name", table_name="custom_template")
    op.create_index(
        "uq_custom_template_tenant_name", "custom_template", ["tenant_id", "name"], unique=True
    )
    op.create_index(
        "uq_custom_template_system_name",
        "custom_template",
        ["name"],
        unique=True,
        sqlite_where=sa.text("tenant_id IS NULL"),
        postgresql_where=sa.text("tenant_id IS NULL"),
    )
    with op.batch_alter_table("custom_template") as batch:
        batch.drop_column("locale")
    with op.batch_alter_table("system_settings") as batch:
        batch.drop_column("locale")
        batch.drop_column("timezone")
    with op.batch_alter_table("notification_settings") as batch:
        batch.drop_column("locale")
        batch.drop_column("timezone")
