"""`mailbell deliveries list`: keyset pages (--before, --limit) and its limits."""

from __future__ import annotations

import json

import pytest

from tests.support.outbox import queue_deliveries


@pytest.fixture
def emitted(ctx, session, actor) -> list[int]:
    """120 deliveries of tenant acme (queued), oldest first."""
    ids = queue_deliveries(ctx, session, actor, 120)
    assert len(ids) == 120
    return ids


def test_pages_cover_every_row_once(cli, emitted) -> None:
    pages: list[list[int]] = []
    before: list[str] = []
    while True:
        result = cli("deliveries", "list", "--json", "--limit", "50", *before)
        assert result.code == 0, result.err
        page = [row["id"] for row in json.loads(result.out)]
        if not page:
            break
        pages.append(page)
        before = ["--before", str(page[-1])]
    assert [len(page) for page in pages] == [50, 50, 20]
    listed = [i for page in pages for i in page]
    assert listed == sorted(emitted, reverse=True)  # newest first, no overlap, no gap


def test_default_page_is_50_and_before_is_exclusive(cli, emitted) -> None:
    result = cli("deliveries", "list", "--json")
    assert [row["id"] for row in json.loads(result.out)] == sorted(emitted, reverse=True)[:50]
    middle = emitted[60]
    result = cli("deliveries", "list", "--json", "--before", str(middle), "--limit", "3")
    assert [row["id"] for row in json.loads(result.out)] == emitted[57:60][::-1]


def test_text_output_pages_too(cli, emitted) -> None:
    result = cli("deliveries", "list", "--limit", "2", "--before", str(emitted[2]))
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].split()[0] == "ID"
    assert [line.split()[0] for line in lines[1:]] == [str(emitted[1]), str(emitted[0])]


@pytest.mark.parametrize("limit", ["0", "1001", "-5"])
def test_limit_out_of_range_exits_1_naming_the_field(cli, emitted, limit) -> None:
    result = cli("deliveries", "list", "--limit", limit)
    assert result.code == 1
    assert result.out == ""
    [line] = result.err.splitlines()
    assert line.startswith("error: limit:") and limit in line and "1000" in line


def test_limit_of_1000_is_allowed(cli, emitted) -> None:
    result = cli("deliveries", "list", "--json", "--limit", "1000")
    assert result.code == 0 and len(json.loads(result.out)) == 120


ROW_KEYS = {
    "id",
    "event",
    "tenant",
    "channel",
    "target",
    "status",
    "attempts",
    "last_error",
    "message_id",
    "created_at",
    "sent_at",
}


@pytest.fixture
def two_tenants(ctx, session, actor) -> dict[str, list[int]]:
    """acme's 3 queued deliveries, then globex's 2 (no mail server: failed at emit)."""
    from tests.support.factories import emit_events, make_configured_tenant

    acme = make_configured_tenant(session, ctx.box, server={"host": "smtp.acme.org"}, actor=actor)
    globex = make_configured_tenant(session, ctx.box, slug="globex", actor=actor)
    return {
        "acme": emit_events(session, ctx.box, acme, 3),
        "globex": emit_events(session, ctx.box, globex, 2),
    }


def test_rows_carry_their_tenant_and_filters_apply(cli, two_tenants) -> None:
    rows = json.loads(cli("deliveries", "list", "--json").out)
    assert all(set(row) == ROW_KEYS for row in rows)
    assert [(row["id"], row["tenant"]) for row in rows] == [
        *((i, "globex") for i in reversed(two_tenants["globex"])),
        *((i, "acme") for i in reversed(two_tenants["acme"])),
    ]
    acme = json.loads(cli("deliveries", "list", "--tenant", "acme", "--json").out)
    assert [row["id"] for row in acme] == two_tenants["acme"][::-1]
    failed = json.loads(cli("deliveries", "list", "--status", "failed", "--json").out)
    assert [row["id"] for row in failed] == two_tenants["globex"][::-1]
    by_event = cli("deliveries", "list", "--event", "queue_call_lost", "--json")
    assert len(json.loads(by_event.out)) == 5
    other = cli("deliveries", "list", "--event", "QUEUE_SLA", "--json")
    assert json.loads(other.out) == []


@pytest.mark.parametrize(("option", "value"), [("--status", "lost"), ("--event", "NOPE")])
def test_unknown_filters_exit_1_naming_the_field(cli, two_tenants, option, value) -> None:
    result = cli("deliveries", "list", option, value)
    assert result.code == 1 and result.out == ""
    assert result.err.startswith(f"error: {option[2:]}:") and value in result.err


def test_show_has_the_row_and_the_history(cli, two_tenants) -> None:
    delivery_id = two_tenants["globex"][0]
    shown = json.loads(cli("deliveries", "show", str(delivery_id), "--json").out)
    expected = ROW_KEYS - {"attempts"} | {
        "attempt_count",
        "pending",
        "recipients",
        "reply",
        "next_attempt_at",
        "updated_at",
        "attempts",
        "resent_from",
        "digest_id",
        "edit_of",
    }
    assert set(shown) == expected
    assert (shown["id"], shown["tenant"], shown["status"]) == (delivery_id, "globex", "failed")
    assert shown["attempts"] == [] and shown["next_attempt_at"] is None
    text = cli("deliveries", "show", str(delivery_id)).out
    assert text.splitlines()[0].split() == ["id", str(delivery_id)]
    assert "history: no send attempt yet" in text
    missing = cli("deliveries", "show", "999999")
    assert missing.code == 1 and "delivery 999999 does not exist" in missing.err
