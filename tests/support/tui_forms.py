"""Pilot steps the TUI form tests share: open a page's form, fill its fields, save it.

- `open_form`: from where the app stands, go to a page (its key), put the cursor on a row, press
  the key that opens the form (`e` edits the row, `a` adds) and let it load.
- `fill`: fields by their ids: an Input gets its text (typed key by key like a person with
  `keys=True`), a Select its value; the form's validation lands after each.
- `type_into`: one Input, as `fill` does it.
- `save`: Ctrl+S and the screen the app stands on afterwards.

The steps are those a person takes, and each lets the app settle (workers finish, their
messages are handled), so a test asserts what the screen shows, not what is still on its way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import DataTable, Input, Select

from tests.tui.conftest import settle


async def open_form(
    pilot: Pilot[Any],
    *,
    page: str | None = None,
    row: int | None = None,
    key: str = "e",
    form: str | None = None,
) -> Screen[Any]:
    """The form `key` opens on the current page (or on `page`, by its key), on its table's `row`
    when one is named; with `form`, the form screen's class name it must be."""
    await settle(pilot)
    if page is not None:
        await pilot.press(page)
        await settle(pilot)
    if row is not None:
        pilot.app.screen.query_one(DataTable).move_cursor(row=row)
        await pilot.pause()
    await pilot.press(key)
    await settle(pilot)
    if form is not None:
        assert type(pilot.app.screen).__name__ == form
    return pilot.app.screen


async def type_into(pilot: Pilot[Any], selector: str, text: str, *, keys: bool = False) -> None:
    """Fill an input: key by key like a person (`keys=True`), or in one change (faster)."""
    widget = pilot.app.screen.query_one(selector, Input)
    widget.focus()
    widget.value = ""
    if keys:
        await pilot.press(*text)
    else:
        widget.value = text
    await settle(pilot)  # validation runs on the change message: let it land, even under load


async def fill(pilot: Pilot[Any], values: Mapping[str, Any], *, keys: bool = False) -> None:
    """Set the form's fields by id, in the order given (a preset fills fields named later)."""
    for field, value in values.items():
        widget = pilot.app.screen.query_one(f"#{field}")
        if isinstance(widget, Select):
            widget.value = value
            await settle(pilot)
        else:
            await type_into(pilot, f"#{field}", value, keys=keys)


async def save(pilot: Pilot[Any]) -> str:
    """Ctrl+S; the class name of the screen then shown (the list saved into, the form that
    refused, or a dialog that asks)."""
    await pilot.press("ctrl+s")
    await settle(pilot)
    return type(pilot.app.screen).__name__
