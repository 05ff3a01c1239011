"""Send a test email now through the server that sends this scope's mail, or through a server
form's values as typed (nothing saved); show the server's reply."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Static, TextArea

from tui.data import mail_tests, settings
from tui.jobs import JobFailed, Result, ShowsFailures, reporting
from tui.runtime import field_of, message_of
from tui.widgets.form import Field, FormState
from tui.widgets.spinner import Spinner

DEFAULT_SUBJECT = "mailbell test email"
DEFAULT_CONTENT = "This is a test email from mailbell: the mail server settings work."


class Sent(Result[Any]):
    """The server's answer to the test email (core.services.mail_tests' result)."""


class RecipientsLoaded(Result[list[str]]):
    """The scope's configured recipients: the first one pre-fills an empty recipient."""


class SendFailed(JobFailed):
    """The test email was refused before it was sent (a field's rule, no server…)."""


class TestEmailScreen(ShowsFailures, ModalScreen[bool]):
    __test__ = False  # not a pytest test class

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="test-email.close"),
        Binding("ctrl+s", "send", "Send", id="test-email.send"),
    ]

    def __init__(
        self,
        slug: str | None,
        *,
        recipient: str = "",
        server_id: int | None = None,
        changes: dict[str, Any] | None = None,
        label: str = "",
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.slug = slug
        self.recipient = recipient
        # A server form's: the saved server it edits, and its values not saved (core's drafts).
        self.server_id = server_id
        self.changes = changes
        self.label = label
        self.form = FormState(self)
        self.sent = False

    def compose(self) -> ComposeResult:
        who = "the system" if self.slug is None else f"tenant {self.slug}"
        yield Footer()
        with Vertical(id="test-email", classes="dialog"):
            yield Label(f"Send test email — {who}", classes="dialog-title")
            if self.server_id is not None or self.changes:
                yield Static(
                    f"Through {self.label or 'this server'} as typed in the form; not saved.",
                    id="through",
                    classes="muted",
                )
            yield Field(
                "Recipient",
                Input(self.recipient, id="recipient", compact=True, placeholder="you@example.com"),
                name="recipient",
                required=True,
            )
            yield Field(
                "Subject",
                Input(DEFAULT_SUBJECT, id="subject", compact=True),
                name="subject",
                required=True,
            )
            yield Field(
                "Content",
                TextArea(DEFAULT_CONTENT, id="content", soft_wrap=True),
                name="content",
                required=True,
                hint="plain text or HTML",
            )
            yield Spinner(id="send-spinner")
            yield Static("", id="send-result")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", id="close", compact=True)
                yield Button("Send", id="send", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#send-result").display = False
        self.query_one("#recipient", Input).focus()
        if not self.recipient:
            self.load_recipients(self.slug)

    @work(thread=True, exclusive=True, group="recipients", exit_on_error=False)
    def load_recipients(self, slug: str | None) -> None:
        """A server form opens this dialog without an address: the scope's first recipient."""
        with reporting(self, "load"):
            view = settings.load(self.app.ctx, slug)  # type: ignore[attr-defined]
            self.post_message(RecipientsLoaded(list(view.values.recipients)))

    @on(RecipientsLoaded)
    def prefill(self, message: RecipientsLoaded) -> None:
        field = self.query_one("#recipient", Input)
        if message.value and not field.value:  # never over what was typed meanwhile
            field.value = message.value[0]

    def validate(self) -> bool:
        recipient = self.query_one("#recipient", Input).value
        subject = self.query_one("#subject", Input).value
        content = self.query_one("#content", TextArea).text
        self.form.set("recipient", mail_tests.recipient_error(recipient))
        self.form.set("subject", mail_tests.subject_error(subject))
        self.form.set("content", None if content.strip() else "is required")
        return self.form.ok

    def on_input_changed(self, event: Input.Changed) -> None:
        known = event.input.id in self.form.errors
        if known or (event.input.id == "recipient" and event.value.strip()):
            self.validate()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "send":
            self.action_send()
        else:
            self.action_close()

    def action_close(self) -> None:
        self.dismiss(self.sent)

    def action_send(self) -> None:
        spinner = self.query_one("#send-spinner", Spinner)
        if spinner.running:
            return
        if not self.validate():
            self.form.focus_first_invalid()
            return
        recipient = self.query_one("#recipient", Input).value.strip()
        self.query_one("#send-result").display = False
        spinner.start(f"Sending to {recipient}…")
        self.send(
            recipient,
            self.query_one("#subject", Input).value,
            self.query_one("#content", TextArea).text,
        )

    @work(exclusive=True, group="send", exit_on_error=False)
    async def send(self, recipient: str, subject: str, content: str) -> None:
        """Network work: on the event loop, like every asyncio client."""
        ctx = self.app.ctx  # type: ignore[attr-defined]
        with reporting(self, "send", SendFailed):
            result = await mail_tests.send_test_email(
                ctx,
                self.slug,
                recipient,
                subject,
                content,
                server_id=self.server_id,
                changes=self.changes,
            )
            self.post_message(Sent(result))

    def _result(self, text: Text) -> None:
        self.query_one("#send-spinner", Spinner).stop()
        result = self.query_one("#send-result", Static)
        result.update(text)
        result.display = True

    @on(Sent)
    def show_sent(self, message: Sent) -> None:
        result = message.value
        if result.ok:
            self.sent = True
            text = Text("✓ Sent. ", style="bold green")
            text.append(f"The server replied: {result.reply or '(no reply text)'}")
            if result.message_id:
                text.append(f"\nMessage-ID {result.message_id}", style="dim")
        else:
            text = Text(f"✗ Failed at {result.step or 'send'}: ", style="bold red")
            text.append(result.error or "")
            if result.reply and result.reply not in (result.error or ""):
                text.append(f"\nThe server replied: {result.reply}", style="yellow")
        self._result(text)

    @on(SendFailed)
    def send_failed(self, message: SendFailed) -> None:
        exc = message.error
        field = field_of(exc)
        if field in ("recipient", "subject", "content"):
            self.query_one("#send-spinner", Spinner).stop()
            self.form.set(field, message_of(exc))
            message.prevent_default()
            return
        self._result(Text(f"✗ {message_of(exc)}", style="bold red"))
