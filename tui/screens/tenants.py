"""Tenants: pick the system or a tenant to configure; each row shows who sends its mail.

One rule for picking: Enter (the selected row) and `s` (the system) switch the scope and stay
here, where the ● mark shows the pick; every page then works on it (the number keys go there).
A tenant added with `n` is the selected row afterwards."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Footer, Input, Label, Static

from tui.data import tenants
from tui.data.tenants import TenantRow
from tui.jobs import JobFailed, Result, ShowsFailures, reporting
from tui.runtime import field_of, message_of
from tui.screens.base import MainScreen
from tui.widgets.form import Field, FormState
from tui.widgets.tables import Fit, FitTable, RowDetail, filled

SYSTEM_KEY = "__system__"


class TenantsLoaded(Result[tuple[list[TenantRow], str]]):
    """The tenants' rows and a one-line summary of the system mail server."""


class TenantAdded(Result[str]):
    """The new tenant's slug."""


class AddFailed(JobFailed):
    """The tenant was refused (a taken or malformed slug…)."""


def _source(source: str) -> Text:
    style = {"tenant": "green", "system": "cyan", "not configured": "bold yellow"}
    return Text(source, style=style.get(source.rstrip(" ⇄⚠"), ""))


class TenantsScreen(MainScreen):
    MODE = "tenants"
    PAGE_TITLE = "Tenants"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Work on", id="tenants.open", tooltip="Work on the selected row"),
        Binding("s", "system", "System", id="tenants.system", tooltip="Work on the system"),
        Binding("n", "new", "New tenant", id="tenants.new", tooltip="Add a tenant"),
        Binding(
            "t",
            "tokens",
            "Tokens",
            id="tenants.tokens",
            tooltip="The API tokens of the selected row (system or tenant)",
        ),
        Binding("r", "refresh", "Refresh", id="tenants.refresh"),
    ]

    def compose_body(self) -> ComposeResult:
        yield Static("Loading…", id="system-summary", classes="summary")
        yield FitTable(
            id="tenants", cursor_type="row", zebra_stripes=True, detail="#tenants-detail"
        )
        yield RowDetail(id="tenants-detail")
        yield Static(
            "Enter works on the selected row · s on the system · n adds a tenant · t tokens",
            classes="muted hint-line",
        )

    def on_mount(self) -> None:
        table = self.query_one("#tenants", FitTable)
        table.add_fit_column("", key="mark", width=1)
        table.add_fit_column("Tenant", key="slug", fit=Fit(min=8, priority=3))
        table.add_fit_column("Name", key="name", fit=Fit(min=8))
        table.add_fit_column("Mail server", key="server", fit=Fit(min=12, priority=2))
        table.add_fit_column("Source", key="source", fit=Fit(shrink=False))

    def __init__(self) -> None:
        super().__init__()
        # The row to select once it is loaded (a tenant just added).
        self._select: str | None = None

    def reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self) -> None:
        with reporting(self, "load"):
            self.post_message(TenantsLoaded(tenants.load_rows(self.ctx)))

    def action_refresh(self) -> None:
        if self.mb.ctx is not None:
            self.reload()

    @on(TenantsLoaded)
    def show(self, message: TenantsLoaded) -> None:
        rows, summary = message.value
        self.mb.tenant_slugs = [row.slug for row in rows]
        self.query_one("#system-summary", Static).update(
            summary + ("" if rows else "\nNo tenants yet: press n to add one.")
        )
        table = self.query_one("#tenants", DataTable)
        table.clear()
        filled(table)
        current = self.slug
        mark = Text("●", style="bold green")
        table.add_row(
            mark if current is None else "",
            Text("System", style="bold"),
            "system settings and system events",
            "",
            "",
            key=SYSTEM_KEY,
        )
        for row in rows:
            table.add_row(
                mark if row.slug == current else "",
                row.slug,
                row.name,
                row.server,
                _source(row.source),
                key=row.slug,
            )
        slugs = {SYSTEM_KEY, *(row.slug for row in rows)}
        if self._select in slugs:
            focus, self._select = self._select, None
            self._place.pop("tenants", None)  # the new row wins over the kept place
        else:
            focus = current or SYSTEM_KEY
        if focus in slugs:
            table.move_cursor(row=table.get_row_index(focus))

    def _selected(self) -> str | None:
        table = self.query_one("#tenants", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return key

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        key = self._selected()
        if key is None:
            return
        self._work_on(None if key == SYSTEM_KEY else key)

    def action_system(self) -> None:
        self._work_on(None)

    def _work_on(self, slug: str | None) -> None:
        """Switch the scope and stay: the new scope reloads this page (its mark moves)."""
        if slug == self.slug:
            self.sync_scope(force=True)
        elif not self.mb.set_scope(slug):
            return  # this session's role does not reach it: set_scope said so
        self.notify(f"Working on {'the system' if slug is None else 'tenant ' + slug}", timeout=3)

    def action_tokens(self) -> None:
        """The selected row's API tokens (the scope's, before the rows are loaded: the palette
        runs this as the page opens)."""
        from tui.screens.tokens import TokensScreen

        key = self._selected()
        slug = self.slug if key is None else None if key == SYSTEM_KEY else key
        what = "the system's tokens" if slug is None else f"tenant {slug}'s tokens"
        if self.mb.may_open(slug, what):
            self.app.push_screen(TokensScreen(slug))

    def action_new(self) -> None:
        def created(slug: str | None) -> None:
            if slug:
                self._select = slug
                self.notify(f"Tenant {slug} added")
                self.reload()

        self.app.push_screen(NewTenantScreen(), created)


class NewTenantScreen(ShowsFailures, ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="new-tenant.cancel"),
        Binding("ctrl+s", "save", "Add", id="new-tenant.save"),
    ]

    def __init__(self) -> None:
        super().__init__(classes="dialog-screen")
        self.form = FormState(self)

    def compose(self) -> ComposeResult:
        yield Footer()
        with Vertical(classes="dialog small"):
            yield Label("Add a tenant", classes="dialog-title")
            yield Field(
                "Slug",
                Input(id="slug", placeholder="acme", compact=True),
                name="slug",
                required=True,
                hint="lowercase letters, digits and inner hyphens",
            )
            yield Field(
                "Name", Input(id="name", placeholder="Acme Corp", compact=True), name="name"
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Add tenant", id="save", variant="primary", compact=True)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "slug":
            self.form.set("slug", tenants.slug_error(event.value))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.action_save()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_save(self) -> None:
        if not self.form.ok:
            self.form.focus_first_invalid()
            return
        slug = self.query_one("#slug", Input).value.strip()
        name = self.query_one("#name", Input).value.strip() or None
        self.add(slug, name)

    @work(thread=True, exclusive=True, group="save", exit_on_error=False)
    def add(self, slug: str, name: str | None) -> None:
        ctx = self.app.ctx  # type: ignore[attr-defined]
        with reporting(self, "save", AddFailed):
            self.post_message(TenantAdded(tenants.create(ctx, slug, name)))

    @on(TenantAdded)
    def added(self, message: TenantAdded) -> None:
        self.dismiss(message.value)

    @on(AddFailed)
    def add_failed(self, message: AddFailed) -> None:
        field = field_of(message.error)
        self.form.set(field if field in ("slug", "name") else "slug", message_of(message.error))
        message.prevent_default()
