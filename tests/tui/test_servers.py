"""Mail servers: presets, validation as you type, test connection, default, delete."""

from __future__ import annotations

import socket

from textual.widgets import Button, DataTable, Input, Select, Static

from core.models.mail import MailServer, MailServerCreate
from core.services.mail_servers import create_mail_server, list_mail_servers
from core.services.tenants import get_tenant
from tests.tui.conftest import PASSWORD, rows, screen_text, seed, settle


async def type_into(pilot, selector: str, text: str, *, keys: bool = False) -> None:
    """Fill an input: key by key like a person (`keys=True`), or in one change (faster)."""
    widget = pilot.app.screen.query_one(selector, Input)
    widget.focus()
    widget.value = ""
    if keys:
        await pilot.press(*text)
    else:
        widget.value = text
    await settle(pilot)  # validation runs on the change message: let it land, even under load


def note(app, field: str) -> str:
    return str(app.screen.query_one(f"#field-{field} .field-note", Static).render())


def servers(ctx, slug: str | None = None):
    with ctx.session() as session:
        tenant = get_tenant(session=session, slug=slug) if slug else None
        # The rows, with what the screens never show (secrets, the default flag's column).
        return [
            session.get(MailServer, s.id) for s in list_mail_servers(session=session, tenant=tenant)
        ]


async def open_servers(pilot) -> None:
    await settle(pilot)
    await pilot.press("3")
    await settle(pilot)


async def test_add_a_server_with_a_provider_preset(ctx, make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_servers(pilot)
        await pilot.press("a")
        await settle(pilot)
        form = app.screen
        form.query_one("#provider", Select).value = "GMAIL"
        await pilot.pause()
        assert form.query_one("#host", Input).value == "smtp.gmail.com"
        assert form.query_one("#port", Input).value == "465"
        assert form.query_one("#security", Select).value == "tls"
        await type_into(pilot, "#name", "Google", keys=True)
        await type_into(pilot, "#username", "alerts@gmail.example")
        await type_into(pilot, "#password", PASSWORD)
        assert PASSWORD not in screen_text(app)  # masked while typed
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert type(app.screen).__name__ == "ServersScreen"
        table = rows(app.screen.query_one("#servers", DataTable))
        assert table[0][1] == "Google" and table[0][2] == "smtp.gmail.com:465"
    (saved,) = servers(ctx)
    assert (saved.provider, saved.host, saved.port, saved.security) == (
        "GMAIL",
        "smtp.gmail.com",
        465,
        "tls",
    )
    assert saved.is_default and ctx.box.decrypt(saved.password_enc) == PASSWORD


async def test_invalid_fields_show_the_rule_and_save_does_nothing(ctx, make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_servers(pilot)
        await pilot.press("a")
        await settle(pilot)
        await type_into(pilot, "#name", "relay")
        await type_into(pilot, "#host", "smtp.example.com")
        await type_into(pilot, "#port", "70000", keys=True)
        assert "out of range: use 1-65535" in note(app, "port")
        app.screen.query_one("#username", Input).value = "u" * 129
        await pilot.pause()
        assert "at most 128" in note(app, "username")
        await type_into(pilot, "#mail_from", "not an address")
        assert "not a valid email address" in note(app, "mail_from")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert type(app.screen).__name__ == "ServerFormScreen"
        assert servers(ctx) == []
        # fixed, one by one: the rules disappear and Save saves
        await type_into(pilot, "#port", "2525")
        assert "out of range" not in note(app, "port")
        await type_into(pilot, "#username", "mailer")
        await type_into(pilot, "#mail_from", "Alerts <alerts@example.com>")
        app.screen.query_one("#save", Button).press()
        await settle(pilot)
        assert type(app.screen).__name__ == "ServersScreen"
    (saved,) = servers(ctx)
    assert (saved.port, saved.username, saved.mail_from) == (
        2525,
        "mailer",
        "Alerts <alerts@example.com>",
    )


async def test_username_is_required_unless_auth_is_disabled(ctx, make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_servers(pilot)
        await pilot.press("a")
        await settle(pilot)
        await type_into(pilot, "#name", "relay")
        await type_into(pilot, "#host", "smtp.example.com")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "is required when auth is AUTO" in note(app, "username")
        app.screen.query_one("#auth", Select).value = "DISABLE"
        await pilot.pause()
        assert "required" not in note(app, "username")
        await type_into(pilot, "#mail_from", "alerts@example.com")
        await pilot.press("ctrl+s")
        await settle(pilot)
    assert [s.name for s in servers(ctx)] == ["relay"]


async def test_edit_with_blank_password_keeps_the_stored_one(ctx, actor, make_app) -> None:
    seeded = seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="servers")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        password = app.screen.query_one("#password", Input)
        assert password.value == "" and password.password
        assert "leave blank to keep" in password.placeholder
        await type_into(pilot, "#name", "acme primary")
        await pilot.press("ctrl+s")
        await settle(pilot)
    (saved,) = servers(ctx, "acme")
    assert saved.id == seeded.acme_server and saved.name == "acme primary"
    assert ctx.box.decrypt(saved.password_enc) == PASSWORD


async def test_test_connection_against_a_local_server(ctx, actor, make_app, smtp_server) -> None:
    with ctx.session() as session:
        create_mail_server(
            session=session,
            box=ctx.box,
            tenant=None,
            actor=actor,
            data=MailServerCreate.from_fields(
                {"name": "local", **smtp_server.server_fields(), "mail_from": "a@example.com"}
            ),
        )
    app = make_app(start="servers")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        assert type(app.screen).__name__ == "ConnectionTestScreen"
        text = screen_text(app)
        for step in ("DNS", "TCP", "Greeting", "EHLO", "AUTH", "MAIL FROM"):
            assert step in text
        assert "✓ connection to 127.0.0.1" in text and "✗" not in text
        await pilot.press("escape")
        await settle(pilot)
        table = rows(app.screen.query_one("#servers", DataTable))
        assert "✓ ok" in table[0][5]
    assert smtp_server.messages == []  # nothing was sent
    (saved,) = servers(ctx)
    assert saved.last_test_ok is True


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_failing_test_shows_the_step_and_hint_and_the_app_goes_on(ctx, make_app) -> None:
    app = make_app(start="servers")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        await type_into(pilot, "#name", "down")
        await type_into(pilot, "#host", "127.0.0.1")
        await type_into(pilot, "#port", str(closed_port()))
        app.screen.query_one("#auth", Select).value = "DISABLE"
        await pilot.pause()
        await pilot.press("ctrl+t")  # test the unsaved settings
        await settle(pilot)
        text = screen_text(app)
        assert "✗" in text and "connection refused" in text
        assert "Nothing accepts connections on this port" in text
        await pilot.press("escape")
        await settle(pilot)
        assert type(app.screen).__name__ == "ServerFormScreen"
        await type_into(pilot, "#mail_from", "alerts@example.com")  # a save needs a From
        await pilot.press("ctrl+s")  # still usable: save the server anyway
        await settle(pilot)
    assert [s.name for s in servers(ctx)] == ["down"]


async def test_set_default_moves_the_star(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    with ctx.session() as session:
        create_mail_server(
            session=session,
            box=ctx.box,
            tenant=None,
            actor=actor,
            data=MailServerCreate.from_fields(
                {
                    "name": "backup",
                    "host": "smtp.backup.example",
                    "auth": "DISABLE",
                    "mail_from": "backup@example.com",
                }
            ),
        )
    app = make_app(start="servers")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#servers", DataTable)
        table.move_cursor(row=1)
        await pilot.press("asterisk")
        await settle(pilot)
        marks = {row[1]: row[0] for row in rows(table)}
        assert marks["backup"].startswith("★") and not marks["shared"].startswith("★")
    assert {s.name: s.is_default for s in servers(ctx)} == {"shared": False, "backup": True}


async def test_delete_asks_first_cancel_keeps_confirm_deletes(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="servers")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        question = str(app.screen.query_one("#confirm-question", Static).render())
        assert question == "Are you sure you want to delete acme relay? This cannot be undone."
        await pilot.press("enter")  # Cancel has the focus
        await settle(pilot)
        assert [s.name for s in servers(ctx, "acme")] == ["acme relay"]
        await pilot.press("d")
        await settle(pilot)
        await pilot.click("#ok")
        await settle(pilot)
        assert servers(ctx, "acme") == []
        assert rows(app.screen.query_one("#servers", DataTable)) == []  # no placeholder row
        assert "No mail servers for tenant acme yet" in screen_text(app)
