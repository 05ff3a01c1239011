"""Migrations build exactly the schema the models describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

import core.models  # noqa: F401
from core.db import alembic_config, current_revision, make_engine, upgrade

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of the backend under test (--db)."""
    if request.config.getoption("--db") == "postgres":
        return request.getfixturevalue("postgres_server").create_database(migrated=False)
    return f"sqlite:///{tmp_path / 'm.db'}"


def test_empty_database_upgrades_to_head_without_pending_diff(empty_url: str) -> None:
    engine = make_engine(empty_url)
    upgrade(engine)
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert current_revision(engine) == head
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []
    assert set(inspect(engine).get_table_names()) >= set(SQLModel.metadata.tables)
    engine.dispose()


def test_messages_move_to_their_own_table_and_back(empty_url: str) -> None:
    """0008 moves each delivery's message to delivery_content; a delivery's attempts survive
    (a copy-and-rename of `delivery` would have cascaded to them)."""
    engine = make_engine(empty_url)
    upgrade(engine, "0007")
    now = "2026-12-05 10:00:00"
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO event (id, name, payload, created_at) VALUES (1, 'E', '{}', :now)"),
            {"now": now},
        )
        for delivery_id, content in ((1, b"sealed-message"), (2, b"")):
            connection.execute(
                text(
                    "INSERT INTO delivery (id, event_id, event, channel, target, status,"
                    " attempts, sender, pending, results, content, next_attempt_at,"
                    " created_at, updated_at) VALUES (:id, 1, 'E', 'email', 'a@b.org',"
                    " 'failed', 1, '', '[]', '{}', :content, :now, :now, :now)"
                ),
                {"id": delivery_id, "content": content, "now": now},
            )
        connection.execute(
            text(
                "INSERT INTO delivery_attempt (delivery_id, at, outcome) VALUES (1, :now, 'failed')"
            ),
            {"now": now},
        )
    upgrade(engine)
    with engine.connect() as connection:
        moved = connection.execute(text("SELECT delivery_id, content FROM delivery_content"))
        assert [(row[0], bytes(row[1])) for row in moved] == [(1, b"sealed-message")]
        assert connection.execute(text("SELECT count(*) FROM delivery_attempt")).scalar() == 1
        assert connection.execute(text("SELECT count(*) FROM delivery")).scalar() == 2
    command.downgrade(alembic_config(engine), "0007")
    with engine.connect() as connection:
        back = connection.execute(text("SELECT id, content FROM delivery ORDER BY id"))
        assert [(row[0], bytes(row[1])) for row in back] == [(1, b"sealed-message"), (2, b"")]
        assert connection.execute(text("SELECT count(*) FROM delivery_attempt")).scalar() == 1
    engine.dispose()


def test_processes_starting_together_migrate_once(empty_url: str) -> None:
    script = (
        "import sys; from core.db import make_engine, upgrade; upgrade(make_engine(sys.argv[1]))"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, empty_url], cwd=ROOT, stderr=subprocess.PIPE
        )
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=120)[1].decode() for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0, 0], errors
    engine = make_engine(empty_url)
    assert current_revision(engine) is not None
    engine.dispose()


def test_sqlite_connection_settings(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    engine.dispose()


def test_db_upgrade_command(cli) -> None:
    result = cli("db", "upgrade")
    assert result.code == 0
    assert "database at revision" in result.out
