"""The frame the add/edit dialogs share: fields checked as you type, Save refused while one
breaks a rule, the save run as a job whose field errors land on the field they name.

A dialog yields `Field`s, implements `validate_form` (the service's own field rules) and
`action_save`; its buttons call `action_<button id>`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from textual.screen import ModalScreen
from textual.widgets import Button, Input

from tui.jobs import JobsMixin
from tui.runtime import field_of, message_of
from tui.widgets.form import Field, FormState

if TYPE_CHECKING:
    from core.context import Context

ResultType = TypeVar("ResultType")
KEEP_STORED = "leave blank to keep the stored one"


def secret_field(label: str, name: str, *, stored: bool, hint: bool = True) -> Field:
    """A masked input that starts empty: a stored secret is never shown; blank keeps it."""
    control = Input(
        password=True, id=name, compact=True, placeholder=KEEP_STORED if stored else "not set"
    )
    note = None
    if hint:
        note = f"stored encrypted; {KEEP_STORED}" if stored else "stored encrypted"
    return Field(label, control, name=name, hint=note)


class FormDialog(JobsMixin, ModalScreen[ResultType]):
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

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        action = getattr(self, f"action_{event.button.id}", None)
        (action or self.action_cancel)()

    def action_cancel(self) -> None:
        self.dismiss(self.CANCELLED)

    def failed_save(self, exc: BaseException) -> bool:
        """A refusal naming one of the form's fields is shown on that field."""
        field = field_of(exc)
        if field is None or self.form.field(field) is None:
            return False
        self.form.set(field, message_of(exc))
        self.form.focus_first_invalid()
        return True
