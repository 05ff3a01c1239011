"""`settings set … password=-` reads the password from standard input, as `--password -` does
elsewhere: a secret on the command line shows in `ps` and in the shell history."""

from __future__ import annotations

import io

import pytest
from sqlmodel import select

from core.context import Context
from core.models.mail import MailServer
from tests.support.smtp_servers import SmtpTestServer

SECRET = "Stdin-Only-Secret-7f3a"


def _stored_password(ctx: Context) -> str | None:
    with ctx.session() as session:
        server = session.exec(select(MailServer).where(MailServer.is_default)).one()
        return None if server.password_enc is None else ctx.box.decrypt(server.password_enc)


@pytest.fixture
def smtp(smtp_servers) -> SmtpTestServer:
    server: SmtpTestServer = smtp_servers(
        mode="starttls", auth=True, users={"alerts@acme.org": SECRET}
    )
    return server


def _settings_args(smtp: SmtpTestServer) -> list[str]:
    fields = smtp.server_fields()
    return [
        f"server={fields['host']}", f"port={fields['port']}", "security=starttls",
        f"ca_file={fields['ca_file']}", "username=alerts@acme.org", "mail_from=alerts@acme.org",
        "password=-",
    ]  # fmt: skip


def test_password_dash_is_read_from_stdin_and_used_for_auth(
    cli, ctx, smtp: SmtpTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("tenant", "add", "acme").code == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(SECRET + "\n"))
    result = cli("settings", "set", "--tenant", "acme", *_settings_args(smtp))
    assert result.code == 0, result.err
    assert SECRET not in result.out + result.err
    assert _stored_password(ctx) == SECRET

    sent = cli("test-email", "--tenant", "acme", "--to", "ops@example.org")
    assert sent.code == 0, sent.out + sent.err
    assert [(a.login, a.success) for a in smtp.auth_attempts] == [("alerts@acme.org", True)]
    assert [m.rcpt_tos for m in smtp.messages] == [["ops@example.org"]]


def test_system_password_dash_is_read_from_stdin(
    cli, ctx, smtp: SmtpTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(SECRET + "\n"))
    result = cli("settings", "set", "--system", *_settings_args(smtp))
    assert result.code == 0, result.err
    assert _stored_password(ctx) == SECRET


def test_password_dash_with_empty_stdin_keeps_the_stored_password(
    cli, ctx, smtp: SmtpTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End of input is an empty password, which keeps the stored one: never a literal `-`."""
    assert cli("tenant", "add", "acme").code == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(SECRET + "\n"))
    assert cli("settings", "set", "--tenant", "acme", *_settings_args(smtp)).code == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    result = cli("settings", "set", "--tenant", "acme", "password=-", "port=" + str(smtp.port))
    assert result.code == 0, result.err
    assert _stored_password(ctx) == SECRET
