"""Keys and tables of the TUI at 80x24: page keys whatever has focus, Esc on a filled form asks,
help and footer, the screenshot's place, Enter and empty tables."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable, Input, TextArea

from core.services.tenants import get_tenant
from tests.support.factories import emit_event
from tests.support.tui_forms import fill, open_form
from tests.tui.conftest import screen_text, seed, settle


def footer_keys(app: Any) -> dict[str, str]:
    """The footer's keys as shown: key display → description."""
    from textual.widgets._footer import FooterKey

    return {key.key_display or key.key: key.description for key in app.screen.query(FooterKey)}


async def test_ctrl_e_opens_the_test_email_while_the_recipient_input_has_focus(
    ctx, actor, make_app
) -> None:
    seed(ctx, actor)
    app = make_app(tenant_slug="acme")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        field = app.screen.query_one("#recipient-input", Input)
        field.focus()
        await pilot.press(*"ops@")
        await pilot.pause()
        assert app.focused is field
        assert "Test email" in footer_keys(app).values()
        await pilot.press("ctrl+e")
        await settle(pilot)
        assert type(app.screen).__name__ == "TestEmailScreen"


async def test_enter_is_in_the_footer_while_a_table_with_rows_has_focus(
    ctx, actor, make_app
) -> None:
    seed(ctx, actor)
    for start, slug, action in (
        ("servers", "acme", "Edit"),
        ("templates", "acme", "Edit"),
        ("accounts", "acme", None),  # acme has no account: nothing to open
        ("deliveries", "acme", None),
    ):
        app = make_app(tenant_slug=slug, start=start)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert isinstance(app.focused, DataTable), start
            assert footer_keys(app).get("⏎") == action, start


async def test_enter_on_a_row_opens_it_and_a_filter_keeps_its_enter(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    with ctx.session() as session:
        emit_event(session, ctx.box, get_tenant(session=session, slug="acme"), "QUEUE_SLA")
    app = make_app(tenant_slug="acme", start="deliveries")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert footer_keys(app).get("⏎") == "Details"
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "DeliveryDetailScreen"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("slash")  # the status filter: Enter opens its list, not a delivery
        await pilot.pause()
        assert "⏎" not in footer_keys(app)
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "DeliveriesScreen"
        assert app.screen.query_one("#status-filter").expanded


async def test_empty_tables_say_why_and_what_to_do(ctx, actor, make_app) -> None:
    from textual.widgets import Select

    seed(ctx, actor)
    cases = (
        ("servers", "globex", "No mail servers for tenant globex yet — press a to add one"),
        ("accounts", "globex", "an account needs a mail server first"),
        ("deliveries", "acme", "No deliveries for acme yet"),
    )
    for start, slug, words in cases:
        app = make_app(tenant_slug=slug, start=start)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert words in screen_text(app), start
            assert app.screen.query_one(f"#{start}-empty").display
    app = make_app(tenant_slug="acme", start="deliveries")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.query_one("#status-filter", Select).value = "failed"
        await settle(pilot)
        text = screen_text(app)
        assert "No deliveries for acme match the filter (status failed) — press / to change" in text
    app = make_app(tenant_slug="acme", start="servers")  # a table with rows shows no such line
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert not app.screen.query_one("#servers-empty").display
        assert "No mail servers" not in screen_text(app)


async def test_esc_on_a_filled_server_form_asks_and_an_untouched_one_closes(
    ctx, actor, make_app
) -> None:
    from core.services.mail_servers import list_mail_servers

    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="servers")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(pilot, form="ServerFormScreen")
        await pilot.press("escape")  # nothing changed: closes at once
        await settle(pilot)
        assert type(app.screen).__name__ == "ServersScreen"

        await open_form(pilot)
        await fill(pilot, {"host": "smtp.changed.example"})
        await pilot.press("escape")
        await settle(pilot)
        assert type(app.screen).__name__ == "ConfirmScreen"
        assert "Unsaved changes are lost" in screen_text(app)
        await pilot.press("escape")  # keep editing: the typed value is still there
        await settle(pilot)
        assert type(app.screen).__name__ == "ServerFormScreen"
        assert app.screen.query_one("#host", Input).value == "smtp.changed.example"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.click("#ok")  # Discard
        await settle(pilot)
        assert type(app.screen).__name__ == "ServersScreen"
    with ctx.session() as session:
        acme = get_tenant(session=session, slug="acme")
        assert [s.host for s in list_mail_servers(session=session, tenant=acme)] == [
            "smtp.acme.example"
        ]


async def test_esc_on_a_filled_account_form_asks_and_an_untouched_one_closes(
    ctx, actor, make_app
) -> None:
    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="accounts")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(pilot, key="a", form="AccountFormScreen")
        await pilot.press("escape")
        await settle(pilot)
        assert type(app.screen).__name__ == "AccountsScreen"

        await open_form(pilot, key="a")
        await pilot.press(*"sales@acme.example")
        await pilot.press("escape")
        await settle(pilot)
        assert type(app.screen).__name__ == "ConfirmScreen"
        await pilot.press("y")  # discard
        await settle(pilot)
        assert type(app.screen).__name__ == "AccountsScreen"
        assert "sales@acme.example" not in screen_text(app)


def help_text(app: Any) -> str:
    """Everything the help screen holds, scrolled or not, as plain text."""
    import io

    from rich.console import Console
    from textual.widgets import Static

    console = Console(width=200, record=True, file=io.StringIO())
    for static in app.screen.query(Static):
        console.print(static.content)
    return console.export_text()


async def test_help_lists_each_page_once_and_captured_only_in_the_demo(
    ctx, actor, make_app
) -> None:
    from tui.widgets.nav import PAGES

    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="servers")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)
        assert type(app.screen).__name__ == "HelpScreen"
        text = help_text(app)
        first_words = [line.split()[0] for line in text.splitlines() if line.strip()]
        for page in app.pages:
            assert first_words.count(page.key) == 1, page.label
            assert text.count(page.help) == 1, page.label
        captured = next(p for p in PAGES if p.mode == "captured")
        assert captured.key not in first_words
        assert "Captured" not in text and captured.help not in text
        assert "Test connection" in text  # the page's own keys are still there


async def test_every_footer_key_is_visible_at_80_columns(ctx, actor, make_app) -> None:
    """The keys the footer lays out are those the page shows, and each ends left of the palette
    key at the right edge (an overflowing footer scrolls its last keys out of sight)."""
    from textual.widgets._footer import FooterKey

    seed(ctx, actor)
    for slug, start in ((None, "slack"), ("acme", "slack"), ("acme", "servers")):
        app = make_app(tenant_slug=slug, start=start)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            keys = list(app.screen.query(FooterKey))
            palette = next(k for k in keys if k.has_class("-command-palette"))
            shown = {
                active.binding.description
                for active in app.screen.active_bindings.values()
                if active.binding.show
            }
            assert {k.description for k in keys if k is not palette} == shown, start
            for key in keys:
                if key is not palette:
                    assert key.region.right <= palette.region.x, (start, key.description)
            assert "Help" in {k.description for k in keys}


async def test_the_palette_screenshot_saves_into_the_data_directory(
    ctx, actor, make_app, tmp_path, monkeypatch
) -> None:
    account = tmp_path / "account-without-downloads"
    account.mkdir()
    monkeypatch.setenv("HOME", str(account))
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    seed(ctx, actor)
    folder = ctx.settings.home / "screenshots"
    app = make_app(tenant_slug="acme", start="servers")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Screenshot")
        await pilot.pause(0.5)
        await pilot.press("enter")
        for _ in range(100):  # the palette runs it on a timer; the save runs on a thread
            if folder.is_dir() and any(folder.glob("*.svg")):
                break
            await pilot.pause(0.05)
        [saved] = list(folder.glob("*.svg"))
        assert "Mail servers" in saved.read_text() or "Servers" in saved.read_text()
        await settle(pilot)
        notes = [str(n.message) for n in app._notifications]
        assert any(str(folder) in note for note in notes), notes
        assert not (account / "Downloads").exists()


async def test_f6_shows_the_preview_while_the_template_body_has_focus(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="templates")
    async with app.run_test(size=(80, 24)) as pilot:
        editor = await open_form(pilot, key="enter", form="TemplateEditorScreen")
        body = editor.query_one("#body", TextArea)
        body.focus()
        await pilot.pause()
        assert app.focused is body
        assert footer_keys(app).get("f6") == "Preview"
        panes = app.screen.query_one("#editor-panes")
        assert not panes.has_class("-preview-only")
        await pilot.press("f6")
        await pilot.pause()
        assert panes.has_class("-preview-only")
        await pilot.press("f6")
        await pilot.pause()
        assert not panes.has_class("-preview-only")
