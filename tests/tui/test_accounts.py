"""Email accounts: the server requirement, add/edit, sync against Dovecot, messages, delete."""

from __future__ import annotations

import email.message
import email.policy
import socket

from textual.widgets import DataTable, Input, Select, Static

from core.models.mail import EmailAccount, EmailAccountCreate
from core.services.accounts import create_email_account, list_email_accounts
from core.services.tenants import get_tenant
from tests.support import dovecot as dovecot_support
from tests.tui.conftest import IMAP_PASSWORD, rows, screen_text, seed, settle

dovecot_server = dovecot_support.dovecot_server
dovecot = dovecot_support.dovecot
imap_mailbox = dovecot_support.imap_mailbox


def accounts(ctx, slug: str = "acme"):
    with ctx.session() as session:
        tenant = get_tenant(session=session, slug=slug)
        # The rows, with what the screens never show (the stored password).
        return [
            session.get(EmailAccount, a.id)
            for a in list_email_accounts(session=session, tenant=tenant)
        ]


def add_account(ctx, actor, server_id: int, **imap) -> int:
    with ctx.session() as session:
        account = create_email_account(
            session=session,
            box=ctx.box,
            tenant=get_tenant(session=session, slug="acme"),
            actor=actor,
            data=EmailAccountCreate.from_fields(
                {
                    "email": "support@acme.example",
                    "display_name": "Support",
                    "mail_server_id": server_id,
                    **imap,
                }
            ),
        )
        assert account.id is not None
        return account.id


def message(subject: str) -> bytes:
    msg = email.message.EmailMessage()
    msg["From"] = "Ann Caller <ann@example.org>"
    msg["To"] = "support@acme.example"
    msg["Subject"] = subject
    msg["Date"] = "Sun, 22 Nov 2026 10:00:00 +0000"
    msg.set_content(f"Body of {subject}: please call me back.")
    return msg.as_bytes(policy=email.policy.SMTP)


async def test_add_explains_why_without_a_mail_server(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    app = make_app(tenant_slug="globex", start="accounts")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "add a mail server first" in str(app.screen.query_one("#accounts-note").render())
        await pilot.press("a")
        await settle(pilot)
        assert type(app.screen).__name__ == "AccountsScreen"  # no dialog
        assert any("add a mail server first" in str(n.message) for n in app._notifications)


async def test_add_then_edit_an_account(ctx, actor, make_app) -> None:
    seeded = seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="accounts")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        form = app.screen
        form.query_one("#email", Input).value = "not-an-address"
        await pilot.pause()
        assert "not a valid email address" in screen_text(app)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "outbound server" in str(
            form.query_one("#field-mail_server_id .field-note").render()
        )
        form.query_one("#email", Input).value = "support@acme.example"
        form.query_one("#display_name", Input).value = "Support"
        form.query_one("#mail_server_id", Select).value = seeded.acme_server
        form.query_one("#imap_host", Input).value = "imap.acme.example"
        form.query_one("#imap_password", Input).value = IMAP_PASSWORD
        await pilot.press("ctrl+s")
        await settle(pilot)
        table = rows(app.screen.query_one("#accounts", DataTable))
        assert table[0][1] == "support@acme.example" and table[0][3] == "acme relay"
        await pilot.press("e")
        await settle(pilot)
        assert app.screen.query_one("#email", Input).disabled  # read-only after creation
        assert app.screen.query_one("#imap_password", Input).value == ""
        app.screen.query_one("#display_name", Input).value = "Support desk"
        await pilot.press("ctrl+s")
        await settle(pilot)
    (account,) = accounts(ctx)
    assert account.display_name == "Support desk"
    assert ctx.box.decrypt(account.imap_password_enc) == IMAP_PASSWORD


async def test_sync_an_account_against_dovecot(ctx, actor, make_app, imap_mailbox) -> None:
    seeded = seed(ctx, actor)
    imap_mailbox.append(message("First call"), message("Second call"), message("Third call"))
    add_account(
        ctx,
        actor,
        seeded.acme_server,
        imap_host=imap_mailbox.server.host,
        imap_port=imap_mailbox.server.plain_port,
        imap_tls=False,
        imap_username=imap_mailbox.user,
        imap_password=imap_mailbox.password,
    )
    app = make_app(tenant_slug="acme", start="accounts")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert rows(app.screen.query_one("#accounts", DataTable))[0][4] == "never"
        await pilot.press("s")
        await settle(pilot, rounds=6)
        table = rows(app.screen.query_one("#accounts", DataTable))
        assert table[0][5] == "3" and table[0][6] == ""
        assert any("3 new" in str(n.message) for n in app._notifications)
        await pilot.press("enter")
        await settle(pilot)
        subjects = sorted(row[2] for row in rows(app.screen.query_one("#messages", DataTable)))
        assert subjects == ["First call", "Second call", "Third call"]
        assert "please call me back" in str(app.screen.query_one("#message-snippet").render())


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_failing_sync_is_reported_and_the_app_goes_on(ctx, actor, make_app) -> None:
    seeded = seed(ctx, actor)
    add_account(
        ctx,
        actor,
        seeded.acme_server,
        imap_host="127.0.0.1",
        imap_port=closed_port(),
        imap_tls=False,
        imap_password="x",
    )
    app = make_app(tenant_slug="acme", start="accounts")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot, rounds=6)
        failures = [n for n in app._notifications if n.severity == "error"]
        assert failures and "refused" in str(failures[-1].message).lower()
        assert "refused" in rows(app.screen.query_one("#accounts", DataTable))[0][6].lower()
        await pilot.press("3")  # still usable
        await settle(pilot)
        assert app.current_mode == "servers"


async def test_delete_an_account_asks_first(ctx, actor, make_app) -> None:
    seeded = seed(ctx, actor)
    add_account(ctx, actor, seeded.acme_server)
    app = make_app(tenant_slug="acme", start="accounts")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        question = str(app.screen.query_one("#confirm-question", Static).render())
        assert question == (
            "Are you sure you want to delete the account Support? This cannot be undone."
        )
        await pilot.click("#cancel")
        await settle(pilot)
        assert len(accounts(ctx)) == 1
        await pilot.press("d")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert accounts(ctx) == []
