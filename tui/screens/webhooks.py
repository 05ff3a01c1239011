"""Webhooks of the system or of a tenant: the URLs that receive its events as signed JSON POSTs.

The list shows each target's URL, its events and whether a secret signs the POSTs; a secret is
write-only (typed masked when the target is added, never shown again). `t` POSTs the sample
payload of the target's first event to it, signed, and shows the receiver's answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, DataTable, Footer, Input, Label, SelectionList, Static

from tui import format as fmt
from tui.data import webhooks
from tui.jobs import JobFailed, Result, reporting
from tui.screens.base import MainScreen
from tui.screens.form_dialog import FormDialog, Saved, SaveFailed
from tui.widgets.form import Field
from tui.widgets.tables import Fit, FitTable, RowDetail, filled

if TYPE_CHECKING:
    from core.models.webhooks import WebhookRead, WebhookTestResult


class WebhooksLoaded(Result[list["WebhookRead"]]):
    """The owner's webhook targets, oldest first."""


class WebhookRemoved(Result["WebhookRead"]):
    pass


class WebhookTested(Message, bubble=False):
    """The receiver's answer to the test POST to `webhook_id` (or why none came)."""

    __test__ = False  # not a pytest test class

    def __init__(self, webhook_id: int, result: WebhookTestResult) -> None:
        super().__init__()
        self.webhook_id = webhook_id
        self.result = result


class WebhookTestFailed(JobFailed):
    """The test could not be sent (the target is gone, another owner's…)."""

    __test__ = False


def events_text(events: list[str]) -> Text:
    if not events:
        return Text("all of the scope", style="dim")
    return Text(fmt.clip(", ".join(events), 24))


def secret_text(has_secret: bool) -> Text:
    return Text("✓ set", style="green") if has_secret else Text("none", style="dim")


def outcome_text(webhook_id: int, result: WebhookTestResult) -> Text:
    status = "no answer" if result.status is None else f"HTTP {result.status}"
    detail = fmt.clip(result.detail, 200)
    said = detail if status in detail else f"{status} {detail}".strip()
    if result.ok:
        return Text(f"✓ Test POST to webhook #{webhook_id}: {said}", style="bold green")
    return Text(f"✗ Test POST to webhook #{webhook_id} failed: {said}", style="bold red")


class WebhooksScreen(MainScreen):
    MODE = "webhooks"
    PAGE_TITLE = "Webhooks"
    AUTO_FOCUS = "#webhooks"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add", "Add", id="webhooks.add", tooltip="Add a webhook target"),
        Binding(
            "t",
            "test",
            "Test",
            id="webhooks.test",
            tooltip="POST a signed sample event to the selected target and show its answer",
        ),
        Binding("d,delete", "remove", "Remove", id="webhooks.remove", tooltip="Remove the target"),
        Binding("r", "refresh", "Refresh", show=False, id="webhooks.refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[WebhookRead] = []

    def compose_body(self) -> ComposeResult:
        yield Static("", id="webhooks-note", classes="summary muted")
        yield FitTable(
            id="webhooks", cursor_type="row", zebra_stripes=True, detail="#webhooks-detail"
        )
        yield RowDetail(id="webhooks-detail")
        yield Static("", id="webhook-result", classes="summary")

    def on_mount(self) -> None:
        table = self.query_one("#webhooks", FitTable)
        for key, label, fit in (
            ("id", "#", Fit(shrink=False)),
            ("url", "URL", Fit(min=16, priority=2)),
            ("events", "Events", Fit(min=10)),
            ("secret", "Secret", Fit(shrink=False)),
        ):
            table.add_fit_column(label, key=key, fit=fit)
        self.query_one("#webhook-result").display = False

    # -- loading ---------------------------------------------------------------------------

    def reload(self) -> None:
        self.load(self.slug)

    def action_refresh(self) -> None:
        self.reload()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self, slug: str | None) -> None:
        with reporting(self, "load"):
            self.post_message(WebhooksLoaded(webhooks.load(self.ctx, slug)))

    @on(WebhooksLoaded)
    def show(self, message: WebhooksLoaded) -> None:
        who = "the system's events" if self.slug is None else f"tenant {self.slug}'s events"
        self.query_one("#webhooks-note", Static).update(
            f"Each of {who} is POSTed as JSON to these URLs, signed with the target's secret "
            "(X-Mailbell-Signature). a add · t test · d remove"
        )
        table = self.query_one("#webhooks", DataTable)
        selected = self.selected()
        self.targets = message.value
        table.clear()
        filled(table)
        for target in self.targets:
            table.add_row(
                str(target.id),
                target.url,
                events_text(target.events),
                secret_text(target.has_secret),
                key=str(target.id),
            )
        if not self.targets:
            table.add_row("", Text("No webhooks yet — press a to add one", style="dim"), "", "")
        elif selected is not None and selected.id in {t.id for t in self.targets}:
            table.move_cursor(row=table.get_row_index(str(selected.id)))

    # -- selection -------------------------------------------------------------------------

    def selected(self) -> WebhookRead | None:
        if not self.targets:
            return None
        table = self.query_one("#webhooks", DataTable)
        return self.targets[min(table.cursor_row, len(self.targets) - 1)]

    def _need_selection(self) -> WebhookRead | None:
        target = self.selected()
        if target is None:
            self.notify("Select a webhook first (or press a to add one)", severity="warning")
        return target

    # -- actions ---------------------------------------------------------------------------

    def action_add(self) -> None:
        def added(url: str | None) -> None:
            if url:
                self.notify(f"Webhook added: {url}")
                self.reload()

        self.app.push_screen(WebhookFormScreen(self.slug), added)

    def action_remove(self) -> None:
        from tui.screens.confirm import ConfirmScreen

        target = self._need_selection()
        if target is None:
            return
        question = f"Remove webhook #{target.id} ({target.url})? It receives no more events."

        def answered(yes: bool | None) -> None:
            if yes:
                self.remove_target(self.slug, target.id)

        self.app.push_screen(ConfirmScreen(question, confirm="Remove"), answered)

    @work(thread=True, group="change", exit_on_error=False)
    def remove_target(self, slug: str | None, webhook_id: int) -> None:
        with reporting(self, "remove"):
            self.post_message(WebhookRemoved(webhooks.remove(self.ctx, slug, webhook_id)))

    @on(WebhookRemoved)
    def removed(self, message: WebhookRemoved) -> None:
        self.notify(f"Webhook #{message.value.id} removed")
        self.reload()

    def action_test(self) -> None:
        target = self._need_selection()
        if target is None:
            return
        result = self.query_one("#webhook-result", Static)
        result.update(Text(f"Sending a test POST to webhook #{target.id}…", style="dim"))
        result.display = True
        self.send_test(self.slug, target.id)

    @work(group="test", exit_on_error=False)
    async def send_test(self, slug: str | None, webhook_id: int) -> None:
        """Network work: on the event loop, like every asyncio client."""
        with reporting(self, "test", WebhookTestFailed):
            answer = await webhooks.test(self.ctx, slug, webhook_id)
            self.post_message(WebhookTested(webhook_id, answer))

    @on(WebhookTested)
    def tested(self, message: WebhookTested) -> None:
        result = message.result
        shown = outcome_text(message.webhook_id, result)
        self.query_one("#webhook-result", Static).update(shown)
        self.notify(shown.plain, severity="information" if result.ok else "error", timeout=8)

    @on(WebhookTestFailed)
    def test_failed(self, message: WebhookTestFailed) -> None:
        self.query_one("#webhook-result", Static).update(
            Text(f"✗ Test not sent: {message.error}", style="bold red")
        )


class WebhookFormScreen(FormDialog[str | None]):
    """Add a webhook: URL, an optional secret (masked, write-only), the events it receives."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="webhook-form.cancel"),
        Binding("ctrl+s", "save", "Save", id="webhook-form.save"),
    ]
    CANCELLED = None

    def __init__(self, slug: str | None) -> None:
        super().__init__()
        self.slug = slug
        self.events = webhooks.scope_events(slug)

    def compose(self) -> ComposeResult:
        owner_text = "the system" if self.slug is None else f"tenant {self.slug}"
        yield Footer()
        with Vertical(id="webhook-form", classes="dialog"):
            yield Label(f"Add webhook  ·  {owner_text}", classes="dialog-title")
            with VerticalScroll(classes="form"):
                yield Field(
                    "URL",
                    Input(id="url", compact=True, placeholder="https://hooks.example.com/mailbell"),
                    name="url",
                    required=True,
                )
                yield Field(
                    "Secret",
                    Input(id="secret", password=True, compact=True, placeholder="none: unsigned"),
                    name="secret",
                    hint="signs each POST (HMAC-SHA256); stored encrypted, never shown again",
                )
                yield Field(
                    "Events",
                    SelectionList[str](*((name, name) for name in self.events), id="events"),
                    name="events",
                    hint="none ticked: every event of the scope",
                )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Add webhook", id="save", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#url", Input).focus()

    def validate_form(self, *, all_fields: bool = False) -> None:
        url = self.query_one("#url", Input).value
        if not url.strip():
            missing = all_fields or "url" in self.touched
            self.form.set("url", "is required" if missing else None)
        else:
            self.form.set("url", webhooks.url_error(url))

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "url":
            self.touched.add("url")
            self.validate_form()

    def action_save(self) -> None:
        if not self.ready_to_save():
            return
        url = self.query_one("#url", Input).value.strip()
        secret = self.query_one("#secret", Input).value
        chosen = set(self.query_one("#events", SelectionList).selected)
        self.save(url, secret, [name for name in self.events if name in chosen])

    @work(thread=True, exclusive=True, group="save", exit_on_error=False)
    def save(self, url: str, secret: str, events: list[str]) -> None:
        with reporting(self, "save", SaveFailed):
            added = webhooks.add(self.ctx, self.slug, url, secret, events)
            self.post_message(Saved(added.url))

    @on(Saved)
    def saved(self, message: Saved) -> None:
        self.dismiss(message.value)
