"""Several servers per owner, email accounts, and their refusals."""

from __future__ import annotations

import json


def _ok(cli, *args: str) -> None:
    result = cli(*args)
    assert result.code == 0, result.err


def _servers(cli, *owner: str) -> list[dict]:
    result = cli("server", "list", *owner, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_servers_default_and_presets(cli) -> None:
    assert cli("tenant", "add", "acme").code == 0
    _ok(
        cli,
        "server",
        "add",
        "--tenant",
        "acme",
        "--name",
        "Main",
        "--host",
        "smtp.a.org",
        "--username",
        "u",
        "--from",
        "alerts@a.org",
        "--password",
        "pw-main",
    )
    added = cli(
        "server",
        "add",
        "--tenant",
        "acme",
        "--name",
        "Google",
        "--provider",
        "gmail",
        "--username",
        "me@gmail.com",
        "--password",
        "pw-g",
    )
    assert added.code == 0, added.err
    servers = _servers(cli, "--tenant", "acme")
    assert [(s["name"], s["default"]) for s in servers] == [("Main", True), ("Google", False)]
    google = servers[1]
    assert (google["host"], google["port"], google["security"]) == ("smtp.gmail.com", 465, "tls")
    assert google["has_password"] is True
    assert all("password" not in s for s in servers)
    assert "pw-" not in cli("server", "list", "--tenant", "acme", "--json").out

    assert cli("server", "default", str(google["id"]), "--tenant", "acme").code == 0
    servers = _servers(cli, "--tenant", "acme")
    assert [s["default"] for s in servers] == [False, True]


def test_second_default_server_is_refused(cli, db_dump) -> None:
    assert (
        cli(
            "server",
            "add",
            "--system",
            "--name",
            "A",
            "--host",
            "a.org",
            "--auth",
            "DISABLE",
            "--from",
            "a@a.org",
        ).code
        == 0
    )
    before = db_dump()
    result = cli(
        "server",
        "add",
        "--system",
        "--name",
        "B",
        "--host",
        "b.org",
        "--auth",
        "DISABLE",
        "--from",
        "alerts@a.org",
        "--default",
    )
    assert result.code == 1
    assert result.err.startswith("error: is_default:")
    assert "server default" in result.err
    assert db_dump() == before


def test_server_from_another_owner_is_not_found(cli) -> None:
    for slug in ("acme", "globex"):
        assert cli("tenant", "add", slug).code == 0
    _ok(
        cli,
        "server",
        "add",
        "--tenant",
        "acme",
        "--name",
        "A",
        "--host",
        "a.org",
        "--auth",
        "DISABLE",
        "--from",
        "alerts@a.org",
    )
    server_id = _servers(cli, "--tenant", "acme")[0]["id"]
    result = cli("server", "edit", str(server_id), "--tenant", "globex", "--port", "25")
    assert result.code == 1 and "does not exist for tenant 'globex'" in result.err


def test_remove_detaches_accounts(cli, acme_with_server) -> None:
    server_id = _servers(cli, "--tenant", "acme")[0]["id"]
    _ok(
        cli,
        "accounts",
        "add",
        "--tenant",
        "acme",
        "--email",
        "help@acme.org",
        "--name",
        "Help",
        "--server",
        str(server_id),
        "--imap-host",
        "imap.acme.org",
        "--imap-password",
        "imap-secret",
    )
    result = cli("server", "remove", str(server_id), "--tenant", "acme", "--yes")
    assert result.code == 0
    assert "detached 1 account(s)" in result.out and "help@acme.org" in result.out
    accounts = json.loads(cli("accounts", "list", "--tenant", "acme", "--json").out)
    assert accounts[0]["mail_server_id"] is None
    assert accounts[0]["has_imap_password"] is True
    assert "imap-secret" not in json.dumps(accounts)


def test_account_without_mail_server_is_refused(cli, db_dump) -> None:
    assert cli("tenant", "add", "acme").code == 0
    before = db_dump()
    result = cli(
        "accounts",
        "add",
        "--tenant",
        "acme",
        "--email",
        "a@acme.org",
        "--name",
        "A",
        "--server",
        "1",
    )
    assert result.code == 1
    assert result.err.startswith("error: mail_server_id:") and "has no mail server" in result.err
    assert db_dump() == before


def test_account_email_is_read_only(cli, db_dump, acme_with_server) -> None:
    _ok(
        cli,
        "accounts",
        "add",
        "--tenant",
        "acme",
        "--email",
        "a@acme.org",
        "--name",
        "A",
        "--server",
        "1",
        "--default",
    )
    before = db_dump()
    result = cli("accounts", "edit", "1", "--tenant", "acme", "--email", "b@acme.org")
    assert result.code == 1 and result.err.startswith("error: email:")
    assert "read-only" in result.err
    assert db_dump() == before
    assert cli("accounts", "edit", "1", "--tenant", "acme", "--name", "Renamed").code == 0
    rows = json.loads(cli("accounts", "list", "--tenant", "acme", "--json").out)
    assert rows[0]["display_name"] == "Renamed" and rows[0]["email"] == "a@acme.org"


def test_second_default_account_is_refused_and_default_moves(
    cli, db_dump, acme_with_server
) -> None:
    for email, extra in (("a@acme.org", ["--default"]), ("b@acme.org", [])):
        assert (
            cli(
                "accounts",
                "add",
                "--tenant",
                "acme",
                "--email",
                email,
                "--name",
                email,
                "--server",
                "1",
                *extra,
            ).code
            == 0
        )
    before = db_dump()
    result = cli(
        "accounts",
        "add",
        "--tenant",
        "acme",
        "--email",
        "c@acme.org",
        "--name",
        "C",
        "--server",
        "1",
        "--default",
    )
    assert result.code == 1 and result.err.startswith("error: is_default:")
    assert db_dump() == before
    assert cli("accounts", "default", "2", "--tenant", "acme").code == 0
    rows = json.loads(cli("accounts", "list", "--tenant", "acme", "--json").out)
    assert [r["default"] for r in rows] == [False, True]


def test_tokens(cli) -> None:
    assert cli("tenant", "add", "acme").code == 0
    created = cli("token", "create", "--tenant", "acme", "--name", "pbx")
    assert created.code == 0
    token = created.out.strip()
    assert token.startswith("mb_") and len(token) > 40
    listed = cli("token", "list", "--json")
    rows = json.loads(listed.out)
    assert rows[0]["scope"] == "tenant:acme" and token not in listed.out
    assert cli("token", "revoke", str(rows[0]["id"])).code == 0
    assert json.loads(cli("token", "list", "--json").out)[0]["revoked"] is True
    assert cli("token", "revoke", str(rows[0]["id"])).code == 1


def test_tenant_list_json(cli) -> None:
    assert cli("tenant", "add", "acme", "--name", "Acme Corp").code == 0
    assert json.loads(cli("tenant", "list", "--json").out) == [
        {"slug": "acme", "name": "Acme Corp"}
    ]
    assert cli("tenant", "add", "acme").code == 1
    assert cli("tenant", "add", "Not A Slug").code == 1


def test_changing_the_mailbox_resets_the_sync_checkpoint(cli, ctx, acme_with_server) -> None:
    from core.models.mail import EmailAccount

    _ok(
        cli,
        "accounts",
        "add",
        "--tenant",
        "acme",
        "--email",
        "a@acme.org",
        "--name",
        "A",
        "--server",
        "1",
        "--imap-host",
        "imap.one.org",
    )
    with ctx.session() as session:
        account = session.get(EmailAccount, 1)
        account.imap_uidvalidity, account.imap_last_uid = 77, 1000
        session.add(account)
        session.commit()
    assert cli("accounts", "edit", "1", "--tenant", "acme", "--name", "Renamed").code == 0
    with ctx.session() as session:
        assert session.get(EmailAccount, 1).imap_last_uid == 1000  # same mailbox: kept
    assert cli("accounts", "edit", "1", "--tenant", "acme", "--imap-host", "imap.two.org").code == 0
    with ctx.session() as session:
        account = session.get(EmailAccount, 1)
        assert (account.imap_uidvalidity, account.imap_last_uid) == (None, None)
