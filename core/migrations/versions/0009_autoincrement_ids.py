"""ids are never reused (AUTOINCREMENT on SQLite)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 14:30:00

SQLite hands a deleted row's id (the highest one) to the next insert unless the table was
created with AUTOINCREMENT; ids show in the CLI, the API and the audit log, so a reused id
would make an old reference point at a new row. SQLite cannot add AUTOINCREMENT to a table:
each table is rebuilt with SQLite's "generalized ALTER TABLE" procedure (foreign keys off,
create the new table, copy, drop the old one, rename, re-create its indexes, check the
foreign keys, commit), keeping every id and row. Foreign keys must be off while the old table
is dropped, or the drop would delete the children through ON DELETE CASCADE; the pragma
cannot change inside a transaction, hence the autocommit block.

PostgreSQL's sequences never hand out an id twice: nothing to do there.
Downgrade does nothing: AUTOINCREMENT changes no column, and reusing ids is never wanted.
"""

import re
from collections.abc import Sequence

from alembic import op
from sqlalchemy.engine import Connection

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tables whose ids appear in the CLI, the API or the audit log. Not rebuilt: send_slot (its ids
# never leave the rate limiter, and AUTOINCREMENT costs a write per insert on the send path),
# config_generation and system_settings (one row, id 1), and tables keyed by another table's id.
TABLES = (
    "tenant",
    "api_token",
    "audit_entry",
    "mail_server",
    "email_account",
    "custom_template",
    "event",
    "delivery",
    "delivery_attempt",
    "inbound_message",
    "slack_channel_link",
    "slack_route",
    "slack_inbox_route",
    "slack_tenant_admin",
    "slack_system_admin",
)

ID_COLUMN = re.compile(r"(\n\s*id INTEGER NOT NULL),")
TABLE_PRIMARY_KEY = re.compile(r",\s*\n\s*PRIMARY KEY \(id\)")
TABLE_NAME = re.compile(r'^CREATE TABLE "?(\w+)"?')


def autoincrement_sql(create_sql: str, new_name: str) -> str:
    """The CREATE TABLE of a table as created by SQLAlchemy, with its integer `id` made
    `PRIMARY KEY AUTOINCREMENT` (SQLite accepts AUTOINCREMENT only on the column itself)."""
    sql, found_column = ID_COLUMN.subn(r"\1 PRIMARY KEY AUTOINCREMENT,", create_sql, count=1)
    sql, found_key = TABLE_PRIMARY_KEY.subn("", sql, count=1)
    sql, found_name = TABLE_NAME.subn(f'CREATE TABLE "{new_name}"', sql, count=1)
    if (found_column, found_key, found_name) != (1, 1, 1):
        raise RuntimeError(f"unexpected schema, cannot add AUTOINCREMENT: {create_sql}")
    return sql


def _rebuild(connection: Connection, table: str) -> None:
    row = connection.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).first()
    if row is None or "AUTOINCREMENT" in row[0].upper():
        return  # absent, or already rebuilt by an earlier run that stopped before stamping
    extras = [
        sql
        for (sql,) in connection.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger') "
            "AND sql IS NOT NULL",
            (table,),
        )
    ]
    columns = ", ".join(
        f'"{name}"'
        for (name,) in connection.exec_driver_sql(f'SELECT name FROM pragma_table_info("{table}")')
    )
    new_table = f"_autoincrement_{table}"
    connection.exec_driver_sql(autoincrement_sql(row[0], new_table))
    connection.exec_driver_sql(
        f'INSERT INTO "{new_table}" ({columns}) SELECT {columns} FROM "{table}"'
    )
    connection.exec_driver_sql(f'DROP TABLE "{table}"')
    connection.exec_driver_sql(f'ALTER TABLE "{new_table}" RENAME TO "{table}"')
    for sql in extras:
        connection.exec_driver_sql(sql)
    # Copying explicit ids already moves the sequence to the highest one; said again here so
    # that the next id is above every existing one whatever the copy did.
    connection.exec_driver_sql(
        "DELETE FROM sqlite_sequence WHERE name = ?",
        (table,),
    )
    connection.exec_driver_sql(
        f'INSERT INTO sqlite_sequence (name, seq) SELECT ?, COALESCE(MAX(id), 0) FROM "{table}"',
        (table,),
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.get_context().autocommit_block():
        connection = op.get_bind()
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                for table in TABLES:
                    _rebuild(connection, table)
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
                if broken is not None:
                    raise RuntimeError(f"foreign key check failed after the rebuild: {broken}")
            except BaseException:
                connection.exec_driver_sql("ROLLBACK")
                raise
            connection.exec_driver_sql("COMMIT")
        finally:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")


def downgrade() -> None:
    pass
