"""signed Slack requests seen in the last 5 minutes (replay refusal)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slack_request_seen",
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("signature"),
    )
    op.create_index(
        op.f("ix_slack_request_seen_timestamp"), "slack_request_seen", ["timestamp"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_slack_request_seen_timestamp"), table_name="slack_request_seen")
    op.drop_table("slack_request_seen")
