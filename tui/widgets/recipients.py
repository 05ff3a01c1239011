"""Recipients editor: add addresses one by one (each checked), remove them, at most
MAX_RECIPIENTS (core.vocabulary)."""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

from core.vocabulary import MAX_RECIPIENTS
from tui.data.settings import combine_recipients
from tui.data.wording import reserved_note


class RecipientList(OptionList):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("delete,backspace,x", "remove", "Remove", id="recipients.remove"),
    ]

    def action_remove(self) -> None:
        editor = next(a for a in self.ancestors if isinstance(a, RecipientsEditor))
        editor.remove_highlighted()

    def on_focus(self, _: events.Focus) -> None:
        # Delete acts on the highlighted item: without a cursor it did nothing until ↓.
        if self.highlighted is None and self.option_count:
            self.highlighted = 0


class RecipientsEditor(Vertical):
    class Changed(Message):
        def __init__(self, editor: RecipientsEditor) -> None:
            super().__init__()
            self.editor = editor

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="recipients")
        self.addresses: list[str] = []

    def compose(self) -> ComposeResult:
        with Horizontal(classes="recipient-add"):
            yield Input(placeholder="add an address, Enter", id="recipient-input", compact=True)
            yield Button("Add", id="recipient-add", compact=True)
        yield Static("", id="recipient-error", classes="field-note -error")
        yield RecipientList(id="recipient-list", compact=True)
        yield Static("", id="recipient-count", classes="muted")

    def on_mount(self) -> None:
        self.query_one("#recipient-error").display = False
        self._draw()

    @property
    def value(self) -> list[str]:
        return list(self.addresses)

    def set(self, addresses: list[str]) -> None:
        self.addresses = list(addresses)
        self._draw()

    def show_error(self, message: str | None) -> None:
        error = self.query_one("#recipient-error", Static)
        error.update(f"✗ {message}" if message else "")
        error.display = message is not None
        self.set_class(message is not None, "-invalid")

    def add(self, text: str) -> bool:
        text = text.strip()
        if not text:
            return False
        combined, error = combine_recipients(self.addresses, text)
        if error is not None:
            self.show_error(error)
            return False
        if len(combined) == len(self.addresses):
            self.show_error(f"{text} is in the list already")
            return False
        # Accepted, but worth a word: a reserved domain (`.local`) needs an internal relay.
        note = reserved_note(combined[len(self.addresses) :])
        if note is not None:
            self.app.notify(note, severity="warning", timeout=8)
        self.addresses = combined
        self.show_error(None)
        self._draw()
        self.post_message(self.Changed(self))
        return True

    def commit_pending(self) -> bool:
        """Add what is typed but not added yet; False (rule shown) when it is refused."""
        field = self.query_one("#recipient-input", Input)
        if not field.value.strip():
            self.show_error(None)
            return True
        if self.add(field.value):
            field.value = ""
            return True
        return False

    def remove_highlighted(self) -> None:
        listing = self.query_one("#recipient-list", RecipientList)
        index = listing.highlighted
        if index is None or not self.addresses:
            return
        del self.addresses[index]
        self.show_error(None)
        self._draw()
        self.post_message(self.Changed(self))

    def _draw(self) -> None:
        listing = self.query_one("#recipient-list", RecipientList)
        was = listing.highlighted
        listing.clear_options()
        listing.add_options(Option(address) for address in self.addresses)
        if self.addresses and (was is not None or listing.has_focus):
            listing.highlighted = min(was or 0, len(self.addresses) - 1)
        listing.display = bool(self.addresses)
        count = len(self.addresses)
        note = f"{count} of {MAX_RECIPIENTS}"
        note += " · select one and press Delete to remove it" if count else " · none yet"
        self.query_one("#recipient-count", Static).update(note)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.add(event.value):
            event.input.value = ""

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if not event.value:
            self.show_error(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "recipient-add":
            event.stop()
            field = self.query_one("#recipient-input", Input)
            if self.add(field.value):
                field.value = ""
