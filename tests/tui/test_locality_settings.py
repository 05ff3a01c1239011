"""The settings page's "Language and time" group: the zone typed (with suggestions), the locale
picked, saved through the settings service; the example line; a refusal under the field."""

from __future__ import annotations

from textual.widgets import Input, Select, Static

from tests.support.factories import read_settings, set_settings
from tests.tui.conftest import screen_text, seed, settle
from tui.widgets.locality_settings import UNSET, example


def _text(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def test_the_example_line_reads_in_the_pair() -> None:
    assert example("Europe/Paris", "fr_FR") == "Dates read: 3 nov. 2026, 15:05 CET"
    assert example("UTC", "en_US") == "Dates read: Nov 3, 2026, 2:05 PM UTC"
    assert example("Europe/Pa", "fr_FR").startswith("Dates read: — (type a zone such as")


async def test_a_tenant_types_a_zone_picks_a_locale_and_saves(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="settings")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        zone = screen.query_one("#timezone", Input)
        locale = screen.query_one("#locale", Select)
        # unset: the system's values, said in the placeholder and the first option
        assert (zone.value, zone.placeholder) == ("", "System's (UTC)")
        assert locale.value == UNSET
        zone.scroll_visible(animate=False)
        await pilot.pause()
        assert "System's (English (United States))" in screen_text(app)
        assert _text(app, "#locality-example") == "Dates read: Nov 3, 2026, 2:05 PM UTC"
        zone.focus()
        await pilot.press(*"europe/pa")
        await pilot.press("right")  # accepts the suggestion: the zone's own spelling
        await pilot.pause()
        assert zone.value == "Europe/Paris"
        locale.value = "fr_FR"
        await pilot.pause()
        assert _text(app, "#locality-example") == "Dates read: 3 nov. 2026, 15:05 CET"
        assert "unsaved changes" in _text(app, "#dirty")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "unsaved" not in _text(app, "#dirty")
        assert zone.value == "Europe/Paris" and locale.value == "fr_FR"
    saved = read_settings(ctx, "acme")
    assert (saved.timezone, saved.locale) == ("Europe/Paris", "fr_FR")
    assert (saved.effective_timezone, saved.effective_locale) == ("Europe/Paris", "fr_FR")
    # the recipients and toggles on the page were saved as they were
    assert saved.recipients == ["ops@acme.example", "boss@acme.example"]


async def test_an_unknown_zone_is_shown_under_the_field(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    set_settings(ctx, actor, "acme", locale="de_DE")
    app = make_app(tenant_slug="acme", start="settings")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        zone = app.screen.query_one("#timezone", Input)
        zone.value = "Mars/Olympus"
        app.screen.query_one("#locale", Select).value = "fr_FR"
        await pilot.press("ctrl+s")
        await settle(pilot)
        error = app.screen.query_one("#timezone-error", Static)
        assert error.display
        assert str(error.render()).startswith(
            "✗ timezone: 'Mars/Olympus' is not an IANA time zone name"
        )
        assert zone.has_class("-invalid") and app.focused is zone
        assert "unsaved changes" in _text(app, "#dirty")
    saved = read_settings(ctx, "acme")  # all or nothing: the locale was not saved either
    assert (saved.timezone, saved.locale) == (None, "de_DE")


async def test_the_system_page_and_a_tenant_that_follows_it(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    set_settings(ctx, actor, "acme", locale="it_IT")  # not a labelled one: still offered, as itself
    app = make_app(start="settings")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        zone = app.screen.query_one("#timezone", Input)
        locale = app.screen.query_one("#locale", Select)
        assert (zone.value, locale.value) == ("UTC", "en_US")
        zone.value = "America/New_York"
        locale.value = "de_DE"
        await pilot.press("ctrl+s")
        await settle(pilot)
    system = read_settings(ctx, None)
    assert (system.timezone, system.locale) == ("America/New_York", "de_DE")
    acme = read_settings(ctx, "acme")
    assert (acme.timezone, acme.effective_timezone) == (None, "America/New_York")
    assert acme.effective_locale == "it_IT"

    app = make_app(tenant_slug="acme", start="settings")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        zone = app.screen.query_one("#timezone", Input)
        locale = app.screen.query_one("#locale", Select)
        assert zone.placeholder == "System's (America/New_York)"
        assert locale.value == "it_IT"
        assert _text(app, "#locality-example").startswith("Dates read: 3 nov 2026, 09:05")
        locale.value = UNSET  # back to the system's
        await pilot.pause()
        assert _text(app, "#locality-example") == "Dates read: 03.11.2026, 09:05 EST"
        await pilot.press("ctrl+s")
        await settle(pilot)
    assert read_settings(ctx, "acme").locale is None
