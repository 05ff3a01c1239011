"""tenant CA bundles as PEM text (mail_server.ca_pem); hosts set by tenants (mail_server.fenced)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mail_server") as batch:
        batch.add_column(sa.Column("ca_pem", sa.Text(), nullable=True))
        # Rows saved before this revision keep working as they did: not fenced.
        # A literal default ("0", not sa.false()) lets SQLite add the column in place: a batch
        # copy drops mail_server with foreign keys on, nulling accounts' and deliveries' server.
        batch.add_column(sa.Column("fenced", sa.Boolean(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("mail_server") as batch:
        batch.drop_column("fenced")
        batch.drop_column("ca_pem")
