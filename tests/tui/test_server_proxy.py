"""The server form's proxy: typed with its password, stored without it, never shown again; the
connection test of the form's unsaved values goes through the proxy, its step in the report."""

from __future__ import annotations

from textual.widgets import Input

from tests.support.proxies import TestProxy
from tests.support.tui_forms import fill, open_form, save
from tests.tui.conftest import screen_text, seed, settle
from tests.tui.test_servers import servers

SECRET = "pr0xy-S3cret!"


async def test_the_proxy_is_saved_without_its_password_and_kept_on_edit(
    ctx, actor, make_app
) -> None:
    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="servers")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(pilot)
        await fill(pilot, {"proxy": f"socks5h://bob:{SECRET}@proxy.example.net:1080"})
        await save(pilot)
        form = await open_form(pilot)
        shown = form.query_one("#proxy", Input)
        password = form.query_one("#proxy_password", Input)
        assert shown.value == "socks5h://bob@proxy.example.net:1080"
        assert password.value == "" and "leave blank to keep" in password.placeholder
        password.scroll_visible(animate=False)
        await settle(pilot)
        text = screen_text(app)
        assert "Proxy passwdleave blank to keep the stored one" in text and SECRET not in text
        await fill(pilot, {"name": "acme via proxy"})
        await save(pilot)
    (saved,) = servers(ctx, "acme")
    assert saved.name == "acme via proxy"
    assert saved.proxy_url == "socks5h://bob@proxy.example.net:1080"
    assert ctx.box.decrypt(saved.proxy_password_enc) == SECRET


async def test_the_form_tests_the_connection_through_the_proxy(make_app, smtp_server) -> None:
    app = make_app(start="servers")
    with TestProxy("http", names={"smtp.behind-proxy.test": "127.0.0.1"}) as px:
        async with app.run_test(size=(80, 24)) as pilot:
            await open_form(pilot, key="a")
            await fill(
                pilot,
                {
                    "name": "behind",
                    "host": "smtp.behind-proxy.test",
                    "port": str(smtp_server.port),
                    "security": "none",
                    "auth": "DISABLE",
                    "mail_from": "ops@example.com",
                    "proxy": px.url(),
                },
            )
            await pilot.press("ctrl+t")
            await settle(pilot)
            await app.workers.wait_for_complete()
            await settle(pilot)
            text = screen_text(app)
    assert f"✓Proxy    connected through {px.url()} to" in text
    assert "DNS" not in text and "✗" not in text
    assert px.tunnels == [("smtp.behind-proxy.test", smtp_server.port)]
