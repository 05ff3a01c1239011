"""API tokens have scopes (read, write, events, admin) and may expire

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 09:00:00

Every token made before this revision gets every scope and no expiry: it keeps the full rights
it had for its tenant (a system token for everything). New tokens get their scopes from
`token create` (read, write and events unless told otherwise).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out rather than imported: a migration states the schema of its own day.
ALL_SCOPES = '["read", "write", "events", "admin"]'


def upgrade() -> None:
    # Both columns are added in place (a constant default, a nullable column): SQLite's batch
    # mode then alters the table without copying it, and existing rows get ALL_SCOPES.
    with op.batch_alter_table("api_token") as batch:
        batch.add_column(sa.Column("scopes", sa.JSON(), nullable=False, server_default=ALL_SCOPES))
        batch.add_column(
            sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("expires_at")
        batch.drop_column("scopes")
