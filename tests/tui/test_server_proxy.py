"""The server form's proxy: typed with its password, stored without it, never shown again; the
connection test of the form's unsaved values goes through the proxy, its step in the report."""

from __future__ import annotations

from textual.widgets import Input, Select

from tests.support.proxies import TestProxy
from tests.tui.conftest import screen_text, seed, settle
from tests.tui.test_servers import servers, type_into

SECRET = "pr0xy-S3cret!"


async def test_the_proxy_is_saved_without_its_password_and_kept_on_edit(
    ctx, actor, make_app
) -> None:
    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="servers")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        await type_into(pilot, "#proxy", f"socks5h://bob:{SECRET}@proxy.example.net:1080")
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        shown = app.screen.query_one("#proxy", Input)
        password = app.screen.query_one("#proxy_password", Input)
        assert shown.value == "socks5h://bob@proxy.example.net:1080"
        assert password.value == "" and "leave blank to keep" in password.placeholder
        password.scroll_visible(animate=False)
        await settle(pilot)
        text = screen_text(app)
        assert "Proxy passwdleave blank to keep the stored one" in text and SECRET not in text
        await type_into(pilot, "#name", "acme via proxy")
        await pilot.press("ctrl+s")
        await settle(pilot)
    (saved,) = servers(ctx, "acme")
    assert saved.name == "acme via proxy"
    assert saved.proxy_url == "socks5h://bob@proxy.example.net:1080"
    assert ctx.box.decrypt(saved.proxy_password_enc) == SECRET


async def test_the_form_tests_the_connection_through_the_proxy(make_app, smtp_server) -> None:
    app = make_app(start="servers")
    with TestProxy("http", names={"smtp.behind-proxy.test": "127.0.0.1"}) as px:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("a")
            await settle(pilot)
            await type_into(pilot, "#name", "behind")
            await type_into(pilot, "#host", "smtp.behind-proxy.test")
            await type_into(pilot, "#port", str(smtp_server.port))
            app.screen.query_one("#security", Select).value = "none"
            app.screen.query_one("#auth", Select).value = "DISABLE"
            await type_into(pilot, "#mail_from", "ops@example.com")
            await type_into(pilot, "#proxy", px.url())
            await pilot.press("ctrl+t")
            await settle(pilot)
            await app.workers.wait_for_complete()
            await settle(pilot)
            text = screen_text(app)
    assert f"✓Proxy    connected through {px.url()} to" in text
    assert "DNS" not in text and "✗" not in text
    assert px.tunnels == [("smtp.behind-proxy.test", smtp_server.port)]
