"""Tenants and the mail server that sends each one's mail (the effective server)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

if TYPE_CHECKING:
    from core.context import Context


@dataclass(frozen=True)
class TenantRow:
    slug: str
    name: str
    server: str
    source: str


def load_tenant_rows(ctx: Context) -> tuple[list[TenantRow], str]:
    """Rows for the table and a one-line summary of the system mail server."""
    from core.services.mail_servers import default_mail_server, resolve_effective_server
    from core.services.notifications import system_settings
    from core.services.tenants import list_tenants

    with ctx.session() as session:
        rows = []
        for tenant in list_tenants(session=session):
            effective = resolve_effective_server(session=session, tenant=tenant)
            server = effective.server
            rows.append(
                TenantRow(
                    slug=tenant.slug,
                    name=tenant.name,
                    server=f"{server.name} — {server.host}:{server.port}" if server else "—",
                    source=effective.source or "not configured",
                )
            )
        system = default_mail_server(session=session, tenant=None)
        apply_all = system_settings(session).apply_to_all_tenants
    summary = (
        f"System mail server: {system.name} — {system.host}:{system.port}"
        if system
        else "System mail server: not configured"
    ) + (" · applied to all tenants" if apply_all else "")
    return rows, summary


class TenantsScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", "Refresh", id="refresh"),
    ]

    class Loaded(Message):
        def __init__(self, rows: list[TenantRow], summary: str) -> None:
            super().__init__()
            self.rows = rows
            self.summary = summary

    def __init__(self, ctx: Context, *, focus_slug: str | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.focus_slug = focus_slug

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Loading…", id="system-summary")
        yield DataTable(id="tenants", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#tenants", DataTable)
        table.add_columns("Tenant", "Name", "Mail server", "Source")
        self.action_refresh()

    def action_refresh(self) -> None:
        self.load()

    @work(thread=True, exclusive=True)
    def load(self) -> None:
        rows, summary = load_tenant_rows(self.ctx)
        self.post_message(self.Loaded(rows, summary))

    def on_tenants_screen_loaded(self, message: Loaded) -> None:
        self.query_one("#system-summary", Static).update(message.summary)
        table = self.query_one("#tenants", DataTable)
        table.clear()
        for row in message.rows:
            table.add_row(row.slug, row.name, row.server, row.source, key=row.slug)
        if not message.rows:
            self.query_one("#system-summary", Static).update(
                message.summary + "\nNo tenants yet: `mailbell tenant add SLUG`"
            )
        if self.focus_slug and self.focus_slug in {row.slug for row in message.rows}:
            table.move_cursor(row=table.get_row_index(self.focus_slug))
