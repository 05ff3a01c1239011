"""One delivery: its facts, the outcome for each recipient, every send attempt, and the message
that was rendered.

The message is shown as text. A new user's password in a welcome email is masked: the TUI
never shows a stored secret.
"""

from __future__ import annotations

import json
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote_plus

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from tui import format as fmt
from tui.jobs import JobsMixin
from tui.runtime import owner
from tui.screens.deliveries import retry

if TYPE_CHECKING:
    from core.context import Context

MASK = "••••••"
ATTEMPT_STYLE = {"sent": "green", "partial": "yellow", "retry": "yellow", "failed": "bold red"}
# Fixed widths (80 columns): the detail and the worker wrap onto more lines instead.
ATTEMPT_COLUMNS = (("#", 2), ("Time", 8), ("Outcome", 7), ("Detail", 36), ("Worker", 11))


def _secrets(ctx: Context, session: Any, event_id: int) -> list[str]:
    """Secret payload values (a new user's password) to mask in the shown message."""
    from core.models.delivery import EventRecord
    from core.pipeline.emit import SECRET_PAYLOAD_FIELDS

    record = session.get(EventRecord, event_id)
    if record is None or record.payload_enc is None:
        return []
    payload = json.loads(ctx.box.decrypt_bytes(record.payload_enc))
    values = [str(payload[name]) for name in SECRET_PAYLOAD_FIELDS if payload.get(name)]
    return [*values, *(quote_plus(v) for v in values)]


def message_text(raw: bytes, secrets: list[str]) -> str:
    message = message_from_bytes(raw, policy=default_policy)
    assert isinstance(message, EmailMessage)
    lines = [
        f"{name}: {message[name]}"
        for name in ("From", "To", "Reply-To", "Subject", "Date", "Message-ID")
        if message[name]
    ]
    body = message.get_body(preferencelist=("plain", "html"))
    content = body.get_content() if body is not None else "(no text part)"
    attachments = [
        part.get_filename() or part.get_content_type() for part in message.iter_attachments()
    ]
    text = "\n".join(lines) + "\n\n" + content.strip()
    if attachments:
        text += "\n\nAttached: " + ", ".join(attachments)
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 3:
            text = text.replace(secret, MASK)
    return text


def load_delivery(ctx: Context, slug: str | None, delivery_id: int) -> dict[str, Any]:
    from core.pipeline.contents import message_of
    from core.services.deliveries import get_delivery, read_delivery

    with ctx.session() as session:
        tenant = owner(session, slug)
        details = read_delivery(session=session, delivery_id=delivery_id, tenant=tenant).as_json()
        details["message"] = None
        if content := message_of(session, delivery_id):
            event_id = get_delivery(session=session, delivery_id=delivery_id).event_id
            secrets = _secrets(ctx, session, event_id)
            details["message"] = message_text(ctx.box.decrypt_bytes(content), secrets)
    return details


def facts(d: dict[str, Any]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
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
            table.add_row(address, fmt.status("queued"), "not attempted yet")
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


class DeliveryDetailScreen(JobsMixin, Screen[None]):
    PAGE_TITLE = "Delivery"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="delivery.back"),
        Binding("r", "retry", "Retry", id="delivery.retry", tooltip="Queue it again (failed only)"),
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
        ctx = self.app.ctx  # type: ignore[attr-defined]
        self.run_job("load", load_delivery, ctx, self.slug, self.delivery_id)

    def done_load(self, details: dict[str, Any]) -> None:
        self.details = details
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
        message = details["message"]
        shown = Text("The message as rendered\n", style="bold")
        if message is None:
            shown.append(
                "Not rendered: " + (details["last_error"] or "no message content"), style="yellow"
            )
        else:
            shown.append(message)
        self.query_one("#delivery-message", Static).update(shown)

    def action_back(self) -> None:
        self.dismiss(None)

    def action_retry(self) -> None:
        if self.details is None:
            return
        if self.details["status"] != "failed":
            self.notify(
                f"It is {self.details['status']}: only failed deliveries can be retried",
                severity="warning",
            )
            return
        ctx = self.app.ctx  # type: ignore[attr-defined]
        self.run_job("retry", retry, ctx, self.slug, self.delivery_id)

    def done_retry(self, delivery_id: int) -> None:
        self.notify(f"Delivery {delivery_id} queued again")
        self.action_refresh()
