"""`mailbell audit list|export`: the trail with before and after, as a table, JSON, JSON Lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from core.models.audit import AuditEntry
from mailbell.commands.audit import parse_since

KEYS = ["id", "at", "actor", "source", "tenant", "action", "target", "changes"]
PASSWORD = "Pw-never-in-the-log-93"


@pytest.fixture
def trail(cli, monkeypatch) -> None:
    """acme with a server whose host and password changed, and globex created, by "ops" (the
    login behind `sudo`)."""
    monkeypatch.setenv("SUDO_USER", "ops")
    for line in (
        "tenant add acme",
        "tenant add globex",
        "server add --tenant acme --name main --host old.example.org --from alerts@acme.org"
        " --auth DISABLE",
        f"server edit 1 --tenant acme --host new.example.org --password {PASSWORD}",
    ):
        result = cli(*line.split())
        assert result.code == 0, (line, result.err)


def test_list_json_has_the_designs_keys_and_before_after(cli, trail) -> None:
    result = cli("audit", "list", "--tenant", "acme", "--json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    assert [list(row) for row in rows] == [KEYS] * len(rows)
    assert [row["action"] for row in rows] == [
        "mail_server.update",
        "mail_server.create",
        "tenant.create",
    ]
    update = rows[0]
    assert (update["actor"], update["source"], update["tenant"], update["target"]) == (
        "ops",
        "cli",
        "acme",
        "mail_server:1",
    )
    assert update["changes"] == {
        "host": {"before": "old.example.org", "after": "new.example.org"},
        "password": {"before": "changed", "after": "changed"},
    }
    assert datetime.fromisoformat(update["at"]).tzinfo is not None
    assert PASSWORD not in result.out
    assert rows[2]["changes"] == {
        "name": {"before": None, "after": "acme"},
        "slug": {"before": None, "after": "acme"},
    }


def test_list_table_shows_changes_as_before_arrow_after(cli, trail) -> None:
    result = cli("audit", "list", "--limit", "2")
    assert result.code == 0, result.err
    header, *lines = result.out.splitlines()
    assert header.split() == ["WHEN", "WHO", "SOURCE", "TENANT", "ACTION", "TARGET", "CHANGES"]
    assert len(lines) == 2
    assert "host: old.example.org → new.example.org; password: changed" in lines[0]
    assert "mail_server.update" in lines[0] and PASSWORD not in result.out


def test_export_writes_json_lines_oldest_first(cli, trail, ctx) -> None:
    result = cli("audit", "export")
    assert result.code == 0, result.err
    rows = [json.loads(line) for line in result.out.splitlines()]
    with ctx.session() as session:
        ids = sorted(e.id for e in session.exec(select(AuditEntry)))
    assert [row["id"] for row in rows] == ids
    assert all(list(row) == KEYS for row in rows)
    only_globex = cli("audit", "export", "--tenant", "globex")
    assert [json.loads(line)["action"] for line in only_globex.out.splitlines()] == [
        "tenant.create"
    ]


def test_export_streams_across_batches(cli, ctx, monkeypatch) -> None:
    """More entries than one batch: every one comes out once, in order, a query a batch."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    monkeypatch.setattr("core.services.audit.EXPORT_BATCH", 3)
    for number in range(8):
        assert cli("tenant", "add", f"t{number}").code == 0
    reads: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM audit_entry" in statement:
            reads.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        rows = [json.loads(line) for line in cli("audit", "export").out.splitlines()]
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert [row["tenant"] for row in rows] == [f"t{n}" for n in range(8)]
    assert len({row["id"] for row in rows}) == 8
    assert len(reads) == 3  # 3 + 3 + 2 rows


def test_since_filters_by_time_and_age(cli, trail, ctx) -> None:
    with ctx.session() as session:
        old = session.exec(select(AuditEntry).where(AuditEntry.tenant == "globex")).one()
        old.at = datetime(2026, 1, 1, tzinfo=UTC)
        session.add(old)
        session.commit()
    recent = json.loads(cli("audit", "list", "--since", "7d", "--json").out)
    assert "globex" not in {row["tenant"] for row in recent} and len(recent) == 3
    since_date = json.loads(cli("audit", "list", "--since", "2025-12-31", "--json").out)
    assert len(since_date) == 4
    exported = cli("audit", "export", "--since", "2026-01-01T00:00:01+00:00").out.splitlines()
    assert len(exported) == 3


def test_parse_since_reads_ages_dates_and_offsets() -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert parse_since("12h", now=now) == now - timedelta(hours=12)
    assert parse_since("2w", now=now) == now - timedelta(weeks=2)
    assert parse_since("2026-12-01") == datetime(2026, 12, 1, tzinfo=UTC)
    assert parse_since("2026-12-01T10:00+02:00") == datetime(2026, 12, 1, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["list", "--since", "yesterday"], "--since"),
        (["export", "--since", "7 days"], "--since"),
        (["list", "--since", "999999w"], "--since"),  # before the year 1
        (["list", "--since", "0001-01-01T00:00+05:00"], "--since"),
        (["list", "--limit", "0"], "--limit"),
    ],
)
def test_bad_input_names_the_option(cli, args, named) -> None:
    result = cli("audit", *args)
    assert result.code == 2
    assert named in result.err and result.out == ""
