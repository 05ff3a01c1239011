"""Rough edges of the TUI at 80x24 (issue 18, item 4): toggles that read without colour,
focus visible without colour, the recipient list's cursor, the test email's recipient, form
labels at 80 columns, the demo's tenant names, time columns naming their zone, the light
theme's headings and the drop-down's frame."""

from __future__ import annotations

from typing import Any

import pytest
from textual.app import App
from textual.color import Color
from textual.filter import NoColor
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import DataTable, Input, Label, Select, Switch
from textual.widgets._select import SelectOverlay

from core.services.mail_servers import resolve_effective_server
from core.services.tenants import get_tenant
from tests.tui.conftest import rows, screen_text, seed, settle
from tests.tui.test_demo import demo_app  # noqa: F401  (the demo's app, a fixture)
from tests.tui.test_settings import tenant_settings
from tui.screens.settings import NotConfiguredScreen
from tui.screens.test_email import TestEmailScreen
from tui.widgets.recipients import RecipientList, RecipientsEditor
from tui.widgets.toggle import OFF, ON, Toggle

ACME = ["ops@acme.example", "boss@acme.example"]


@pytest.fixture
def seeded(ctx, actor) -> None:
    seed(ctx, actor)


def colourless(app: App[Any], widget: Widget) -> list[list[tuple[str, str]]]:
    """What `widget` shows with every colour removed (Textual's NO_COLOR filter): its text
    and attributes (bold, reverse, underline…), row by row."""
    strips = app.screen._compositor.render_strips()
    region = widget.region
    shown = []
    for y in range(region.y, region.bottom):
        segments = NoColor().apply(list(strips[y].crop(region.x, region.right)), Color(0, 0, 0))
        shown.append([(s.text, str(s.style)) for s in segments if s.text])
    return shown


# -- toggles: a glyph and the word --------------------------------------------------------------


@pytest.mark.usefixtures("seeded")
async def test_every_toggle_says_on_or_off_and_the_word_follows_the_state(ctx, make_app) -> None:
    app = make_app(tenant_slug="acme", start="settings")
    async with app.run_test(size=(80, 24)) as pilot:
        app.animation_level = "none"
        await settle(pilot)
        switches = list(app.screen.query(Switch))
        assert switches and all(isinstance(s, Toggle) for s in switches)
        toggle = app.screen.query_one("#notify_user_registration", Toggle)
        assert toggle.value is False and str(toggle.render()).strip() == OFF
        toggle.focus()
        await pilot.press("space")
        await pilot.pause()
        assert toggle.value is True and str(toggle.render()).strip() == ON
        row = app.screen._compositor.render_strips()[toggle.region.y].text
        assert f"{ON}  A new user was created" in row
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert tenant_settings(ctx, "acme").toggles["notify_user_registration"] is True
        await pilot.press("space")
        await pilot.pause()
        assert str(toggle.render()).strip() == OFF


# -- focus: visible without colour --------------------------------------------------------------


@pytest.mark.usefixtures("seeded")
async def test_focus_shows_with_no_color(monkeypatch: pytest.MonkeyPatch, make_app) -> None:
    """With NO_COLOR every colour is dropped (and a 16-colour terminal has few): each kind of
    focusable widget must still look different focused, by its text's attributes."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(tenant_slug="acme", start="settings")
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.no_color
        app.animation_level = "none"
        await settle(pilot)
        same = []
        for selector in (
            "#recipient-input",
            "#recipient-list",
            "#recipient-add",
            "#notify_user_registration",
            "#locale",
            "#save",
        ):
            widget = app.screen.query_one(selector)
            if isinstance(widget, Input):
                widget.cursor_blink = False
            widget.scroll_visible(animate=False)
            app.screen.set_focus(None)
            await pilot.pause()
            blurred = colourless(app, widget)
            widget.focus()
            await pilot.pause()
            if colourless(app, widget) == blurred:
                same.append(selector)
        assert same == []
        await pilot.press("2")
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        app.screen.set_focus(None)
        await pilot.pause()
        blurred = colourless(app, table)
        table.focus()
        await pilot.pause()
        assert colourless(app, table) != blurred


# -- the recipient list: a cursor once focused ---------------------------------------------------


@pytest.mark.usefixtures("seeded")
async def test_delete_in_the_recipient_list_removes_the_first_at_once(ctx, make_app) -> None:
    app = make_app(tenant_slug="acme", start="settings")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        listing = app.screen.query_one("#recipient-list", RecipientList)
        app.screen.set_focus(None)
        listing.highlighted = None
        listing.focus()
        await pilot.pause()
        assert listing.highlighted == 0
        await pilot.press("delete")
        await pilot.pause()
        assert app.screen.query_one("#recipients", RecipientsEditor).value == ACME[1:]
        assert tenant_settings(ctx, "acme").recipients == ACME  # not saved yet
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert tenant_settings(ctx, "acme").recipients == ACME[1:]


# -- the test email's recipient -----------------------------------------------------------------


@pytest.mark.usefixtures("seeded")
async def test_test_email_prefills_the_first_recipient(make_app) -> None:
    app = make_app(tenant_slug="acme", start="settings")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+e")
        await settle(pilot)
        assert isinstance(app.screen, TestEmailScreen)
        assert app.screen.query_one("#recipient", Input).value == ACME[0]
        await pilot.press("escape")
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("e")  # the acme relay's form, then its "Test email…"
        await settle(pilot)
        await pilot.press("ctrl+e")
        await settle(pilot)
        assert isinstance(app.screen, TestEmailScreen)
        assert app.screen.query_one("#recipient", Input).value == ACME[0]


@pytest.mark.usefixtures("seeded")
async def test_test_email_of_a_scope_without_recipients_starts_empty(make_app) -> None:
    app = make_app(tenant_slug="globex", start="settings")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        if isinstance(app.screen, NotConfiguredScreen):
            await pilot.press("escape")
            await settle(pilot)
        await pilot.press("ctrl+e")
        await settle(pilot)
        assert app.screen.query_one("#recipient", Input).value == ""


# -- form labels at 80 columns ------------------------------------------------------------------


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    ("start", "key", "provider"),
    [("accounts", "a", None), ("servers", "e", None), ("servers", "a", "GMAIL")],
)
async def test_form_labels_fit_on_one_line_at_80_columns(
    make_app, start: str, key: str, provider: str | None
) -> None:
    app = make_app(tenant_slug="acme", start=start)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press(key)
        await settle(pilot)
        if provider is not None:  # the OAuth fields ("Client secret")
            app.screen.query_one("#provider", Select).value = provider
            await settle(pilot)
            app.screen.query_one("#auth", Select).value = "XOAUTH2"
            await settle(pilot)
        labels = [label for label in app.screen.query(".field-label").results(Label)]
        shown = [label for label in labels if all(n.display for n in label.ancestors_with_self)]
        assert len(shown) >= 8
        texts = [str(label.render()) for label in shown]
        assert provider is None or any("Client secret" in text for text in texts)
        for label, text in zip(shown, texts, strict=True):
            assert label.outer_size.height == 1 and len(text) <= label.size.width, text
            # Two columns between the label and its input: "Client secret not set" no more.
            assert label.outer_size.width - len(text) >= 2, text


def test_account_form_at_80x24(snap_compare, ctx, actor) -> None:
    """The account form's labels in one column, each on one line ("Display name *")."""
    from tui.app import MailbellApp

    seed(ctx, actor)

    async def open_form(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        for widget in pilot.app.screen.query(Input):
            widget.cursor_blink = False
        await settle(pilot)

    app = MailbellApp(ctx, tenant_slug="acme", start="accounts")
    assert snap_compare(app, terminal_size=(80, 24), run_before=open_form)


# -- the demo: names that do not contradict the rows; times that name their zone ---------------


async def test_demo_tenant_names_state_nothing_the_row_contradicts(demo_app) -> None:  # noqa: F811
    app = demo_app
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        by_slug = {row[1]: row for row in rows(app.screen.query_one("#tenants", DataTable))}
        ctx = app.ctx
        with ctx.session() as session:
            for slug in ("demo", "globex", "initech"):
                tenant = get_tenant(session=session, slug=slug)
                source = resolve_effective_server(session=session, tenant=tenant).source
                row = by_slug[slug]
                assert row[4].rstrip(" ⇄⚠") == (source or "not configured")
                assert "configured" not in row[2], row  # the state is the row's, not the name's
        assert by_slug["initech"][4] == "system" and by_slug["initech"][3]


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(("page", "table"), [("deliveries", "#deliveries"), ("audit", "#audit")])
async def test_time_columns_name_their_zone(make_app, page: str, table: str) -> None:
    app = make_app(start=page)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        grid = app.screen.query_one(table, DataTable)
        labels = [str(column.label) for column in grid.columns.values()]
        assert "Time (UTC)" in labels
        assert "Time (UTC)" in screen_text(app)


# -- the light theme's headings; the drop-down's frame ----------------------------------------


def luminance(colour: Color) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(colour.r) + 0.7152 * channel(colour.g) + 0.0722 * channel(colour.b)


def contrast(a: Color, b: Color) -> float:
    """WCAG's contrast ratio (4.5 is its minimum for text)."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.usefixtures("seeded")
async def test_headings_read_in_the_light_theme_and_the_drop_down_is_framed(make_app) -> None:
    app = make_app(tenant_slug="acme", start="settings")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.theme = "textual-light"
        await settle(pilot)
        heading = app.screen.query(".section-title").first(Label)
        colour, background = heading.colors[3], heading.colors[2]
        assert contrast(colour, background) >= 4.5, (colour, background)
        select = app.screen.query_one("#locale", Select)
        select.scroll_visible(animate=False)
        select.focus()
        await pilot.press("enter")
        await settle(pilot)
        overlay = select.query_one(SelectOverlay)
        assert select.expanded and overlay.styles.border_top[0] not in ("", "none", "hidden")
