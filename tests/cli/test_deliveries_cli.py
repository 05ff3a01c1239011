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
