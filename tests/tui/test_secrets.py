"""No screen ever renders a stored password or secret: every page and dialog is visited with
distinctive secrets stored, and neither the rendered screen nor any input holds one."""

from __future__ import annotations

from textual.widgets import DataTable, Input

from core.models.mail import EmailAccountCreate, MailServerCreate
from core.models.tenancy import NotificationSettingsUpdate
from core.services.accounts import create_email_account
from core.services.mail_servers import create_mail_server
from core.services.notifications import update_notification_settings
from core.services.tenants import get_tenant
from tests.support.factories import make_webhook
from tests.tui.conftest import (
    CLIENT_SECRET,
    IMAP_PASSWORD,
    NEW_USER_PASSWORD,
    PASSWORD,
    screen_text,
    seed,
    settle,
)
from tests.tui.test_deliveries import emit_for

WEBHOOK_SECRET = "W3bhook-Sh4red-S3cret"
SECRETS = (PASSWORD, CLIENT_SECRET, IMAP_PASSWORD, NEW_USER_PASSWORD, WEBHOOK_SECRET)


def assert_no_secret(app, where: str) -> None:
    text = screen_text(app)
    values = [w.value for w in app.screen.query(Input)]
    for secret in SECRETS:
        assert secret not in text, f"{where}: a secret is on the screen"
        assert all(secret not in value for value in values), f"{where}: a secret is in an input"


def store_secrets(ctx, actor) -> None:
    seeded = seed(ctx, actor)  # acme's server has PASSWORD
    with ctx.session() as session:
        acme = get_tenant(session=session, slug="acme")
        create_mail_server(
            session=session,
            box=ctx.box,
            tenant=acme,
            actor=actor,
            data=MailServerCreate.from_fields(
                {
                    "name": "google",
                    "provider": "GMAIL",
                    "auth": "XOAUTH2",
                    "username": "alerts@acme.example",
                    "oauth_client_id": "client-id",
                    "oauth_client_secret": CLIENT_SECRET,
                    "password": PASSWORD,
                }
            ),
        )
        create_email_account(
            session=session,
            box=ctx.box,
            tenant=acme,
            actor=actor,
            data=EmailAccountCreate.from_fields(
                {
                    "email": "support@acme.example",
                    "display_name": "Support",
                    "mail_server_id": seeded.acme_server,
                    "imap_host": "imap.acme.example",
                    "imap_password": IMAP_PASSWORD,
                }
            ),
        )
        update_notification_settings(
            session=session,
            box=ctx.box,
            tenant=acme,
            actor=actor,
            changes=NotificationSettingsUpdate.parse(
                {"notify_user_registration": True}, system=False
            ),
        )
        # The Webhooks page of either scope (events the welcome email below does not reach).
        for tenant, event in ((acme, "QUEUE_SLA"), (None, "DISK_LOW")):
            make_webhook(
                session,
                ctx.box,
                tenant,
                "http://127.0.0.1:9/hook",
                secret=WEBHOOK_SECRET,
                events=[event],
            )
    emit_for(
        ctx, "acme", "USER_CREATION", password=NEW_USER_PASSWORD, email="new.user@acme.example"
    )


async def test_no_screen_renders_a_stored_secret(ctx, actor, make_app) -> None:
    store_secrets(ctx, actor)
    app = make_app(tenant_slug="acme")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for slug in ("acme", None):
            app.set_scope(slug)
            for page in app.pages:
                await pilot.press(page.key)
                await settle(pilot)
                assert_no_secret(app, f"{page.label} ({slug})")
        app.set_scope("acme")
        # every server's edit dialog, and the OAuth consent dialog
        await pilot.press("3")
        await settle(pilot)
        table = app.screen.query_one("#servers", DataTable)
        for row in range(table.row_count):
            table.move_cursor(row=row)
            await pilot.press("e")
            await settle(pilot)
            assert_no_secret(app, f"server dialog {row}")
            if app.screen.query_one("#authorize").display:
                await pilot.click("#authorize")
                await settle(pilot)
                assert type(app.screen).__name__ == "OAuthScreen"
                assert_no_secret(app, "oauth dialog")
                await pilot.press("escape")
                await settle(pilot)
            await pilot.press("escape")
            await settle(pilot)
        # the account's edit dialog
        await pilot.press("6")
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        assert type(app.screen).__name__ == "AccountFormScreen"
        assert_no_secret(app, "account dialog")
        await pilot.press("escape")
        # the welcome email in the delivery log
        await pilot.press("7")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "DeliveryDetailScreen"
        assert "Your new phone extension" in screen_text(app)
        assert_no_secret(app, "delivery detail")
        await pilot.press("escape")
        # the test email dialog and the help screen
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("ctrl+e")
        await settle(pilot)
        assert_no_secret(app, "test email dialog")
        await pilot.press("escape")
        await pilot.press("f1")
        await settle(pilot)
        assert_no_secret(app, "help")
