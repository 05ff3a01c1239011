"""Messages synced for one email account: from, subject, date, snippet."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from tui import format as fmt
from tui.data import accounts
from tui.jobs import Result, ShowsFailures, reporting
from tui.widgets.tables import filled


class MessagesLoaded(Result[list[dict[str, Any]]]):
    """The account's synced messages, newest first."""


class MessagesScreen(ShowsFailures, Screen[None]):
    PAGE_TITLE = "Messages"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="messages.back"),
        Binding("r", "refresh", "Refresh", id="messages.refresh"),
    ]

    def __init__(self, slug: str, account: dict[str, Any]) -> None:
        super().__init__()
        self.slug = slug
        self.account = account
        self.rows: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Header(icon="✉")
        yield Static(self._title(), id="messages-title", classes="summary")
        yield DataTable(id="messages", cursor_type="row", zebra_stripes=True)
        yield Static("", id="message-snippet", classes="snippet")
        yield Footer()

    def _title(self) -> Text:
        account = self.account
        title = Text(f"{account['display_name']} <{account['email']}>", style="bold")
        title.append(
            f"  · last sync {fmt.when(account['last_sync_at'], empty='never')}", style="dim"
        )
        if account.get("last_error"):
            title.append(f"\n✗ {account['last_error']}", style="red")
        return title

    def on_mount(self) -> None:
        table = self.query_one("#messages", DataTable)
        table.add_column("Date", key="date")
        table.add_column("From", key="from")
        table.add_column("Subject", key="subject")
        table.add_column("Snippet", key="snippet")
        self.action_refresh()

    def action_refresh(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self) -> None:
        ctx = self.app.ctx  # type: ignore[attr-defined]
        with reporting(self, "load"):
            rows = accounts.load_messages(ctx, self.slug, self.account["id"])
            self.post_message(MessagesLoaded(rows))

    @on(MessagesLoaded)
    def show(self, message: MessagesLoaded) -> None:
        rows = self.rows = message.value
        table = self.query_one("#messages", DataTable)
        table.clear()
        filled(table)
        for row in rows:
            subject = row["subject"] or "(no subject)"
            if row["quarantined"]:
                subject = f"⚠ {subject}"
            table.add_row(
                fmt.when(row["date"]),
                fmt.clip(row["from"], 28),
                fmt.clip(subject, 40),
                Text(fmt.clip(row["snippet"], 60), style="dim"),
                key=str(row["id"]),
            )
        if not rows:
            table.add_row(
                "", Text("No messages synced yet — press s on the accounts page", style="dim")
            )
        self._show_snippet()

    def on_data_table_row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self._show_snippet()

    def _show_snippet(self) -> None:
        snippet = self.query_one("#message-snippet", Static)
        table = self.query_one("#messages", DataTable)
        if not self.rows:
            snippet.update("")
            return
        row = self.rows[min(table.cursor_row, len(self.rows) - 1)]
        text = Text()
        text.append(f"From {row['from'] or '?'}", style="bold")
        text.append(f"  {fmt.stamp(row['date'])}\n", style="dim")
        text.append((row["subject"] or "(no subject)") + "\n", style="bold")
        if row["quarantined"]:
            text.append(f"quarantined: {row['quarantine_reason']}\n", style="yellow")
        text.append(row["snippet"] or "")
        if row["attachments"]:
            text.append(f"\n📎 {', '.join(row['attachments'])}", style="dim")
        snippet.update(text)
