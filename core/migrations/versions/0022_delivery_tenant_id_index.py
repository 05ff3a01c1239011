"""an index on delivery (tenant_id, id): a tenant's delivery log a page at a time by id

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 09:00:00

The delivery log is read newest first by id, a page at a time below the previous page's last
id (`GET /api/v1/deliveries`, `mailbell deliveries list --tenant`). For one tenant, the only
index starting with tenant_id was (tenant_id, created_at, status): SQLite then read every row
of the tenant and sorted them for each page (bench/api.py --pages: 500,000 rows, seconds a
page). On (tenant_id, id) a page is 50 index steps, as fast 10,000 pages deep as on the first.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_delivery_tenant_id", "delivery", ["tenant_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_delivery_tenant_id", table_name="delivery")
