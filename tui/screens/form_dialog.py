"""The frame the add/edit dialogs share: fields checked as you type, Save refused while one
breaks a rule, the save run in a worker whose field errors land on the field they name.

A dialog yields `Field`s, implements `validate_form` (the service's own field rules) and
`action_save`, which starts a worker that posts `Saved(value)` or, through
`reporting(self, "save", SaveFailed)`, the failure; its buttons call `action_<button id>`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from textual import on
from textual.screen import ModalScreen
from textual.widgets import Button, Input

from tui.jobs import JobFailed, Result, ShowsFailures
from tui.runtime import field_of, message_of
from tui.widgets.form import Field, FormState

if TYPE_CHECKING:
    from core.context import Context

ResultType = TypeVar("ResultType")
KEEP_STORED = "leave blank to keep the stored one"


class Saved(Result[Any]):
    """The dialog's save went through; the dialog closes with `value` (or what it makes of it)."""


class SaveFailed(JobFailed):
    """The dialog's save was refused: a field it names shows the rule."""


def secret_field(label: str, name: str, *, stored: bool, hint: bool = True) -> Field:
    """A masked input that starts empty: a stored secret is never shown; blank keeps it."""
    control = Input(
        password=True, id=name, compact=True, placeholder=KEEP_STORED if stored else "not set"
    )
    note = None
    if hint:
        note = f"stored encrypted; {KEEP_STORED}" if stored else "stored encrypted"
    return Field(label, control, name=name, hint=note)


class FormDialog(ShowsFailures, ModalScreen[ResultType]):
    CANCELLED: Any = False  # what Cancel (escape) dismisses with

    def __init__(self) -> None:
        super().__init__(classes="dialog-screen")
        self.form = FormState(self)
        self.touched: set[str] = set()

    @property
    def ctx(self) -> Context:
        return self.app.ctx  # type: ignore[attr-defined]

    def validate_form(self, *, all_fields: bool = False) -> None:
        """Set or clear each field's error; `all_fields` also reports untouched required ones."""

    def ready_to_save(self, before: str = "first", *, ignore: tuple[str, ...] = ()) -> bool:
        """Check every field but `ignore`; when one is wrong, focus it and say so."""
        self.validate_form(all_fields=True)
        for name in ignore:
            self.form.set(name, None)
        if self.form.ok:
            return True
        self.form.focus_first_invalid()
        self.notify(f"Fix the fields marked ✗ {before}", severity="warning", timeout=3)
        return False

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        await self.run_action(event.button.id or "cancel")

    def unsaved(self) -> bool:
        """Whether the fields differ from what the dialog opened with: a form that can tell
        overrides it, and Esc (or Cancel) then asks before discarding, as the template editor
        does."""
        return False

    def action_cancel(self) -> None:
        from tui.screens.confirm import ConfirmScreen

        if not self.unsaved():
            self.dismiss(self.CANCELLED)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(self.CANCELLED)

        question = "Close the form? Unsaved changes are lost."
        self.app.push_screen(
            ConfirmScreen(question, title="Unsaved changes", confirm="Discard"), answered
        )

    @on(SaveFailed)
    def save_failed(self, message: SaveFailed) -> None:
        """Shown on the form when it can be; otherwise an error notification."""
        if self.show_refusal(message.error):
            message.prevent_default()

    def show_refusal(self, exc: BaseException) -> bool:
        """A refusal naming one of the form's fields is shown on that field (True)."""
        field = field_of(exc)
        if field is None or self.form.field(field) is None:
            return False
        self.form.set(field, message_of(exc))
        self.form.focus_first_invalid()
        return True
