"""A yes/no question as a modal: `await push_screen(ConfirmScreen(...), callback)` → bool."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label, Static


class ConfirmScreen(ModalScreen[bool]):
    """Cancel is focused first: Enter on a fresh dialog never deletes anything."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="confirm.cancel"),
        Binding("y", "confirm", "Yes", show=False, id="confirm.yes"),
        Binding("n", "cancel", "No", show=False, id="confirm.no"),
    ]

    def __init__(
        self,
        question: str,
        *,
        title: str = "Are you sure?",
        confirm: str = "Delete",
        cancel: str = "Cancel",
        detail: str | None = None,
        destructive: bool = True,
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.question = question
        self.title_text = title
        self.confirm_label = confirm
        self.cancel_label = cancel
        self.detail = detail
        self.destructive = destructive

    def compose(self) -> ComposeResult:
        yield Footer()
        with Vertical(id="confirm", classes="dialog small"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.question, id="confirm-question", markup=False)
            if self.detail:
                yield Static(self.detail, classes="muted", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.cancel_label, id="cancel", compact=True)
                yield Button(
                    self.confirm_label,
                    id="ok",
                    variant="error" if self.destructive else "primary",
                    compact=True,
                )

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "ok")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
