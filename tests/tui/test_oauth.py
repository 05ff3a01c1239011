"""XOAUTH2 from the server dialog: consent URL, the pasted redirect checked, tokens stored.

`oauth_env` (a local token endpoint, tests/support) comes from tests/tui/conftest.py.
"""

from __future__ import annotations

from textual.widgets import Input, Static, TextArea

from core.models.mail import MailServer, MailServerCreate
from core.services.mail_servers import create_mail_server
from tests.tui.conftest import CLIENT_SECRET, screen_text, settle


async def test_authorize_a_gmail_server(oauth_env, ctx, actor, make_app) -> None:
    with ctx.session() as session:
        server = create_mail_server(
            session=session,
            box=ctx.box,
            tenant=None,
            actor=actor,
            data=MailServerCreate.from_fields(
                {
                    "name": "Gmail",
                    "provider": "GMAIL",
                    "auth": "XOAUTH2",
                    "username": "user@example.com",
                    "oauth_client_id": "client-id",
                    "oauth_client_secret": "client-secret",
                }
            ),
        )
    app = make_app(start="servers")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        assert "Not authorized yet" in str(app.screen.query_one("#token-status").render())
        await pilot.click("#authorize")
        await settle(pilot)
        url = app.screen.query_one("#consent-url", TextArea).text
        assert url.startswith(oauth_env.auth_url) and "client-secret" not in url
        redirect = app.screen.query_one("#redirect", Input)
        redirect.value = "http://localhost:8765/oauth/callback?code=x&state=forged"
        await pilot.press("enter")
        await settle(pilot)
        note = str(app.screen.query_one("#field-redirect_url .field-note", Static).render())
        assert "state does not match" in note
        redirect.value = oauth_env.authorize(url)
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "ServerFormScreen"
        assert "✓ Authorized" in str(app.screen.query_one("#token-status").render())
        assert CLIENT_SECRET not in screen_text(app)
    with ctx.session() as session:
        row = session.get(MailServer, server.id)
        assert row is not None and row.oauth_refresh_token_enc is not None
