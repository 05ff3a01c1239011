"""`mailbell token create --scope … --expires …` and `token list`: scopes and expiry stored and
shown (never the token), bad flags refused with exit 1 naming the flag and its rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from core.models._common import utcnow
from tests.support.tokens import expire_token


@pytest.fixture
def acme(cli) -> str:
    assert cli("tenant", "add", "acme").code == 0
    return "acme"


def _listed(cli) -> list[dict]:
    result = cli("token", "list", "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_a_token_has_the_default_scopes_and_never_expires_unless_told(cli, acme) -> None:
    created = cli("token", "create", "--tenant", acme, "--name", "pbx")
    assert created.code == 0, created.err
    (row,) = _listed(cli)
    assert row["scopes"] == ["read", "write", "events"]
    assert row["expires_at"] is None and row["expired"] is False
    assert row["scope"] == "tenant:acme"
    assert created.out.strip() not in json.dumps(row)


@pytest.mark.parametrize(
    ("given", "length"),
    [
        ("90d", timedelta(days=90)),
        ("12h", timedelta(hours=12)),
        ("30m", timedelta(minutes=30)),
        ("2w", timedelta(weeks=2)),
        ("90D", timedelta(days=90)),
    ],
)
def test_scopes_and_a_duration(cli, acme, given: str, length: timedelta) -> None:
    before = utcnow()
    created = cli(
        "token", "create", "--tenant", acme, "--name", "emitter", "--scope", "events",
        "--expires", given,
    )  # fmt: skip
    after = utcnow()
    assert created.code == 0, created.err
    (row,) = _listed(cli)
    assert row["scopes"] == ["events"]
    expires = datetime.fromisoformat(row["expires_at"])
    assert before + length <= expires <= after + length


def test_an_iso_date_is_its_start_in_utc_and_scopes_are_listed_in_order(cli) -> None:
    day = (utcnow() + timedelta(days=30)).date()
    created = cli(
        "token", "create", "--system", "--name", "ops", "--scope", " admin, read ,read",
        "--expires", day.isoformat(),
    )  # fmt: skip
    assert created.code == 0, created.err
    (row,) = _listed(cli)
    assert row["scope"] == "system"
    assert row["scopes"] == ["read", "admin"]
    assert datetime.fromisoformat(row["expires_at"]) == datetime(
        day.year, day.month, day.day, tzinfo=UTC
    )
    at = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    stamped = cli("token", "create", "--system", "--expires", at.isoformat())
    assert stamped.code == 0, stamped.err
    assert datetime.fromisoformat(_listed(cli)[1]["expires_at"]) == at


@pytest.mark.parametrize(
    ("flag", "value", "said"),
    [
        ("--expires", "0d", "is not a duration such as 90d"),
        ("--expires", "5y", "is not a duration such as 90d"),
        ("--expires", "soon", "is not a duration such as 90d"),
        ("--expires", "-3d", "is not a duration such as 90d"),
        ("--expires", "2020-01-01", "has passed"),
        ("--expires", "9999-12-31", "too far ahead"),
        ("--expires", "9999-12-31T23:00:00-05:00", "too far ahead"),
        ("--expires", "3651d", "too far ahead"),
        ("--expires", "9999999w", "too far ahead"),
        ("--scope", "read,root", "unknown scope 'root': use read, write, events, admin"),
        ("--scope", "", "unknown scope '(empty)'"),
        ("--scope", "read,", "unknown scope '(empty)'"),
    ],
)
def test_bad_flags_exit_1_naming_the_flag_and_change_nothing(
    cli, acme, db_dump, flag: str, value: str, said: str
) -> None:
    before = db_dump()
    result = cli("token", "create", "--tenant", acme, flag, value)
    assert result.code == 1
    assert result.err.startswith(f"error: {flag}: "), result.err
    assert said in result.err
    assert result.out == ""
    assert db_dump() == before


def test_the_table_shows_scopes_and_expiry(cli, acme, ctx) -> None:
    kept = cli("token", "create", "--tenant", acme, "--name", "pbx").out.strip()
    gone = cli("token", "create", "--tenant", acme, "--name", "old", "--expires", "1d").out.strip()
    with ctx.session() as session:
        expire_token(session, gone)
    table = cli("token", "list")
    assert table.code == 0
    header, first, second = table.out.splitlines()
    assert header.split()[:5] == ["ID", "NAME", "OWNER", "SCOPES", "EXPIRES"]
    assert "read,write,events" in first and "never" in first
    assert "(expired)" in second
    assert kept not in table.out and gone not in table.out
    assert [row["expired"] for row in _listed(cli)] == [False, True]


def test_help_states_the_scopes_and_the_default(cli) -> None:
    result = cli("token", "create", "--help")
    assert result.code == 0
    text = " ".join(result.out.replace("│", " ").split())
    assert "[default: read,write,events]" in text
    assert "events = POST /api/events only" in text
    assert "90d" in text


def test_creating_expiring_and_revoking_are_audited_with_before_and_after(cli, acme, ctx) -> None:
    from core.services.audit import list_entries

    plaintext = cli(
        "token", "create", "--tenant", acme, "--name", "emitter", "--scope", "events",
        "--expires", "2w",
    ).out.strip()  # fmt: skip
    (row,) = _listed(cli)
    with ctx.session() as session:
        at = expire_token(session, plaintext)
    assert cli("token", "revoke", str(row["id"])).code == 0
    with ctx.session() as session:
        entries = {e.action: e for e in list_entries(session=session, tenant=acme)}
    created = entries["token.create"].changes
    assert created["name"].after == "emitter" and created["scopes"].after == ["events"]
    assert created["expires_at"].after == row["expires_at"]
    updated = entries["token.update"].changes["expires_at"]
    assert (updated.before, updated.after) == (row["expires_at"], at.isoformat())
    assert entries["token.revoke"].changes["revoked_at"].before is None
    assert entries["token.revoke"].target == f"token:{row['id']}"
    assert plaintext not in json.dumps([e.model_dump(mode="json") for e in entries.values()])
