"""One delivery: its facts, the outcome for each recipient, every send attempt, and the message
that was rendered.

The message is shown as text. A new user's password in a welcome email is masked: the TUI
never shows a stored secret.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from core.vocabulary import DeliveryStatus
from tui import format as fmt
from tui.data import deliveries
from tui.jobs import Result, ShowsFailures, reporting
from tui.widgets.worker_banner import queued_note

ATTEMPT_STYLE = {"sent": "green", "partial": "yellow", "retry": "yellow", "failed": "bold red"}
# Fixed widths (80 columns): the detail and the worker wrap onto more lines instead.
ATTEMPT_COLUMNS = (("#", 2), ("Time", 8), ("Outcome", 7), ("Detail", 36), ("Worker", 11))


class DeliveryLoaded(Result[dict[str, Any]]):
    """The delivery in full, with `message` the rendered text (secrets masked) or None."""


class Retried(Result[int]):
    """The delivery with this id is queued again."""


class Resent(Result[int]):
    """A copy of the delivery is queued: the copy's id."""


def facts(d: dict[str, Any]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")  # a long address or error is shown whole, never cut
    rows = [
        ("Event", d["event"]),
        ("Tenant", d["tenant"] or "system"),
        ("Channel", d["channel"]),
        ("Target", d["target"]),
        ("Status", fmt.status(d["status"])),
        ("Attempts", str(d["attempt_count"])),
        ("Created", fmt.stamp(d["created_at"])),
        ("Sent", fmt.stamp(d["sent_at"]) if d["sent_at"] else "—"),
        ("Next attempt", fmt.stamp(d["next_attempt_at"]) if d["next_attempt_at"] else "—"),
        ("Message-ID", d["message_id"] or "—"),
        ("Server reply", d["reply"] or "—"),
        ("Last error", Text(d["last_error"] or "—", style="red" if d["last_error"] else "")),
    ]
    # Links to other deliveries (`o` opens them).
    if d.get("resent_from"):
        rows.append(("Resent from", Text(f"#{d['resent_from']}", style="underline")))
    if d.get("digest_id"):
        rows.append(("Digest", Text(f"#{d['digest_id']}", style="underline")))
    if d.get("edit_of"):
        rows.append(("Edits the alert", Text(f"#{d['edit_of']}", style="underline")))
    for label, value in rows:
        table.add_row(label, value)
    return table


def recipients(d: dict[str, Any]) -> Table:
    table = Table(box=None, padding=(0, 2), show_edge=False, header_style="bold")
    table.add_column("Recipient")
    table.add_column("Outcome")
    table.add_column("Reply")
    for address, result in (d["recipients"] or {}).items():
        status = result.get("status", "?")
        table.add_row(address, fmt.status(status), result.get("reply") or "")
    for address in d["pending"] or []:
        if address not in (d["recipients"] or {}):
            table.add_row(address, fmt.status(DeliveryStatus.QUEUED), "not attempted yet")
    return table


def attempt_cells(number: int, attempt: dict[str, Any]) -> tuple[Any, ...]:
    outcome = attempt["outcome"]
    return (
        str(number),
        fmt.when(attempt["at"]),
        Text(outcome, style=ATTEMPT_STYLE.get(outcome, "")),
        Text(attempt["detail"] or "—", style="" if attempt["detail"] else "dim"),
        Text(attempt["worker"] or "—", style="dim"),
    )


class DeliveryDetailScreen(ShowsFailures, Screen[None]):
    PAGE_TITLE = "Delivery"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="delivery.back"),
        Binding("r", "retry", "Retry", id="delivery.retry", tooltip="Queue it again (failed only)"),
        Binding("s", "resend", "Resend", id="delivery.resend", tooltip="Send a new copy"),
        Binding(
            "o", "open_link", "Open link", id="delivery.link", tooltip="Open its original or digest"
        ),
        Binding("f5", "refresh", "Refresh", id="delivery.refresh"),
    ]

    def __init__(self, slug: str | None, delivery_id: int) -> None:
        super().__init__()
        self.slug = slug
        self.delivery_id = delivery_id
        self.details: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Header(icon="✉")
        with VerticalScroll(id="delivery"):
            yield Static(Text(f"Delivery #{self.delivery_id}", style="bold"), classes="summary")
            yield Static("Loading…", id="delivery-facts", classes="summary")
            yield Static("", id="delivery-recipients", classes="summary")
            yield Static("", id="delivery-attempts-heading", classes="summary")
            yield DataTable(id="delivery-attempts", cursor_type="row", show_cursor=False)
            yield Static("", id="delivery-message", classes="message", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#delivery-attempts", DataTable)
        for label, width in ATTEMPT_COLUMNS:
            table.add_column(label, width=width, key=label.lower().strip("#") or "n")
        self.action_refresh()

    def action_refresh(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self) -> None:
        ctx = self.app.ctx  # type: ignore[attr-defined]
        with reporting(self, "load"):
            details = deliveries.load_delivery(ctx, self.slug, self.delivery_id)
            self.post_message(DeliveryLoaded(details))

    @on(DeliveryLoaded)
    def show(self, message: DeliveryLoaded) -> None:
        details = self.details = message.value
        self.query_one("#delivery-facts", Static).update(facts(details))
        heading = Text(
            "Recipients — one attempt covers them all; each has its own outcome", style="bold"
        )
        self.query_one("#delivery-recipients", Static).update(
            Group(Text(""), heading, recipients(details))
        )
        attempts = details["attempts"]
        heading = Text("\nAttempts", style="bold")
        if not attempts:
            heading.append(" — none yet", style="dim")
        self.query_one("#delivery-attempts-heading", Static).update(heading)
        table = self.query_one("#delivery-attempts", DataTable)
        table.clear()
        table.display = bool(attempts)
        for number, attempt in enumerate(attempts, start=1):
            table.add_row(*attempt_cells(number, attempt), height=None, key=str(number))
        rendered = details["message"]
        shown = Text("The message as rendered\n", style="bold")
        if rendered is None:
            shown.append(
                "Not rendered: " + (details["last_error"] or "no message content"), style="yellow"
            )
        else:
            shown.append(rendered)
        self.query_one("#delivery-message", Static).update(shown)

    def action_back(self) -> None:
        self.dismiss(None)

    def action_retry(self) -> None:
        if self.details is None:
            return
        status = self.details["status"]
        if status != DeliveryStatus.FAILED:
            hint = " (s: resend a new copy)" if status == DeliveryStatus.PARTIAL else ""
            self.notify(
                f"It is {status}: only failed deliveries can be retried{hint}",
                severity="warning",
            )
            return
        self.retry()

    @work(thread=True, group="retry", exit_on_error=False)
    def retry(self) -> None:
        ctx = self.app.ctx  # type: ignore[attr-defined]
        with reporting(self, "retry"):
            self.post_message(Retried(deliveries.retry(ctx, self.slug, self.delivery_id)))

    @on(Retried)
    def retried(self, message: Retried) -> None:
        self.notify(f"Delivery {message.value} queued again" + queued_note(self.app))
        self.action_refresh()

    def action_resend(self) -> None:
        from tui.screens.resend import ResendScreen

        details = self.details
        if details is None:
            return
        if details["status"] in (DeliveryStatus.QUEUED, DeliveryStatus.SENDING):
            self.notify(
                f"It is {details['status']}: resend it once it is final", severity="warning"
            )
            return

        def answered(to: str | None) -> None:
            if to is not None:
                self.resend(to or None)

        self.app.push_screen(ResendScreen(details), answered)

    @work(thread=True, group="resend", exit_on_error=False)
    def resend(self, to: str | None) -> None:
        ctx = self.app.ctx  # type: ignore[attr-defined]
        with reporting(self, "resend"):
            copy = deliveries.resend(ctx, self.slug, self.delivery_id, to)
            self.post_message(Resent(copy))

    @on(Resent)
    def resent(self, message: Resent) -> None:
        self.notify(
            f"Delivery #{message.value} queued: a copy of #{self.delivery_id}"
            + queued_note(self.app)
        )

    def action_open_link(self) -> None:
        details = self.details or {}
        linked = details.get("resent_from") or details.get("digest_id") or details.get("edit_of")
        if not linked:
            self.notify("No original, digest or alert to open", timeout=3)
            return
        self.app.push_screen(DeliveryDetailScreen(self.slug, int(linked)))
