"""Every page's fields can be seen: no blank band taller than 3 rows in a page's content, and
every focusable widget within the first screen or reachable by scrolling (80x24 and 160x48).

How the check reads a page (`blank_bands`): the compositor's strips (what the terminal would
show, `render_strips`) cropped to the page's body (`#body`: below the header, navigation and
banner, above the footer). A row of the body is blank when it shows no text (scrollbar glyphs
aside) and no list-like widget (a table, a text area, a list) covers it: the rows below a
short table's last row are the table's, not a gap. A run of blank rows taller than 3 is a band
unless it ends the page: it reaches the body's bottom while nothing in the body can scroll
further down. Each scrollable container is scrolled page by page to its end and read again, so
a band below the first screen is found too. The System Settings page once had a
screen-high band (a Horizontal's default 1fr height inside the scrolling form);
`test_the_check_finds_a_screen_high_band` builds that layout and shows the check fails on it.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.geometry import Region
from textual.pilot import Pilot
from textual.scroll_view import ScrollView
from textual.widget import Widget
from textual.widgets import DataTable, Label, ListView, Log, OptionList, RichLog, TextArea, Tree
from textual.widgets._select import SelectOverlay

from tests.tui.conftest import seed, settle

MAX_BAND = 3
SIZES = [(80, 24), (160, 48)]
SCROLLBAR_GLYPHS = "▁▂▃▄▅▆▇█▔▕▏▎▍▌▋▊▉"
FILLERS = (DataTable, TextArea, OptionList, ListView, Log, RichLog, Tree)


def _shown(widget: Widget) -> bool:
    return all(node.display for node in widget.ancestors_with_self if isinstance(node, Widget))


def _rows(app: App[Any], body: Region) -> list[str]:
    strips = app.screen._compositor.render_strips()
    return [strips[y].crop(body.x, body.right).text for y in range(body.y, body.bottom)]


def _scrollers(body: Widget) -> list[Widget]:
    return [
        w
        for w in body.query("*")
        if _shown(w)
        and not isinstance(w, (*FILLERS, ScrollView))
        and w.styles.overflow_y in ("auto", "scroll")
        and w.max_scroll_y > 0
    ]


def blank_bands(app: App[Any]) -> list[tuple[int, int]]:
    """The blank bands (first row, height) of the body as shown now."""
    body = app.screen.query_one("#body")
    region = body.region
    covered: set[int] = set()
    for widget in body.query("*"):
        if isinstance(widget, FILLERS) and not isinstance(widget, SelectOverlay) and _shown(widget):
            visible = widget.region.intersection(region)
            covered.update(range(visible.y, visible.bottom))
    rows = _rows(app, region)
    at_end = all(w.scroll_y >= w.max_scroll_y for w in _scrollers(body))
    bands, start = [], None
    for index, text in enumerate([*rows, "end"]):
        y = region.y + index
        blank = index < len(rows) and y not in covered and not text.strip(SCROLLBAR_GLYPHS + " ")
        if blank and start is None:
            start = y
        elif not blank and start is not None:
            height = y - start
            ends_page = index == len(rows) and at_end
            if height > MAX_BAND and not ends_page:
                bands.append((start, height))
            start = None
    return bands


async def bands_anywhere(pilot: Pilot[Any]) -> list[tuple[int, int, int]]:
    """Blank bands at every scroll position of the page's scrollable containers: (scroll
    position, first row, height)."""
    app = pilot.app
    found = [(0, y, h) for y, h in blank_bands(app)]
    for scroller in _scrollers(app.screen.query_one("#body")):
        while scroller.scroll_y < scroller.max_scroll_y:
            scroller.scroll_to(y=scroller.scroll_y + scroller.size.height, animate=False)
            await pilot.pause()
            found += [(int(scroller.scroll_y), y, h) for y, h in blank_bands(app)]
        scroller.scroll_to(y=0, animate=False)
        await pilot.pause()
    return found


async def unreachable(pilot: Pilot[Any]) -> list[str]:
    """Focusable widgets of the body that are neither on the first screen nor brought into
    view by scrolling to them."""
    app = pilot.app
    body = app.screen.query_one("#body")
    missing = []
    for widget in body.query("*"):
        if not (widget.focusable and _shown(widget)) or isinstance(widget, SelectOverlay):
            continue
        if body.region.contains_region(widget.region):
            continue
        app.screen.scroll_to_widget(widget, animate=False)
        await pilot.pause()
        seen = widget.region.intersection(body.region)
        whole = body.region.contains_region(widget.region)
        if not (whole or (widget.region.height > body.region.height and seen.height)):
            missing.append(f"{type(widget).__name__}#{widget.id} at {widget.region}")
    return missing


@pytest.fixture
def seeded(ctx, actor) -> None:
    seed(ctx, actor)


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("scope", [None, "acme"], ids=["system", "tenant"])
async def test_every_page_has_no_blank_band_and_every_field_is_reachable(
    make_app, scope: str | None, size: tuple[int, int]
) -> None:
    app = make_app(tenant_slug=scope, start="tenants")
    problems: dict[str, Any] = {}
    async with app.run_test(size=size) as pilot:
        app.animation_level = "none"
        await settle(pilot)
        for page in app.pages:
            await pilot.press(page.key)
            await settle(pilot)
            assert app.current_mode == page.mode
            while len(app.screen_stack) > 1:  # a page's prompt (no mail server) over it
                app.pop_screen()
                await settle(pilot)
            bands = await bands_anywhere(pilot)
            missing = await unreachable(pilot)
            if bands or missing:
                problems[page.mode] = {"bands": bands, "unreachable": missing}
    assert problems == {}


class Gap(App[None]):
    """The System Settings page's old layout: an auto-height row around a bare Horizontal
    (height 1fr) inside a scrolling form, then the fields it pushed off the screen."""

    def compose(self) -> ComposeResult:
        with Vertical(id="body"), VerticalScroll():
            with Vertical(classes="row"), Horizontal():
                yield Label("Apply mail settings to all tenants")
            for n in range(6):
                yield Label(f"toggle {n}")

    CSS = ".row { height: auto; } VerticalScroll > Label { height: 1; }"


async def test_the_check_finds_a_screen_high_band() -> None:
    async with Gap().run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert blank_bands(pilot.app), "the first screen's band is not reported"
        pilot.app.query_one(Horizontal).styles.height = "auto"  # the fix
        await pilot.pause()
        assert await bands_anywhere(pilot) == []
