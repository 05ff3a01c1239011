"""Accounts page: an account whose scheduled syncs stopped after a refused login says so and what
to do; "sync now" after the day's 3 failed logins is refused with when it is allowed again."""

from __future__ import annotations

from datetime import timedelta

from textual.widgets import DataTable

from core.models._common import utcnow
from core.models.mail import EmailAccount, EmailAccountCreate
from core.services.accounts import create_email_account
from core.services.tenants import get_tenant
from tests.tui.conftest import rows, screen_text, seed, settle


async def test_stopped_account_says_what_to_do_and_sync_now_names_when(
    ctx, actor, make_app
) -> None:
    seeded = seed(ctx, actor)
    failed_at = utcnow() - timedelta(hours=2)
    with ctx.session() as session:
        read = create_email_account(
            session=session,
            box=ctx.box,
            tenant=get_tenant(session=session, slug="acme"),
            actor=actor,
            data=EmailAccountCreate.from_fields(
                {
                    "email": "support@acme.example",
                    "display_name": "Support",
                    "mail_server_id": seeded.acme_server,
                    "imap_host": "127.0.0.1",
                    "imap_port": 1,  # never reached: the day's failed logins are used up
                    "imap_tls": False,
                    "imap_password": "wrong",
                }
            ),
        )
        account = session.get(EmailAccount, read.id)
        assert account is not None
        account.sync_stopped_reason = "authentication failed for 'support' on 127.0.0.1"
        account.sync_failures = 3
        account.login_failures = [(failed_at + timedelta(minutes=m)).isoformat() for m in (0, 5, 9)]
        session.add(account)
        session.commit()

    app = make_app(tenant_slug="acme", start="accounts")
    async with app.run_test(size=(120, 24)) as pilot:
        await settle(pilot)
        assert rows(app.screen.query_one("#accounts", DataTable))[0][4] == "✗ sync stopped"
        assert (
            "sync stopped: authentication failed — fix the password (e) or press sync now (s)"
            in screen_text(app)
        )
        await pilot.press("s")
        await settle(pilot, rounds=6)
        errors = [str(n.message) for n in app._notifications if n.severity == "error"]
        allowed = failed_at + timedelta(days=1)
        assert errors and f"allowed again at {allowed:%Y-%m-%d %H:%M} UTC" in errors[-1]
        assert "credentials change" in errors[-1]
