"""Ids are never reused: a deleted row's id is never handed to a new row (AUTOINCREMENT on
SQLite, sequences on PostgreSQL), and migration 0009 keeps every existing id and row."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

import core.models  # noqa: F401  (fills SQLModel.metadata)
from core.db import make_engine, upgrade

NOW = "2026-12-05 10:00:00"
MIGRATION = importlib.import_module("core.migrations.versions.0009_autoincrement_ids")


@pytest.fixture
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of the backend under test (--db)."""
    if request.config.getoption("--db") == "postgres":
        return request.getfixturevalue("postgres_server").create_database(migrated=False)
    return f"sqlite:///{tmp_path / 'ids.db'}"


def _insert(connection: Connection, table: str, **values: object) -> int:
    columns = ", ".join(f'"{name}"' for name in values)
    params = ", ".join(f":{name}" for name in values)
    row = connection.execute(
        text(f"INSERT INTO {table} ({columns}) VALUES ({params}) RETURNING id"), values
    ).one()
    return int(row[0])


def _tenant_with_everything(connection: Connection, slug: str) -> dict[str, int]:
    """One row in every table with an id, all belonging to tenant `slug` (0008's schema)."""
    ids: dict[str, int] = {}
    ids["tenant"] = tenant = _insert(connection, "tenant", slug=slug, name=slug, created_at=NOW)
    stamps = {"created_at": NOW, "updated_at": NOW}
    ids["mail_server"] = server = _insert(
        connection, "mail_server", tenant_id=tenant, name="Main", provider="SMTP",
        host="smtp.example.org", port=587, security="starttls", auth="AUTO", timeout=30.0,
        rate_limit_per_minute=0, tls_verify=True, is_default=True, **stamps,
    )  # fmt: skip
    ids["email_account"] = account = _insert(
        connection, "email_account", tenant_id=tenant, email=f"help@{slug}.org",
        display_name="Help", mail_server_id=server, is_default=True, imap_port=993,
        imap_tls=True, imap_folder="INBOX", message_count=1, **stamps,
    )  # fmt: skip
    ids["inbound_message"] = _insert(
        connection, "inbound_message", account_id=account, folder="INBOX", uid=7,
        uidvalidity=1, snippet="hi", size=2, attachments="[]", flags="[]", quarantined=False,
        fetched_at=NOW,
    )  # fmt: skip
    ids["event"] = event = _insert(
        connection, "event", tenant_id=tenant, name="QUEUE_CALL_LOST", payload="{}",
        created_at=NOW,
    )  # fmt: skip
    ids["delivery"] = delivery = _insert(
        connection, "delivery", event_id=event, tenant_id=tenant, event="QUEUE_CALL_LOST",
        channel="email", target="ops@example.org", mail_server_id=server, status="failed",
        attempts=1, sender="", pending="[]", results="{}", next_attempt_at=NOW, **stamps,
    )  # fmt: skip
    connection.execute(
        text("INSERT INTO delivery_content (delivery_id, content) VALUES (:id, :content)"),
        {"id": delivery, "content": b"sealed"},
    )
    ids["delivery_attempt"] = _insert(
        connection, "delivery_attempt", delivery_id=delivery, at=NOW, outcome="failed"
    )
    ids["api_token"] = _insert(
        connection, "api_token", name="pbx", tenant_id=tenant, token_hash=slug * 4,
        prefix="mb_", created_at=NOW,
    )  # fmt: skip
    ids["audit_entry"] = _insert(
        connection, "audit_entry", at=NOW, actor="root", source="cli", tenant=slug,
        action="tenant.create", fields="[]",
    )  # fmt: skip
    ids["custom_template"] = _insert(
        connection, "custom_template", tenant_id=tenant, name="QUEUE_CALL_LOST",
        mail_from="", subject="s", body="b", **stamps,
    )  # fmt: skip
    ids["slack_channel_link"] = link = _insert(
        connection, "slack_channel_link", team_id="T1", channel_id=f"C{slug}", tenant_id=tenant,
        created_at=NOW,
    )  # fmt: skip
    ids["slack_route"] = _insert(connection, "slack_route", link_id=link, event="*", created_at=NOW)
    ids["slack_inbox_route"] = _insert(
        connection, "slack_inbox_route", link_id=link, account_id=account, from_pattern="",
        created_at=NOW,
    )  # fmt: skip
    ids["slack_tenant_admin"] = _insert(
        connection, "slack_tenant_admin", tenant_id=tenant, team_id="", user_id=f"U{slug}",
        created_at=NOW,
    )  # fmt: skip
    ids["slack_system_admin"] = _insert(
        connection, "slack_system_admin", team_id="", user_id=f"S{slug}", created_at=NOW
    )
    connection.execute(
        text(
            "INSERT INTO notification_settings (tenant_id, recipients, notify_user_registration,"
            " notify_queue_sla_breached, notify_queue_callback, notify_queue_callback_failed,"
            " notify_queue_call_lost, updated_at) VALUES (:t, '[]', false, false, false,"
            " false, true, :now)"
        ),
        {"t": tenant, "now": NOW},
    )
    return ids


def _rows(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table 0009 touches, and of the children keyed by a parent's id."""
    tables = [*MIGRATION.TABLES, "delivery_content", "notification_settings"]
    with engine.connect() as connection:
        return {
            table: [
                tuple(row) for row in connection.execute(text(f"SELECT * FROM {table} ORDER BY 1"))
            ]
            for table in tables
        }


def test_migration_keeps_ids_rows_and_children_then_never_reuses_an_id(empty_url: str) -> None:
    engine = make_engine(empty_url)
    upgrade(engine, "0008")
    with engine.begin() as connection:
        acme = _tenant_with_everything(connection, "acme")
        globex = _tenant_with_everything(connection, "globex")
    before = _rows(engine)
    assert all(before[table] for table in MIGRATION.TABLES)

    upgrade(engine)

    after = _rows(engine)
    # Later revisions add columns (0010, 0014): compare the columns 0008 had (they come first).
    after = {table: [row[: len(before[table][0])] for row in rows] for table, rows in after.items()}
    assert after == before
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT 1").scalar() == 1
        if engine.dialect.name == "sqlite":
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []

    with engine.begin() as connection:
        # Foreign keys still hold after the rebuild: deleting a tenant cascades to its rows.
        connection.execute(text("DELETE FROM tenant WHERE id = :id"), {"id": globex["tenant"]})
        for table in ("delivery_content", "notification_settings"):
            assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 1
        # The deleted tenant's ids were the highest of every table: none comes back.
        again = _tenant_with_everything(connection, "initech")
    for table, new_id in again.items():
        assert new_id > globex[table] > acme[table], table
    engine.dispose()


def test_an_interrupted_upgrade_resumes_without_rebuilding_twice(tmp_path: Path) -> None:
    """Each table is rebuilt once: a run stopped after the rebuild (before alembic stamped
    0009) leaves tables that already have AUTOINCREMENT, and the rerun keeps them as they are."""
    engine = make_engine(f"sqlite:///{tmp_path / 'resume.db'}")
    upgrade(engine, "0008")
    with engine.begin() as connection:
        ids = _tenant_with_everything(connection, "acme")
    upgrade(engine, "0009")
    before = _rows(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0008'")
    upgrade(engine)
    assert _rows(engine)["tenant"] == before["tenant"]
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM tenant WHERE id = :id"), {"id": ids["tenant"]})
        assert _insert(connection, "tenant", slug="b", name="b", created_at=NOW) > ids["tenant"]
    engine.dispose()


def test_every_table_with_public_ids_is_autoincrement_in_models_and_migration(
    tmp_path: Path,
) -> None:
    flagged = {
        table.name
        for table in SQLModel.metadata.sorted_tables
        if table.dialect_options["sqlite"].get("autoincrement")
    }
    # 0013 and 0014 create theirs so
    assert flagged == set(MIGRATION.TABLES) | {"webhook_target", "health_subject", "health_change"}
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    upgrade(engine)
    with engine.connect() as connection:
        schema = dict(
            connection.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
            ).all()
        )
    assert {name for name in flagged if "AUTOINCREMENT" not in schema[name]} == set()
    engine.dispose()


def _ok(cli, *args: str) -> str:
    result = cli(*args)
    assert result.code == 0, result.err
    return result.out


def test_cli_ids_of_removed_servers_and_accounts_are_not_reused(cli) -> None:
    _ok(cli, "tenant", "add", "acme")
    for name in ("A", "B"):
        _ok(cli, "server", "add", "--tenant", "acme", "--name", name, "--host", "smtp.acme.org",
            "--auth", "DISABLE", "--from", "alerts@acme.org")  # fmt: skip
    _ok(cli, "server", "remove", "2", "--tenant", "acme", "--yes")
    _ok(cli, "server", "add", "--tenant", "acme", "--name", "C", "--host", "smtp.acme.org",
        "--auth", "DISABLE", "--from", "alerts@acme.org")  # fmt: skip
    servers = json.loads(_ok(cli, "server", "list", "--tenant", "acme", "--json"))
    assert [(s["name"], s["id"]) for s in servers] == [("A", 1), ("C", 3)]

    for email in ("a@acme.org", "b@acme.org"):
        _ok(cli, "accounts", "add", "--tenant", "acme", "--email", email, "--name", email,
            "--server", "1")  # fmt: skip
    _ok(cli, "accounts", "remove", "2", "--tenant", "acme", "--yes")
    _ok(cli, "accounts", "add", "--tenant", "acme", "--email", "c@acme.org", "--name", "C",
        "--server", "1")  # fmt: skip
    accounts = json.loads(_ok(cli, "accounts", "list", "--tenant", "acme", "--json"))
    assert [(a["email"], a["id"]) for a in accounts] == [("a@acme.org", 1), ("c@acme.org", 3)]
