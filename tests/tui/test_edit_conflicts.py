"""Two admins editing one server or account (issue #19 item 4): a save over the other's change
is refused with who and when, the edits stay in the form; Overwrite then saves only the fields
changed in the form, so the other admin's other changes survive."""

from __future__ import annotations

from textual.widgets import Button, Input, Static

from core.models.mail import EmailAccount, EmailAccountUpdate, MailServer, MailServerUpdate
from core.services.accounts import update_email_account
from core.services.audit import Actor
from core.services.mail_servers import update_mail_server
from core.services.tenants import get_tenant
from tests.support.tui_forms import fill, open_form, save
from tests.tui.conftest import screen_text, seed, settle
from tests.tui.test_accounts import add_account

BOB = Actor(name="bob", source="api")


def server_row(ctx, server_id: int) -> MailServer:
    with ctx.session() as session:
        return session.get_one(MailServer, server_id)


def account_row(ctx, account_id: int) -> EmailAccount:
    with ctx.session() as session:
        return session.get_one(EmailAccount, account_id)


def bob_changes_server(ctx, server_id: int, **fields) -> None:
    with ctx.session() as session:
        update_mail_server(
            session=session,
            box=ctx.box,
            tenant=get_tenant(session=session, slug="acme"),
            server_id=server_id,
            changes=MailServerUpdate.from_fields(fields),
            actor=BOB,
        )


def bob_changes_account(ctx, account_id: int, **fields) -> None:
    with ctx.session() as session:
        update_email_account(
            session=session,
            box=ctx.box,
            tenant=get_tenant(session=session, slug="acme"),
            account_id=account_id,
            changes=EmailAccountUpdate.from_fields(fields),
            actor=BOB,
        )


def on_screen(widget) -> bool:
    """Whether the widget is drawn inside its dialog's border (not scrolled or pushed out)."""
    dialog = widget.screen.query_one(".dialog")
    return dialog.content_region.contains_region(widget.region)


async def save_into_conflict(pilot) -> str:
    """Save; the conflict dialog comes up: its message (as shown, wrapped at 80 columns)."""
    assert await save(pilot) == "EditConflictScreen"
    shown = screen_text(pilot.app)
    assert "Overwrite their change" in shown and "Keep editing" in shown
    return str(pilot.app.screen.query_one("#confirm-question", Static).render())


async def test_server_form_refuses_a_save_over_another_admins_change(ctx, actor, make_app) -> None:
    seeded = seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="servers")
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        await fill(pilot, {"name": "acme primary", "timeout": "45"})
        bob_changes_server(ctx, seeded.acme_server, mail_from="noc@acme.example")

        text = await save_into_conflict(pilot)
        assert "Mail server acme relay was changed by someone else since you opened it" in text
        assert "by bob via api at" in text
        await pilot.press("enter")  # Keep editing has the focus: Enter never overwrites
        await settle(pilot)
        assert app.screen is form and form.query_one("#name", Input).value == "acme primary"
        assert form.query_one("#timeout", Input).value == "45"
        note = form.query_one("#conflict-note", Static)
        assert note.display and "Not saved. Mail server acme relay was changed" in str(
            note.render()
        )
        # the note's lines come out of the fields' scroll: Save stays on the 24-line screen
        assert on_screen(form.query_one("#save", Button))
        row = server_row(ctx, seeded.acme_server)
        assert (row.name, row.mail_from, row.timeout) == ("acme relay", "noc@acme.example", 30)

        await save_into_conflict(pilot)  # still stale: asked again
        app.screen.query_one("#ok", Button).press()
        await settle(pilot)
        assert type(app.screen).__name__ == "ServersScreen"
    row = server_row(ctx, seeded.acme_server)
    # Ours saved, and Bob's From survived: only the fields changed in the form were written.
    assert (row.name, row.timeout, row.mail_from) == ("acme primary", 45, "noc@acme.example")


async def test_server_form_saves_when_only_a_test_ran_meanwhile(ctx, actor, make_app) -> None:
    seeded = seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="servers")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(pilot)
        await fill(pilot, {"name": "acme primary"})
        with ctx.session() as session:  # a test's outcome lands on the row: not an admin's change
            row = session.get_one(MailServer, seeded.acme_server)
            row.last_test_ok, row.last_test_message = False, "connection refused"
            session.add(row)
            session.commit()
        assert await save(pilot) == "ServersScreen"
    assert server_row(ctx, seeded.acme_server).name == "acme primary"


async def test_account_form_refuses_a_save_over_another_admins_change(ctx, actor, make_app) -> None:
    seeded = seed(ctx, actor)
    account_id = add_account(ctx, actor, seeded.acme_server, imap_host="imap.acme.example")
    app = make_app(tenant_slug="acme", start="accounts")
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        await fill(pilot, {"display_name": "Support desk"})
        bob_changes_account(ctx, account_id, imap_folder="Alerts")

        text = await save_into_conflict(pilot)
        assert "Email account support@acme.example was changed by someone else" in text
        assert "by bob via api at" in text
        await pilot.press("escape")  # Keep editing
        await settle(pilot)
        assert app.screen is form and form.query_one("#display_name", Input).value == (
            "Support desk"
        )
        assert form.query_one("#conflict-note", Static).display
        assert on_screen(form.query_one("#save", Button))
        row = account_row(ctx, account_id)
        assert (row.display_name, row.imap_folder) == ("Support", "Alerts")

        await save_into_conflict(pilot)
        app.screen.query_one("#ok", Button).press()
        await settle(pilot)
        assert type(app.screen).__name__ == "AccountsScreen"
    row = account_row(ctx, account_id)
    # The form still showed INBOX, but only the display name was changed there: Bob's folder stays.
    assert (row.display_name, row.imap_folder) == ("Support desk", "Alerts")
