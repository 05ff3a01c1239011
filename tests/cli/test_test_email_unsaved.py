"""`mailbell test-email` and `mailbell server test` before Save: settings given as `server add`'s
options (nothing stored, nothing audited), `--server ID` for a saved server that is not the
default, and another tenant's server refused."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import pytest

from core.context import Context
from tests.support.factories import make_mail_server, make_tenant
from tests.support.smtp_servers import SmtpTestServer
from tests.support.unsaved_settings import (
    FROM,
    RIGHT,
    USER,
    WRONG,
    auth_smtp,
    cli_options,
    server_fields,
    stored_state,
)

TO = "it@acme.org"


def _acme_server(ctx: Context, smtp: SmtpTestServer, *, password: str, **fields: object) -> int:
    with ctx.session() as session:
        acme = make_tenant(session)
        data = {"name": "Main", **server_fields(smtp, password=password), **fields}
        return make_mail_server(session, ctx.box, acme, **data).id


def test_a_wrong_typed_password_fails_and_the_saved_settings_are_untouched(
    cli, ctx: Context, smtp_servers: Callable[..., SmtpTestServer]
) -> None:
    smtp = auth_smtp(smtp_servers)
    _acme_server(ctx, smtp, password=RIGHT)
    before = stored_state(ctx)

    result = cli(
        "test-email", "--tenant", "acme", "--to", TO, *cli_options(smtp, password=WRONG),
        "--from", FROM,
    )  # fmt: skip
    assert result.code == 1
    assert result.err.startswith("error: test email failed at auth:"), result.err
    assert WRONG not in result.out + result.err
    assert smtp.messages == []
    assert [a.success for a in smtp.auth_attempts] == [False]
    assert stored_state(ctx) == before  # the saved server (its password) and the audit log

    test = cli("server", "test", "--tenant", "acme", *cli_options(smtp, password=WRONG))
    assert test.code == 1 and "failed at auth" in test.out, test.out
    assert stored_state(ctx) == before  # not even the last test's outcome is recorded


def test_the_right_typed_password_succeeds_while_the_saved_one_is_wrong(
    cli, ctx: Context, smtp_servers: Callable[..., SmtpTestServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    smtp = auth_smtp(smtp_servers)
    server_id = _acme_server(ctx, smtp, password=WRONG)
    saved = cli("test-email", "--tenant", "acme", "--to", TO)
    assert saved.code == 1 and "failed at auth" in saved.err, saved.err
    before = stored_state(ctx)  # the saved server's refusal is recorded (auth_guard)

    # The saved server with a new password typed (read from stdin), not saved.
    monkeypatch.setattr("sys.stdin", io.StringIO(RIGHT + "\n"))
    edited = cli(
        "test-email", "--tenant", "acme", "--to", TO, "--server", str(server_id),
        "--password", "-", "--json",
    )  # fmt: skip
    assert edited.code == 0, edited.err
    answer = json.loads(edited.out)
    assert answer["ok"] is True and answer["unsaved"] is True
    assert answer["server_id"] == server_id
    assert RIGHT not in edited.out

    # Settings that were never saved at all.
    fresh = cli("test-email", "--tenant", "acme", "--to", TO, *cli_options(smtp), "--from", FROM)
    assert fresh.code == 0, fresh.err
    assert fresh.out.startswith(f"sent to {TO} through the unsaved settings: 250"), fresh.out

    assert [m.auth_user for m in smtp.messages] == [USER, USER]
    assert [m.rcpt_tos for m in smtp.messages] == [[TO], [TO]]
    assert stored_state(ctx) == before  # the wrong password is still the stored one
    assert before["servers"][0]["password"] == WRONG

    test = cli("server", "test", "--tenant", "acme", *cli_options(smtp))
    assert test.code == 0 and test.out.splitlines()[-1].startswith("ok: "), test.out
    assert stored_state(ctx) == before


def test_server_id_picks_a_saved_server_that_is_not_the_default(
    cli, ctx: Context, smtp_servers: Callable[..., SmtpTestServer]
) -> None:
    main, backup = smtp_servers(), smtp_servers()
    with ctx.session() as session:
        acme = make_tenant(session)
        make_mail_server(session, ctx.box, acme, smtp=main, name="Main")
        backup_id = make_mail_server(session, ctx.box, acme, smtp=backup, name="Backup").id

    result = cli("test-email", "--tenant", "acme", "--to", TO, "--server", str(backup_id))
    assert result.code == 0, result.err
    assert f"through mail server {backup_id}: 250" in result.out
    assert len(backup.messages) == 1 and main.messages == []

    assert cli("test-email", "--tenant", "acme", "--to", TO).code == 0  # the default: Main
    assert len(main.messages) == 1 and len(backup.messages) == 1

    test = cli("server", "test", "--tenant", "acme", "--server", str(backup_id), "--json")
    assert test.code == 0, test.err
    assert json.loads(test.out)["ok"] is True
    rows = json.loads(cli("server", "list", "--tenant", "acme", "--json").out)
    listed = {row["name"]: row for row in rows}
    assert listed["Backup"]["last_test_ok"] is True  # a saved server's test is recorded
    assert listed["Main"]["last_test_at"] is None


def test_another_tenants_server_is_refused(
    cli, ctx: Context, smtp_servers: Callable[..., SmtpTestServer]
) -> None:
    smtp = smtp_servers()
    with ctx.session() as session:
        make_mail_server(session, ctx.box, make_tenant(session), smtp=smtp)
        globex_id = make_mail_server(
            session, ctx.box, make_tenant(session, slug="globex"), smtp=smtp
        ).id
    before = stored_state(ctx)
    for command in (
        ("test-email", "--tenant", "acme", "--to", TO, "--server", str(globex_id)),
        ("test-email", "--tenant", "acme", "--to", TO, "--server", str(globex_id),
         "--password", RIGHT),
        ("server", "test", "--tenant", "acme", "--server", str(globex_id)),
    ):  # fmt: skip
        result = cli(*command)
        assert result.code == 1, command
        assert result.err == (
            f"error: mail server {globex_id} does not exist for tenant 'acme'\n"
        ), result.err
    assert smtp.messages == [] and smtp.connections == 0
    assert stored_state(ctx) == before


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (("--port", "70000"), "error: port: "),
        (("--security", "ssl"), "error: security: "),
        (("--from", "not an address"), "error: mail_from: "),
        (("--auth", "PLAIN", "--username", ""), "error: username: is required when auth is PLAIN"),
    ],
)
def test_a_bad_unsaved_field_is_named_as_on_save(
    cli, ctx: Context, smtp_servers: Callable[..., SmtpTestServer], options, expected
) -> None:  # type: ignore[no-untyped-def]
    smtp = auth_smtp(smtp_servers)
    with ctx.session() as session:
        make_tenant(session)
    before = stored_state(ctx)
    base = [*cli_options(smtp), "--from", FROM]
    result = cli("test-email", "--tenant", "acme", "--to", TO, *base, *options)
    assert result.code == 1
    assert result.err.startswith(expected), result.err
    assert len(result.err.strip().splitlines()) == 1
    saved = cli("server", "add", "--tenant", "acme", "--name", "M", *base, *options)
    assert (saved.code, saved.err) == (1, result.err)  # the same rule, the same words
    assert smtp.connections == 0
    assert stored_state(ctx) == before


def test_server_test_without_a_server_or_settings_is_a_usage_error(cli, ctx: Context) -> None:
    with ctx.session() as session:
        make_tenant(session)
    result = cli("server", "test", "--tenant", "acme")
    assert result.code == 2
    assert "give a server (SERVER_ID or --server ID) or settings" in result.err
