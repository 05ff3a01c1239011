"""A tenant's first email account becomes its default; when the default goes, the oldest
remaining account takes over (the rule of mail servers, as the README says)."""

from __future__ import annotations

import json


def _ok(cli, *args: str) -> str:
    result = cli(*args)
    assert result.code == 0, result.err
    return result.out


def _add_account(cli, email: str) -> None:
    _ok(cli, "accounts", "add", "--tenant", "acme", "--email", email, "--name", email,
        "--server", "1")  # fmt: skip


def _defaults(cli) -> dict[str, bool]:
    rows = json.loads(_ok(cli, "accounts", "list", "--tenant", "acme", "--json"))
    return {row["email"]: row["default"] for row in rows}


def test_first_account_becomes_the_default_and_the_second_does_not(cli, acme_with_server) -> None:
    _add_account(cli, "help@acme.org")
    assert _defaults(cli) == {"help@acme.org": True}
    _add_account(cli, "sales@acme.org")
    assert _defaults(cli) == {"help@acme.org": True, "sales@acme.org": False}


def test_first_account_is_the_default_of_its_own_tenant_only(cli, acme_with_server) -> None:
    _add_account(cli, "help@acme.org")
    _ok(cli, "tenant", "add", "globex")
    _ok(cli, "server", "add", "--tenant", "globex", "--name", "Main", "--host", "smtp.globex.org",
        "--auth", "DISABLE", "--from", "alerts@globex.org")  # fmt: skip
    _ok(cli, "accounts", "add", "--tenant", "globex", "--email", "help@globex.org", "--name", "H",
        "--server", "2")  # fmt: skip
    globex = json.loads(_ok(cli, "accounts", "list", "--tenant", "globex", "--json"))
    assert [(row["email"], row["default"]) for row in globex] == [("help@globex.org", True)]
    assert _defaults(cli) == {"help@acme.org": True}


def test_removing_the_default_makes_the_oldest_remaining_account_the_default(
    cli, acme_with_server
) -> None:
    for email in ("a@acme.org", "b@acme.org", "c@acme.org"):
        _add_account(cli, email)
    _ok(cli, "accounts", "remove", "1", "--tenant", "acme", "--yes")
    assert _defaults(cli) == {"b@acme.org": True, "c@acme.org": False}
    _ok(cli, "accounts", "remove", "3", "--tenant", "acme", "--yes")
    assert _defaults(cli) == {"b@acme.org": True}
