"""Mail servers: presets, validation as you type, test connection, default, delete."""

from __future__ import annotations

import socket

from textual.widgets import Button, DataTable, Input, Select, Static

from core.models.mail import MailServer
from core.services.mail_servers import list_mail_servers
from core.services.tenants import get_tenant
from tests.support.factories import make_mail_server
from tests.support.tui_forms import fill, open_form, save
from tests.tui.conftest import PASSWORD, rows, screen_text, seed, settle


def note(app, field: str) -> str:
    return str(app.screen.query_one(f"#field-{field} .field-note", Static).render())


def servers(ctx, slug: str | None = None):
    with ctx.session() as session:
        tenant = get_tenant(session=session, slug=slug) if slug else None
        # The rows, with what the screens never show (secrets, the default flag's column).
        return [
            session.get(MailServer, s.id) for s in list_mail_servers(session=session, tenant=tenant)
        ]


async def test_add_a_server_with_a_provider_preset(ctx, make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot, page="3", key="a")
        await fill(pilot, {"provider": "GMAIL"})
        assert form.query_one("#host", Input).value == "smtp.gmail.com"
        assert form.query_one("#port", Input).value == "465"
        assert form.query_one("#security", Select).value == "tls"
        await fill(pilot, {"name": "Google"}, keys=True)
        await fill(pilot, {"username": "alerts@gmail.example", "password": PASSWORD})
        assert PASSWORD not in screen_text(app)  # masked while typed
        assert await save(pilot) == "ServersScreen"
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
        await open_form(pilot, page="3", key="a")
        await fill(pilot, {"name": "relay", "host": "smtp.example.com"})
        await fill(pilot, {"port": "70000"}, keys=True)
        assert "out of range: use 1-65535" in note(app, "port")
        await fill(pilot, {"username": "u" * 129})
        assert "at most 128" in note(app, "username")
        await fill(pilot, {"mail_from": "not an address"})
        assert "not a valid email address" in note(app, "mail_from")
        assert await save(pilot) == "ServerFormScreen"
        assert servers(ctx) == []
        # fixed, one by one: the rules disappear and Save saves
        await fill(pilot, {"port": "2525"})
        assert "out of range" not in note(app, "port")
        await fill(pilot, {"username": "mailer", "mail_from": "Alerts <alerts@example.com>"})
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
        await open_form(pilot, page="3", key="a")
        await fill(pilot, {"name": "relay", "host": "smtp.example.com"})
        await save(pilot)
        assert "is required when auth is AUTO" in note(app, "username")
        await fill(pilot, {"auth": "DISABLE"})
        assert "required" not in note(app, "username")
        await fill(pilot, {"mail_from": "alerts@example.com"})
        await save(pilot)
    assert [s.name for s in servers(ctx)] == ["relay"]


async def test_edit_with_blank_password_keeps_the_stored_one(ctx, actor, make_app) -> None:
    seeded = seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="servers")
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot)
        password = form.query_one("#password", Input)
        assert password.value == "" and password.password
        assert "leave blank to keep" in password.placeholder
        await fill(pilot, {"name": "acme primary"})
        await save(pilot)
    (saved,) = servers(ctx, "acme")
    assert saved.id == seeded.acme_server and saved.name == "acme primary"
    assert ctx.box.decrypt(saved.password_enc) == PASSWORD


async def test_test_connection_against_a_local_server(ctx, actor, make_app, smtp_server) -> None:
    with ctx.session() as session:
        make_mail_server(
            session,
            ctx.box,
            None,
            smtp=smtp_server,
            actor=actor,
            name="local",
            mail_from="a@example.com",
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
        await open_form(pilot, key="a")
        await fill(
            pilot,
            {"name": "down", "host": "127.0.0.1", "port": str(closed_port()), "auth": "DISABLE"},
        )
        await pilot.press("ctrl+t")  # test the unsaved settings
        await settle(pilot)
        text = screen_text(app)
        assert "✗" in text and "connection refused" in text
        assert "Nothing accepts connections on this port" in text
        await pilot.press("escape")
        await settle(pilot)
        assert type(app.screen).__name__ == "ServerFormScreen"
        await fill(pilot, {"mail_from": "alerts@example.com"})  # a save needs a From
        await save(pilot)  # still usable: save the server anyway
    assert [s.name for s in servers(ctx)] == ["down"]


async def test_set_default_moves_the_star(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    with ctx.session() as session:
        make_mail_server(
            session,
            ctx.box,
            None,
            actor=actor,
            name="backup",
            host="smtp.backup.example",
            mail_from="backup@example.com",  # and no authentication, as the factory makes it
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
