"""An IMAP password over 1,024 characters is refused (exit 1, naming the field), nothing
stored, as SMTP passwords are: a huge one would otherwise be sent at every sync."""

from __future__ import annotations

import io
import json

import pytest


def _ok(cli, *args: str) -> str:
    result = cli(*args)
    assert result.code == 0, result.err
    return result.out


def _add(cli, password: str):
    return cli("accounts", "add", "--tenant", "acme", "--email", "help@acme.org", "--name", "Help",
               "--server", "1", "--imap-host", "imap.acme.org", "--imap-username", "help",
               "--imap-password", password)  # fmt: skip


def test_imap_password_over_1024_characters_is_refused_on_add_and_1024_kept(
    acme_with_server, cli, db_dump
) -> None:
    before = db_dump()
    result = _add(cli, "p" * 1025)
    assert result.code == 1
    assert result.err.startswith("error: imap_password:") and "at most 1024" in result.err
    assert "p" * 100 not in result.err
    assert db_dump() == before
    assert _add(cli, "p" * 1024).code == 0  # the limit itself is allowed
    rows = json.loads(_ok(cli, "accounts", "list", "--tenant", "acme", "--json"))
    assert rows[0]["has_imap_password"] is True


def test_imap_password_over_1024_characters_is_refused_on_edit_from_stdin(
    acme_with_server, cli, db_dump, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _add(cli, "first-password").code == 0
    before = db_dump()
    monkeypatch.setattr("sys.stdin", io.StringIO("x" * 900_000 + "\n"))
    result = cli("accounts", "edit", "1", "--tenant", "acme", "--imap-password", "-")
    assert result.code == 1 and result.err.startswith("error: imap_password:")
    assert "900000 characters long" in result.err
    assert db_dump() == before
