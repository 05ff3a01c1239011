"""Malformed arguments to the real CLI: exit 1 with one line naming the field, nothing changed,
never a traceback — idempotency keys, payloads, and delivery ids past the largest row id."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from core.context import Context
from tests.cli_fixtures import Result
from tests.support.factories import emit_event, make_configured_tenant

DATA = {
    "queue_name": "Sales",
    "queue_number": "8000",
    "caller": "+49 30 901820",
    "waiting_seconds": 184,
    "reason": "caller hung up",
    "occurred_at": "2026-11-03T11:47:10+00:00",
}
HUGE_ID = "99999999999999999999999"  # > 2^63: the SQLite driver overflows on it


@pytest.fixture
def acme(session: Session, ctx: Context) -> int:
    """Tenant acme, configured, with one delivery; its id."""
    server = {"name": "default", "host": "smtp.acme.example", "mail_from": "pbx@acme.example"}
    recipients = ("ops@acme.example",)
    tenant = make_configured_tenant(session, ctx.box, server=server, recipients=recipients)
    [delivery] = emit_event(session, ctx.box, tenant, data=DATA).deliveries
    return delivery.id


def _emit(cli: Callable[..., Result], data: str | dict[str, Any], *extra: str) -> Result:
    text = data if isinstance(data, str) else json.dumps(data)
    return cli("emit", "QUEUE_CALL_LOST", "--tenant", "acme", "--data", text, *extra)


def _refused(result: Result, field: str, *words: str) -> None:
    assert result.code == 1, (result.out, result.err)
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.err, result.err
    assert lines[0].startswith(f"error: {field}: "), lines[0]
    for word in words:
        assert word in lines[0], lines[0]


def test_an_idempotency_key_over_200_characters_or_not_unicode_is_exit_1(
    cli: Callable[..., Result], acme: int, db_dump: Callable[[], str]
) -> None:
    before = db_dump()
    for key in ("k" * 201, "k" * 100_000):
        result = _emit(cli, DATA, "--key", key)
        _refused(result, "key", "200")
        assert key not in result.err
    # bytes that are not UTF-8 on the command line arrive as lone surrogates
    _refused(_emit(cli, DATA, "--key", "k\udcff"), "key", "Unicode")
    assert db_dump() == before
    assert _emit(cli, DATA, "--key", "k" * 200).code == 0


def test_payload_strings_over_their_limit_and_huge_numbers_are_exit_1(
    cli: Callable[..., Result], acme: int, db_dump: Callable[[], str], tmp_path: Path
) -> None:
    before = db_dump()
    _refused(
        _emit(cli, {**DATA, "caller_name": "x" * 10_001}),
        "data",
        "'caller_name'",
        "at most 10000 characters",
    )
    _refused(_emit(cli, {**DATA, "reason": "x" * 501}), "data", "'reason'", "at most 500")
    _refused(_emit(cli, json.dumps(DATA)[:-1] + ', "extra": ' + "7" * 5000 + "}"), "data", "4300")
    not_utf8 = tmp_path / "payload.json"
    not_utf8.write_bytes(b'{"queue_name": "\xff\xfe"}')
    result = cli("emit", "QUEUE_CALL_LOST", "--tenant", "acme", "--data-file", str(not_utf8))
    _refused(result, "data", "not UTF-8")
    assert db_dump() == before
    assert _emit(cli, {**DATA, "caller_name": "x" * 10_000}).code == 0


def test_delivery_ids_past_the_largest_row_id_do_not_exist(
    cli: Callable[..., Result], acme: int, db_dump: Callable[[], str]
) -> None:
    before = db_dump()
    for command in ("show", "retry"):
        for delivery_id in (HUGE_ID, str(2**63), "0"):
            result = cli("deliveries", command, delivery_id)
            assert result.code == 1, (command, result.err)
            assert result.err == f"error: delivery {delivery_id} does not exist\n"
    # a page before an id past every row is the first page; before a negative one, empty
    listed = cli("deliveries", "list", "--json", "--before", HUGE_ID)
    assert listed.code == 0, listed.err
    assert [row["id"] for row in json.loads(listed.out)] == [acme]
    listed = cli("deliveries", "list", "--json", "--before", "-" + HUGE_ID)
    assert (listed.code, json.loads(listed.out)) == (0, [])
    assert db_dump() == before
