"""audit entries record each changed field's value before and after

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 09:10:00

A nullable JSON column `changes` ({field: {"before": v, "after": v}}, a secret's values the
string "changed"). Entries written before it keep their field names in `fields` and read back
with before and after null. A nullable column is added in place on both databases (no copy of
a table that may hold millions of rows); nothing is backfilled, the old values are not known.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("audit_entry", sa.Column("changes", sa.JSON(), nullable=True))


def downgrade() -> None:
    # SQLite drops a column in place since 3.35 (the batch copy would rewrite the whole log).
    op.drop_column("audit_entry", "changes")
