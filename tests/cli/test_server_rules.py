"""`mailbell server …` rules that keep a shared mailbell safe: a usable From, OAuth tokens
dropped when the identity changes, capped secrets, and CA bundles given as PEM files."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from core.context import Context
from core.models._common import utcnow
from core.models.mail import MailServer

ADD = ("server", "add", "--system", "--name", "M", "--host", "smtp.example.com")


def _servers(cli) -> list[dict]:  # type: ignore[no-untyped-def]
    result = cli("server", "list", "--system", "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


@pytest.mark.parametrize(
    "options",
    [
        ("--auth", "DISABLE"),  # no username, no From
        ("--username", "relay-user", "--password", "pw"),  # a username that is not an address
        ("--username", "relay-user", "--password", "pw", "--from", ""),
    ],
)
def test_a_server_without_a_usable_from_is_refused_at_save(cli, db_dump, options) -> None:  # type: ignore[no-untyped-def]
    assert _servers(cli) == []  # the database exists before the snapshot
    before = db_dump()
    result = cli(*ADD, *options)
    assert result.code == 1
    assert result.err.startswith("error: mail_from: is required"), result.err
    assert len(result.err.strip().splitlines()) == 1
    assert db_dump() == before


def test_from_can_come_from_an_address_username_and_cannot_be_removed_later(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli(*ADD, "--username", "alerts@example.com", "--password", "pw").code == 0
    server_id = str(_servers(cli)[0]["id"])
    result = cli("server", "edit", server_id, "--system", "--username", "relay-user")
    assert result.code == 1 and result.err.startswith("error: mail_from:"), result.err
    assert _servers(cli)[0]["username"] == "alerts@example.com"


@pytest.mark.parametrize(
    "change",
    [
        ("--oauth-client-id", "another-client"),
        ("--oauth-client-secret", "another-secret"),
        ("--oauth-directory-id", "another-directory"),
        ("--username", "other@example.com"),
    ],
)
def test_changing_the_oauth_identity_drops_stored_tokens(cli, ctx: Context, change) -> None:  # type: ignore[no-untyped-def]
    assert (
        cli(
            *ADD,
            "--auth",
            "XOAUTH2",
            "--username",
            "me@example.com",
            "--oauth-client-id",
            "client",
            "--oauth-client-secret",
            "secret",
            "--oauth-directory-id",
            "directory",
        ).code
        == 0
    )
    server_id = _servers(cli)[0]["id"]
    with ctx.session() as session:  # as after a completed authorization
        row = session.get(MailServer, server_id)
        row.oauth_refresh_token_enc = ctx.box.encrypt("refresh-1")
        row.oauth_access_token_enc = ctx.box.encrypt("access-1")
        row.oauth_token_expires_at = utcnow() + timedelta(hours=1)
        session.add(row)
        session.commit()
    assert _servers(cli)[0]["oauth_authorized"] is True
    # Unrelated edits keep the tokens.
    assert cli("server", "edit", str(server_id), "--system", "--port", "2525").code == 0
    assert _servers(cli)[0]["oauth_authorized"] is True
    result = cli("server", "edit", str(server_id), "--system", *change)
    assert result.code == 0, result.err
    assert _servers(cli)[0]["oauth_authorized"] is False
    with ctx.session() as session:
        row = session.get(MailServer, server_id)
        assert row.oauth_access_token_enc is None and row.oauth_token_expires_at is None


@pytest.mark.parametrize(
    ("option", "field"),
    [("--password", "password"), ("--oauth-client-secret", "oauth_client_secret")],
)
def test_secrets_over_1024_characters_are_refused(cli, db_dump, option, field) -> None:  # type: ignore[no-untyped-def]
    base = (*ADD, "--username", "alerts@example.com")
    assert _servers(cli) == []
    before = db_dump()
    result = cli(*base, option, "s" * 1025)
    assert result.code == 1 and result.err.startswith(f"error: {field}:"), result.err
    assert "1024" in result.err and "sss" not in result.err
    assert db_dump() == before
    assert cli(*base, option, "s" * 1024).code == 0


def test_ca_pem_file_is_stored_read_back_and_checked(
    cli, db_dump, tls_certs, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    pem = tls_certs.ca_file.read_text()
    result = cli(
        *ADD,
        "--auth",
        "DISABLE",
        "--from",
        "a@example.com",
        "--ca-pem-file",
        str(tls_certs.ca_file),
    )
    assert result.code == 0, result.err
    (row,) = _servers(cli)
    assert row["ca_pem"].strip() == pem.strip() and row["ca_file"] is None
    before = db_dump()
    key_only = tmp_path / "key.pem"
    key_only.write_text(tls_certs.key_file.read_text())
    for path, words in [
        (key_only, "is not a PEM bundle of X.509 certificates"),
        (tmp_path / "missing.pem", "cannot read"),
    ]:
        result = cli("server", "edit", str(row["id"]), "--system", "--ca-pem-file", str(path))
        assert result.code == 1 and result.err.startswith("error: ca_pem:"), result.err
        assert words in result.err
    big = tmp_path / "big.pem"
    big.write_text(pem * 200)
    result = cli("server", "edit", str(row["id"]), "--system", "--ca-pem-file", str(big))
    assert result.code == 1 and "64 KB" in result.err, result.err
    assert db_dump() == before
    # A private key pasted with the certificate is not kept: ca_pem reads back publicly.
    mixed = tmp_path / "mixed.pem"
    mixed.write_text(pem + tls_certs.key_file.read_text())
    assert cli("server", "edit", str(row["id"]), "--system", "--ca-pem-file", str(mixed)).code == 0
    assert "PRIVATE KEY" not in _servers(cli)[0]["ca_pem"]
