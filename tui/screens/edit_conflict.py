"""Someone else saved the row an edit form opened: overwrite their change, or keep editing.

`push_screen(EditConflictScreen(message), callback)` → True: overwrite. Keep editing is focused
first, so Enter on a fresh dialog never overwrites another admin's change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Label, Static

from tui.screens.confirm import ConfirmScreen

DETAIL = (
    "Overwrite saves only the fields you changed in this form; their other changes stay. "
    "Keep editing leaves your edits in the form: close it (Esc) and open it again to see "
    "their change first."
)


class EditConflictScreen(ConfirmScreen):
    def __init__(self, message: str) -> None:
        super().__init__(
            message,
            title="Changed by someone else",
            confirm="Overwrite their change",
            detail=DETAIL,
        )

    def compose(self) -> ComposeResult:
        yield Footer()
        with Vertical(id="confirm", classes="dialog small"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.question, id="confirm-question", markup=False)
            yield Static(self.detail or "", classes="muted", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Keep editing", id="cancel", compact=True)
                yield Button(self.confirm_label, id="ok", variant="error", compact=True)


def ask(form: Screen[Any], text: str, overwrite: Callable[[], object]) -> None:
    """Ask on `form`: Overwrite calls `overwrite` (a save without the check); Keep editing
    leaves a note on the form (its `#conflict-note`), which stays until the form closes."""

    def answered(yes: bool | None) -> None:
        if yes:
            overwrite()
            return
        note = form.query_one("#conflict-note", Static)
        note.update(f"⚠ Not saved. {text}")
        note.display = True
        if note.parent is not None:
            note.parent.add_class("-conflict")  # its lines come out of the fields' scroll

    form.app.push_screen(EditConflictScreen(text), answered)
