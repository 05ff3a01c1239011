"""Someone else saved the row an edit form opened: overwrite their change, or keep editing.

An edit form's SaveFailed handler calls `offer(form, message, overwrite)`: a save refused over
another admin's change asks (EditConflictScreen, True: overwrite); any other failure is left to
the form. Keep editing is focused first, so Enter on a fresh dialog never overwrites another
admin's change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.screen import Screen
from textual.widgets import Static

from tui.screens.confirm import ConfirmScreen
from tui.screens.form_dialog import SaveFailed

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
            cancel="Keep editing",
            detail=DETAIL,
        )


def offer(form: Screen[Any], message: SaveFailed, overwrite: Callable[[], object]) -> None:
    """When `message` is a save refused over another admin's change (servers and accounts
    alike), ask on `form` instead of the form's own report of the failure: Overwrite calls
    `overwrite` (a save without the check); Keep editing leaves a note on the form (its
    `#conflict-note`), which stays until the form closes."""
    from tui.data.servers import conflict_of

    text = conflict_of(message.error)
    if text is None:
        return
    message.prevent_default()

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
