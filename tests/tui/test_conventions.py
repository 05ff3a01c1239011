"""Conventions of the best TUIs: page keys in the bar's order, a bar that never cuts a name,
j/k/g/G in tables and lists (typed in text fields), `?` with the focused widget's keys, keys
remapped from MAILBELL_HOME/keys.toml (a bad file refused, once, by name), the theme remembered.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, OptionList, SelectionList, TextArea

from tests.support.factories import make_tenant, set_settings
from tests.tui.conftest import page_key, settle
from tests.tui.test_tui_keys_and_tables import help_text
from tui import keymap, keys_file
from tui.theme_memory import STATE_FILE, data_home
from tui.widgets.nav import PAGES, NavBar, NavItem, NavMore, window


def tenants(ctx, actor, *slugs: str) -> None:
    with ctx.session() as session:
        for slug in slugs:
            make_tenant(session, slug=slug, name=slug.title(), actor=actor)


# -- page keys and the navigation bar ----------------------------------------------------------


def test_page_keys_run_in_the_bar_order_from_the_overview() -> None:
    assert PAGES[0].mode == "overview"
    assert [page.key for page in PAGES[:10]] == list("1234567890")
    assert len({page.key for page in PAGES}) == len(PAGES)


@pytest.mark.parametrize(
    ("anchor", "room", "expected"),
    [
        (0, 100, (0, 5)),  # everything fits: no markers
        (0, 30, (0, 2)),  # 10 + 10 + the right marker
        (4, 30, (3, 5)),  # the last page: the left marker, two pages
        (2, 30, (1, 3)),  # in the middle: markers on both sides, the pages between
        (2, 13, (2, 3)),  # one page and two markers is all there is room for
    ],
)
def test_the_window_holds_whole_pages_around_the_anchor(anchor, room, expected) -> None:
    assert window([10] * 5, anchor, room) == expected


def bar_state(app: Any) -> tuple[NavBar, list[NavItem], list[NavMore]]:
    bar = app.screen.query_one(NavBar)
    items = [item for item in bar.query(NavItem) if item.display]
    markers = [marker for marker in bar.query(NavMore) if marker.display]
    return bar, items, markers


@pytest.mark.parametrize("width", [80, 100, 120, 160])
async def test_the_nav_bar_shows_whole_names_only_with_the_current_page_in_sight(
    ctx, make_app, width: int
) -> None:
    app = make_app()
    async with app.run_test(size=(width, 24)) as pilot:
        await settle(pilot)
        for page in app.pages:
            await pilot.press(page.key)
            await settle(pilot)
            bar, items, markers = bar_state(app)
            assert app.screen.query_one(f"#nav-{page.mode}").display, (width, page.mode)
            for item in items:
                text = str(item.render())
                # The whole name (and key when shown), and the region it is drawn in holds it.
                assert text.endswith(item.page.label), text
                assert item.region.width == len(text) + item.styles.gutter.width, text
                assert item.region.right <= width, (width, text)
            hidden = [p.label for p in app.pages if p.label not in {i.page.label for i in items}]
            told = " ".join(str(marker.tooltip) for marker in markers)
            assert all(label in told for label in hidden), (width, hidden, told)
            assert bool(markers) == bool(hidden)
    if width >= 120:  # room for the keys: the bar teaches them
        assert bar.form.startswith("keys")


async def test_a_marker_click_brings_the_pages_out_of_sight_in(ctx, make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        _, items, markers = bar_state(app)
        assert items[0].page.mode == "overview" and markers[0].id == "nav-more-right"
        assert "Health (H)" in str(markers[0].tooltip)
        await pilot.click("#nav-more-right")
        await pilot.pause()
        _, items, markers = bar_state(app)
        assert items[-1].page.mode == "health" and markers[0].id == "nav-more-left"
        await pilot.click("#nav-health")
        await settle(pilot)
        assert app.current_mode == "health"


# -- j/k/g/G -----------------------------------------------------------------------------------


async def test_j_k_g_shift_g_move_a_table_and_a_filter_types_them(ctx, actor, make_app) -> None:
    tenants(ctx, actor, "acme", "globex", "initech")
    app = make_app(start="tenants")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#tenants", DataTable)
        table.focus()
        table.move_cursor(row=0)
        await pilot.press("j", "j")
        assert table.cursor_row == 2
        await pilot.press("k")
        assert table.cursor_row == 1
        await pilot.press("G")
        assert table.cursor_row == table.row_count - 1 == 3
        await pilot.press("g")
        assert table.cursor_row == 0

        await pilot.press(page_key("overview"), "slash")  # the Overview's filter field
        await settle(pilot)
        field = app.focused
        assert isinstance(field, Input)
        await pilot.press("j", "k", "g", "G", "question_mark")
        assert field.value == "jkgG?"
        assert type(app.screen).__name__ == "OverviewScreen"  # `?` typed, no help


async def test_j_k_g_shift_g_move_a_list(ctx, actor, make_app) -> None:
    addresses = ["a@ops.example", "b@ops.example", "c@ops.example"]
    set_settings(ctx, actor, None, recipients=addresses)
    app = make_app(start="settings")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        recipients = app.screen.query_one("#recipient-list", OptionList)
        recipients.focus()
        await pilot.pause()
        assert recipients.highlighted == 0
        await pilot.press("j", "j")
        assert recipients.highlighted == 2
        await pilot.press("g")
        assert recipients.highlighted == 0
        await pilot.press("G", "k")
        assert recipients.highlighted == 1


async def test_j_and_k_move_a_list_in_a_dialog(ctx, make_app) -> None:
    app = make_app(start="webhooks")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        events = app.screen.query_one("#events", SelectionList)
        events.focus()
        events.highlighted = 0
        await pilot.press("j", "j", "k")
        assert events.highlighted == 1
        await pilot.press("G")
        assert events.highlighted == events.option_count - 1


# -- ? and the focused widget ------------------------------------------------------------------


async def test_question_mark_lists_the_focused_tables_keys_then_the_page_and_the_app(
    ctx, actor, make_app
) -> None:
    tenants(ctx, actor, "acme")
    app = make_app(start="tenants")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.query_one("#tenants", DataTable).focus()
        await pilot.press("question_mark")
        await settle(pilot)
        assert type(app.screen).__name__ == "HelpScreen"
        text = help_text(app)
        focused = text.index("Focused: table (tenants)")
        assert focused < text.index("This page:") < text.index("Pages") < text.index("Everywhere")
        # j/k/g/G on the line of the table's own key that does the same, with their ids.
        line = {row.split()[-1]: row.split() for row in text.splitlines() if row.strip()}
        assert line["cursor.down"][:4] == ["↓,", "j", "Cursor", "down"]
        assert line["cursor.last"][:3] == ["^end,", "G", "Bottom"]
        assert "Page down" in text  # the rest of the DataTable's own keys


async def test_f1_in_a_text_field_lists_the_fields_keys(ctx, make_app) -> None:
    app = make_app(start="overview")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        await settle(pilot)
        assert isinstance(app.focused, Input)
        await pilot.press("f1")
        await settle(pilot)
        text = help_text(app)
        assert "Focused: text field" in text
        assert "Delete character left" in text  # one of Textual's Input keys
        assert "cursor.down" not in text.split("This page:")[0]  # j types j in a field


async def test_f1_in_a_dialog_names_the_dialog_and_its_field(ctx, make_app) -> None:
    app = make_app(start="servers")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert type(app.screen).__name__ == "ServerFormScreen"
        assert isinstance(app.focused, Input)
        await pilot.press("f1")
        await settle(pilot)
        text = help_text(app)
        assert "Focused: text field" in text and "This page: Server form" in text
        assert "server-form.test" in text  # the dialog's keys, with their ids
        await pilot.press("f1")  # closes the help, back in the dialog's field
        await settle(pilot)
        assert type(app.screen).__name__ == "ServerFormScreen" and isinstance(app.focused, Input)


async def test_question_mark_is_typed_in_the_template_body_and_f1_lists_its_keys(
    ctx, actor, make_app
) -> None:
    tenants(ctx, actor, "acme")
    app = make_app(tenant_slug="acme", start="templates")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        body = app.screen.query_one("#body", TextArea)
        body.focus()
        body.move_cursor((0, 0))
        await pilot.press("question_mark", "j")
        assert body.text.startswith("?j")
        assert type(app.screen).__name__ == "TemplateEditorScreen"
        await pilot.press("f1")
        await settle(pilot)
        text = help_text(app)
        assert "Focused: text editor (body)" in text and "This page: Template editor" in text
        assert "Show the preview full height" in text  # the editor's f6, whatever has focus


# -- the keys file -----------------------------------------------------------------------------


def write_keys(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / keymap.KEYS_FILE
    path.write_text(text, encoding="utf-8")
    return path


async def test_a_keys_file_remaps_app_and_page_keys_and_help_shows_them(
    ctx, home, make_app
) -> None:
    write_keys(
        home,
        '"go.servers" = "f3"\n'  # a quoted id
        "[cursor]\n"  # a table of ids: cursor.down
        'down = ["ctrl+n", "j"]\n'
        "[servers]\n"  # a page's key
        'add = "insert"\n',
    )
    app = make_app(start="overview")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press(page_key("servers"))
        await settle(pilot)
        assert app.current_mode == "overview"  # 3 no longer opens Servers
        await pilot.press("f3")
        await settle(pilot)
        assert app.current_mode == "servers"
        await pilot.press("a")
        await settle(pilot)
        assert type(app.screen).__name__ == "ServersScreen"  # a no longer adds
        await pilot.press("insert")
        await settle(pilot)
        assert type(app.screen).__name__ == "ServerFormScreen"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)
        text = help_text(app)
        row = {line.split()[-1]: line for line in text.splitlines() if line.strip()}
        assert row["go.servers"].split()[0] == "f3" and row["servers.add"].split()[0] == "insert"
        assert row["cursor.down"].startswith("↓, ^n, j ")  # the table's key, then the file's
        assert not app._notifications  # nothing to report


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('help = "f2"\n"go.nowhere" = "x"\n', ["line 2", "'go.nowhere' is not a binding id"]),
        ('help = "f2"\nquit = \n', ["not valid TOML", "line 2"]),
        ('help = "ctrl+nope+x"\n', ["line 1", "'nope' is not a modifier"]),
        ('help = "spacebar"\n', ["line 1", "'spacebar' is not a key"]),
        ("help = 5\n", ["line 1", "give a key or a list of keys"]),
        ('help = "q"\n', ["line 1", "'help' takes 'q', which Quit has on everywhere"]),
        ('"cursor.down" = "a"\n', ["'cursor.down' takes 'a', which Add", "more)"]),
    ],
    ids=["unknown-id", "syntax", "modifier", "key-name", "type", "clash-app", "clash-page"],
)
async def test_a_bad_keys_file_is_reported_once_and_the_defaults_stay(
    ctx, home, make_app, text: str, said: list[str]
) -> None:
    path = write_keys(home, text)
    app = make_app(start="overview")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        notes = list(app._notifications)
        assert len(notes) == 1
        assert str(path) in notes[0].message and "The default keys stay" in notes[0].message
        for words in said:
            assert words in notes[0].message, notes[0].message
        await pilot.press(page_key("servers"))
        await settle(pilot)
        assert app.current_mode == "servers"  # the defaults work
        await pilot.press("f2")
        await settle(pilot)
        assert type(app.screen).__name__ != "HelpScreen"
        assert len(app._notifications) == 1  # reported once, not per key


def test_every_listed_binding_id_is_unique_per_place_and_remappable() -> None:
    rows = keymap.listed()
    ids = {row.id for row in rows}
    for expected in ("go.overview", "help", "toggle-theme", "cursor.last", "servers.add"):
        assert expected in ids
    by_place = [(row.where, row.id) for row in rows]
    assert len(by_place) == len(set(by_place))
    # Every default key is a key Textual knows, so the defaults pass the file's own check.
    for row in rows:
        for name in row.keys.split(","):
            assert keys_file.key_error(name.strip()) is None, (row.id, name)


def test_the_example_in_the_keys_file_doc_is_a_valid_keys_file() -> None:
    assert keys_file.__doc__ is not None
    lines = keys_file.__doc__.splitlines()
    example = "\n".join(line[4:] for line in lines if line.startswith("    "))
    found = keys_file.parse(example, Path("keys.toml"), keymap.listed())
    assert found.errors == []
    assert found.keymap == {
        "go.overview": "f2",
        "help": "f1,?",
        "servers.add": "insert",
    }


# -- the theme ---------------------------------------------------------------------------------


async def test_the_theme_is_remembered_across_runs(ctx, home, make_app) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.theme == "textual-dark"
        assert not (home / STATE_FILE).exists()  # nothing chosen, nothing written
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.theme == "textual-light"
    state = home / STATE_FILE
    assert json.loads(state.read_text())["theme"] == "textual-light"
    assert stat.S_IMODE(state.stat().st_mode) == 0o600

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.theme == "textual-light"
        app.theme = "nord"  # what ctrl+p "Change theme" does
        await pilot.pause()
    assert json.loads(state.read_text())["theme"] == "nord"
    assert [p.name for p in home.iterdir() if p.name.startswith(".tui-state")] == []


async def test_an_unwritable_data_directory_only_forgets_the_theme(
    ctx, home, make_app, monkeypatch, tmp_path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr("tui.theme_memory.data_home", lambda _ctx=None: blocker / "home")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.theme == "textual-light" and app.is_running
    assert not (home / STATE_FILE).exists()


async def test_an_unknown_or_damaged_saved_theme_starts_dark(ctx, home, make_app) -> None:
    home.mkdir(parents=True, exist_ok=True)  # a PostgreSQL run leaves no database file there
    for saved in ('{"theme": "no-such-theme"}', "{not json"):
        (home / STATE_FILE).write_text(saved)
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert app.theme == "textual-dark"


def test_the_data_directory_is_the_one_core_config_reads(monkeypatch, tmp_path) -> None:
    from core.config import load_settings

    monkeypatch.setenv("MAILBELL_HOME", str(tmp_path / "elsewhere"))
    assert data_home() == load_settings().home == tmp_path / "elsewhere"
    monkeypatch.delenv("MAILBELL_HOME")
    assert data_home() == load_settings().home
