"""Test connection and test email through the services and the CLI."""

from __future__ import annotations

import email
import json
import subprocess
import sys
from email.policy import default as default_policy
from pathlib import Path

import pytest

from core.errors import NotConfigured, NotFound, ValidationError
from core.models.mail import MailServer, MailServerCreate
from core.models.tenancy import NotificationSettingsUpdate
from core.services.mail_servers import create_mail_server
from core.services.mail_tests import send_test_email, test_mail_server
from core.services.notifications import update_notification_settings
from tests.support import fixtures
from tests.support.smtp_servers import FaultHandler, SmtpTestServer

smtp_server = fixtures.smtp_server
smtp_servers = fixtures.smtp_servers
tls_certs = fixtures.tls_certs

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse"


def add_server(ctx, actor, server: SmtpTestServer, tenant=None, **overrides) -> MailServer:
    data = {"name": f"srv {server.port}", "mail_from": "Ops <ops@example.com>"}
    data.update(server.server_fields(**overrides))
    with ctx.session() as session:
        return create_mail_server(
            session=session,
            box=ctx.box,
            tenant=tenant,
            data=MailServerCreate.from_fields(data),
            actor=actor,
        )


def reload(ctx, server_id: int) -> MailServer:
    with ctx.session() as session:
        return session.get(MailServer, server_id)


@pytest.fixture
def cli_mounted():
    from mailbell import cli
    from mailbell.commands import mailtest, server

    mailtest.register(server.app, cli.app)


async def test_saved_server_is_tested_and_the_outcome_recorded(ctx, actor, smtp_servers) -> None:
    server = smtp_servers(mode="starttls", auth=True)
    saved = add_server(ctx, actor, server)
    report = await test_mail_server(ctx=ctx, tenant=None, server_id=saved.id)
    assert report.ok, report.summary()
    assert report.steps[-1].step == "mail" and "ops@example.com" in report.steps[-1].detail
    row = reload(ctx, saved.id)
    assert row.last_test_ok is True and row.last_test_at is not None
    assert row.last_test_message.startswith("connection to 127.0.0.1")
    assert server.messages == []


async def test_failure_is_recorded_without_the_password(ctx, actor, smtp_servers) -> None:
    server = smtp_servers(mode="tls", auth=True)
    saved = add_server(ctx, actor, server, password="Wr0ng-Secret!")
    report = await test_mail_server(ctx=ctx, tenant=None, server_id=saved.id)
    assert not report.ok and report.failed.step == "auth"
    row = reload(ctx, saved.id)
    assert row.last_test_ok is False and row.last_test_message.startswith("auth failed")
    assert "Wr0ng-Secret!" not in row.last_test_message
    assert "Wr0ng-Secret!" not in json.dumps(report.as_dict())

    # Unsaved edits are tested without saving them or recording anything.
    edited = await test_mail_server(
        ctx=ctx, tenant=None, server_id=saved.id, changes={"password": PASSWORD}
    )
    assert edited.ok
    row_after = reload(ctx, saved.id)
    assert row_after.last_test_at == row.last_test_at
    assert ctx.box.decrypt(row_after.password_enc) == "Wr0ng-Secret!"


async def test_unsaved_settings_and_owner_scope(ctx, actor, acme, smtp_servers) -> None:
    server = smtp_servers(auth=True)
    unsaved = {"host": server.host, "port": server.port, "security": "none", "auth": "PLAIN",
               "username": "user@example.com", "password": PASSWORD}  # fmt: skip
    report = await test_mail_server(ctx=ctx, tenant=None, changes=unsaved)
    assert report.ok
    # No From given: the username, an address, is the sender the MAIL FROM step tried.
    [mail] = [step for step in report.steps if step.step == "mail"]
    assert "MAIL FROM:<user@example.com> accepted" in mail.detail
    with pytest.raises(ValidationError, match="username"):
        await test_mail_server(ctx=ctx, tenant=None, changes={"host": "h", "auth": "PLAIN"})

    tenant_server = add_server(ctx, actor, server, tenant=acme)
    with pytest.raises(NotFound):
        await test_mail_server(ctx=ctx, tenant=None, server_id=tenant_server.id)


async def test_test_email_through_the_effective_server(ctx, actor, acme, smtp_servers) -> None:
    system = smtp_servers(mode="starttls", auth=True)
    add_server(ctx, actor, system)
    with pytest.raises(NotConfigured, match="tenant 'acme' has no mail server"):
        await send_test_email(
            ctx=ctx, tenant=acme, recipient="a@example.org", subject="s", content="c"
        )
    with ctx.session() as session:
        update_notification_settings(
            tenant=None,
            session=session,
            box=ctx.box,
            changes=NotificationSettingsUpdate.parse({"apply_to_all_tenants": True}, system=True),
            actor=actor,
        )
    result = await send_test_email(
        ctx=ctx, tenant=acme, recipient="A@Example.org", subject="Hello ✓", content="Works."
    )
    assert result.ok and result.step is None
    assert result.reply.startswith("250 ")
    received = system.messages[0]
    assert received.tls and received.rcpt_tos == ["A@example.org"]
    assert received.mail_from == "ops@example.com"
    assert received.message_id == result.message_id
    parsed = email.message_from_bytes(received.data, policy=default_policy)
    assert parsed["Subject"] == "Hello ✓" and parsed["From"] == "Ops <ops@example.com>"
    assert parsed.get_content().strip() == "Works."

    own = smtp_servers()
    add_server(ctx, actor, own, tenant=acme)  # the tenant's own default wins
    html = await send_test_email(
        ctx=ctx,
        tenant=acme,
        recipient="b@example.org",
        subject="s",
        content="<p>Hi <b>there</b></p>",
    )
    assert html.ok and len(own.messages) == 1 and len(system.messages) == 1
    parsed = email.message_from_bytes(own.messages[0].data, policy=default_policy)
    assert parsed.get_content_type() == "multipart/alternative"
    assert "Hi there" in parsed.get_body(("plain",)).get_content()


@pytest.mark.parametrize(("handler", "step", "reply"), [
    (FaultHandler(rcpt={"a@example.org": "550 5.1.1 No such user"}), "rcpt",
     "550 5.1.1 No such user"),
    (FaultHandler(data="554 5.7.1 Rejected"), "data", "554 5.7.1 Rejected"),
    (FaultHandler(mail="451 4.3.0 Try later"), "mail", "451 4.3.0 Try later"),
])  # fmt: skip
async def test_test_email_failure_shape(ctx, actor, smtp_servers, handler, step, reply) -> None:
    add_server(ctx, actor, smtp_servers(handler=handler))
    result = await send_test_email(
        ctx=ctx, tenant=None, recipient="a@example.org", subject="s", content="c"
    )
    assert (result.ok, result.step, result.reply, result.message_id) == (False, step, reply, None)
    assert reply in result.error
    assert result.as_dict()["step"] == step


async def test_test_email_validation(ctx, actor, smtp_server) -> None:
    add_server(ctx, actor, smtp_server)
    cases = [
        ({"recipient": "not an address"}, "recipient"),
        ({"recipient": "a@example.org\r\nBcc: x@evil.org"}, "recipient"),
        ({"subject": "one\r\nBcc: x@evil.org"}, "subject"),
        ({"subject": " "}, "subject"),
        ({"content": ""}, "content"),
    ]
    for change, field in cases:
        kwargs = {"recipient": "a@example.org", "subject": "s", "content": "c", **change}
        with pytest.raises(ValidationError) as caught:
            await send_test_email(ctx=ctx, tenant=None, **kwargs)
        assert caught.value.field == field
    assert smtp_server.messages == []


def test_cli_server_test(cli, cli_mounted, smtp_servers) -> None:
    good = smtp_servers(mode="starttls", auth=True)
    fields = good.server_fields()
    assert cli(
        "server", "add", "--system", "--name", "Good", "--host", fields["host"],
        "--port", str(fields["port"]), "--security", "starttls", "--username", fields["username"],
        "--password", fields["password"], "--ca-file", fields["ca_file"],
        "--from", "ops@example.com",
    ).code == 0  # fmt: skip
    result = cli("server", "test", "1", "--system")
    assert result.code == 0, result.out + result.err
    assert "✓ starttls" in result.out and "✓ auth" in result.out and "ok: connection" in result.out
    assert "✗" not in result.out

    assert cli("server", "edit", "1", "--system", "--ca-file", "").code == 0
    result = cli("server", "test", "1", "--system")
    assert result.code == 1
    assert (
        "✗ starttls" in result.out and "hint: The server's certificate is not trusted" in result.out
    )
    data = json.loads(cli("server", "test", "1", "--system", "--json").out)
    assert data["ok"] is False and data["steps"][-1]["step"] == "starttls"
    assert fields["password"] not in result.out + json.dumps(data)
    assert cli("server", "test", "1", "--tenant", "nobody").code == 1


def test_cli_test_email(cli, cli_mounted, smtp_servers) -> None:
    server = smtp_servers(handler=FaultHandler(rcpt={"bad@example.org": "550 5.1.1 No such user"}))
    assert cli("tenant", "add", "acme").code == 0
    result = cli("test-email", "--tenant", "acme", "--to", "a@example.org")
    assert result.code == 1 and result.err.startswith("error: tenant 'acme' has no mail server")
    assert cli(
        "server", "add", "--tenant", "acme", "--name", "Main", "--host", server.host,
        "--port", str(server.port), "--security", "none", "--auth", "DISABLE",
        "--from", "ops@example.com",
    ).code == 0  # fmt: skip
    result = cli("test-email", "--tenant", "acme", "--to", "a@example.org", "--subject", "Hi")
    assert result.code == 0, result.err
    assert result.out.startswith("sent to a@example.org through mail server 1: 250 ")
    assert server.messages[0].subject == "Hi"

    result = cli("test-email", "--tenant", "acme", "--to", "bad@example.org")
    assert result.code == 1
    assert (
        result.err.strip().splitlines() == [result.err.strip()]
        and "failed at rcpt" in result.err
        and "550 5.1.1 No such user" in result.err
    )
    data = json.loads(
        cli("test-email", "--tenant", "acme", "--to", "bad@example.org", "--json").out
    )
    assert (data["ok"], data["step"], data["reply"]) == (False, "rcpt", "550 5.1.1 No such user")

    result = cli("test-email", "--tenant", "acme", "--to", "a@example.org", "--subject", "a\nb")
    assert result.code == 1 and "subject: must be a single line" in result.err
    assert cli("test-email", "--to", "a@example.org").code == 2


def test_help_stays_light_with_the_commands_mounted() -> None:
    script = (
        "import sys\n"
        "from mailbell import cli\n"
        "from mailbell.commands import mailtest, server\n"
        "mailtest.register(server.app, cli.app)\n"
        "code = cli.run(['--help'])\n"
        "code2 = cli.run(['oauth', '--help'])\n"
        "heavy = ('sqlalchemy', 'sqlmodel', 'aiosmtplib', 'aiohttp')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "print(code, code2, ','.join(heavy), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT
    )
    assert result.stderr.strip().splitlines()[-1] == "0 0", result.stderr
    assert "test-email" in result.stdout and "oauth" in result.stdout
