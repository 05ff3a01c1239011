"""The server form's "Test email…" (ctrl+e): a test email through the form's values as typed,
a wrong password typed fails it, the right one typed succeeds while the saved one is wrong,
and nothing is saved or audited either way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.widgets import Input

from core.context import Context
from core.services.audit import Actor
from tests.support.factories import make_mail_server, make_tenant
from tests.support.smtp_servers import SmtpTestServer
from tests.support.unsaved_settings import (
    RIGHT,
    USER,
    WRONG,
    auth_smtp,
    server_fields,
    stored_state,
)
from tests.tui.conftest import screen_text, settle

TO = "it@acme.org"


@pytest.fixture
def smtp(smtp_servers: Callable[..., SmtpTestServer]) -> SmtpTestServer:
    return auth_smtp(smtp_servers)


def _acme_with(ctx: Context, actor: Actor, smtp: SmtpTestServer, password: str) -> None:
    with ctx.session() as session:
        acme = make_tenant(session, actor=actor)
        fields = server_fields(smtp, password=password)
        make_mail_server(session, ctx.box, acme, actor=actor, name="Main", **fields)


async def _type(pilot: Any, selector: str, text: str, *, more: bool = False) -> None:
    """Fill an input (`more`: others follow, so the checks as you type settle once, later)."""
    widget = pilot.app.screen.query_one(selector, Input)
    widget.focus()
    widget.value = text
    if not more:
        await settle(pilot)


async def _send_test_email(pilot: Any) -> str:
    """ctrl+e on the form, a recipient, Send: what the dialog shows once the server answered."""
    await pilot.press("ctrl+e")
    await settle(pilot)
    assert type(pilot.app.screen).__name__ == "TestEmailScreen"
    await _type(pilot, "#recipient", TO)
    await pilot.press("ctrl+s")
    await settle(pilot)
    return screen_text(pilot.app)


async def test_a_wrong_password_typed_in_the_form_fails_and_nothing_is_saved(
    ctx: Context, actor: Actor, make_app: Callable[..., Any], smtp: SmtpTestServer
) -> None:
    _acme_with(ctx, actor, smtp, RIGHT)
    before = stored_state(ctx)
    app = make_app(tenant_slug="acme", start="servers")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        await _type(pilot, "#password", WRONG)
        text = await _send_test_email(pilot)
        assert "✗ Failed at auth" in text, text
        assert "as typed in the form; not saved" in text
        await pilot.press("escape")
        await settle(pilot)
        assert type(app.screen).__name__ == "ServerFormScreen"  # the form keeps what was typed
        assert app.screen.query_one("#password", Input).value == WRONG
        await pilot.press("escape")  # leave without saving
        await settle(pilot)
    assert smtp.messages == []
    assert [attempt.success for attempt in smtp.auth_attempts] == [False]
    assert stored_state(ctx) == before  # the stored password, no last test, no audit entry


async def test_the_right_password_typed_succeeds_while_the_saved_one_is_wrong(
    ctx: Context, actor: Actor, make_app: Callable[..., Any], smtp: SmtpTestServer
) -> None:
    _acme_with(ctx, actor, smtp, WRONG)
    before = stored_state(ctx)
    app = make_app(tenant_slug="acme", start="servers")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        await _type(pilot, "#password", RIGHT)
        text = await _send_test_email(pilot)
        assert "✓ Sent" in text and "250" in text, text
    (message,) = smtp.messages
    assert message.auth_user == USER and message.rcpt_tos == [TO]
    assert stored_state(ctx) == before
    assert before["servers"][0]["password"] == WRONG


async def test_an_add_form_not_saved_yet_sends_through_what_it_holds(
    ctx: Context, make_app: Callable[..., Any], smtp: SmtpTestServer
) -> None:
    with ctx.session() as session:
        make_tenant(session)
    before = stored_state(ctx)
    app = make_app(tenant_slug="acme", start="servers")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        fields = server_fields(smtp, password=RIGHT)
        app.screen.query_one("#auth").value = "PLAIN"
        app.screen.query_one("#security").value = "none"
        for name in ("host", "port", "username", "password", "timeout"):
            await _type(pilot, f"#{name}", str(fields[name]), more=True)
        await _type(pilot, "#name", "New relay", more=True)
        await _type(pilot, "#mail_from", "Ops <ops@acme.org>")
        text = await _send_test_email(pilot)
        assert "✓ Sent" in text, text
        assert "Through New relay as typed in the form; not saved." in text
    (message,) = smtp.messages
    assert message.mail_from == "ops@acme.org" and message.auth_user == USER
    assert stored_state(ctx) == before  # still no server at all
