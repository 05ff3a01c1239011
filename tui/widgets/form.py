"""Form rows: a label, an input, and the rule it breaks shown right under it.

`Field` wraps any input widget. `FormState` keeps the errors of a form: Save looks at it and
does nothing while any field is invalid; the error text is the rule from core validation.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Container
from textual.widget import Widget
from textual.widgets import Label, Static


class Field(Container):
    """`label  [input]` with a hint or the broken rule underneath (a 2-column grid, no nesting:
    big forms open fast)."""

    def __init__(
        self,
        label: str,
        control: Widget,
        *,
        name: str,
        hint: str | None = None,
        required: bool = False,
        classes: str | None = None,
    ) -> None:
        super().__init__(classes=f"field {classes or ''}".strip(), id=f"field-{name}")
        self.label = label + (" *" if required else "")
        self.control = control
        self.field_name = name
        self.hint = hint

    def compose(self) -> ComposeResult:
        yield Label(self.label, classes="field-label")
        yield self.control
        yield Static(self.hint or "", classes="field-note", markup=False)

    def on_mount(self) -> None:
        self.query_one(".field-note", Static).display = bool(self.hint)

    def set_error(self, message: str | None) -> None:
        note = self.query_one(".field-note", Static)
        self.set_class(message is not None, "-invalid")
        note.set_class(message is not None, "-error")
        if message is not None:
            note.update(f"✗ {message}")
            note.display = True
        else:
            note.update(self.hint or "")
            note.display = bool(self.hint)


class FormState:
    """Errors by field name, mirrored onto the `Field` widgets of `root`."""

    def __init__(self, root: Widget) -> None:
        self.root = root
        self.errors: dict[str, str] = {}

    def field(self, name: str) -> Field | None:
        found = self.root.query(f"#field-{name}")
        return found.first(Field) if found else None

    def set(self, name: str, message: str | None) -> None:
        if self.errors.get(name) == message:
            return  # unchanged: no relayout while typing
        if message is None:
            self.errors.pop(name, None)
        else:
            self.errors[name] = message
        widget = self.field(name)
        if widget is not None:
            widget.set_error(message)

    def clear(self) -> None:
        for name in list(self.errors):
            self.set(name, None)

    @property
    def ok(self) -> bool:
        return not self.errors

    def first_invalid(self) -> Field | None:
        for name in self.errors:
            widget = self.field(name)
            if widget is not None:
                return widget
        return None

    def focus_first_invalid(self) -> None:
        widget = self.first_invalid()
        if widget is not None:
            widget.control.focus()
            widget.scroll_visible()
