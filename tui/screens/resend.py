"""Resend a delivery: a confirmation with an optional address (email only).

Dismisses with None (cancelled), "" (to the delivery's own recipients or target) or the
address typed, checked by the rule the resend service applies.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Static

from core.vocabulary import Channel
from tui.data import deliveries


class ResendScreen(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="resend.cancel"),
    ]

    def __init__(self, details: dict[str, Any]) -> None:
        super().__init__(classes="dialog-screen")
        self.details = details
        self.email = details["channel"] == Channel.EMAIL

    def compose(self) -> ComposeResult:
        d = self.details
        yield Footer()
        with Vertical(id="resend", classes="dialog small"):
            yield Label(f"Resend delivery #{d['id']}", classes="dialog-title")
            yield Static(
                f"A new copy of {d['event']} ({d['status']}), queued as a new delivery.",
                markup=False,
            )
            if self.email:
                yield Input(
                    id="resend-to",
                    compact=True,
                    placeholder=f"to: {d['target'] or 'its recipients'}",
                )
                yield Static(
                    "Leave empty for its own recipients, or type one address.",
                    id="resend-hint",
                    classes="muted",
                    markup=False,
                )
            else:
                yield Static(f"To its {d['channel']} target: {d['target']}", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Resend", id="ok", variant="primary", compact=True)

    def on_mount(self) -> None:
        if not self.email:
            self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "ok":
            self.action_confirm()
        else:
            self.action_cancel()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_confirm()

    def action_confirm(self) -> None:
        if not self.email:
            self.dismiss("")
            return
        typed = self.query_one("#resend-to", Input).value.strip()
        if not typed:
            self.dismiss("")
            return
        address, problem = deliveries.resend_address(typed)
        if address is None:
            self.query_one("#resend-hint", Static).update(Text(f"✗ {problem}", style="red"))
            return
        self.dismiss(address)

    def action_cancel(self) -> None:
        self.dismiss(None)
