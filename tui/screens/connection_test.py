"""Test connection: walk a server through DNS, TCP, TLS, EHLO, AUTH and MAIL FROM in a worker.

Nothing is sent. A saved server's outcome is recorded on it (the list shows the last result);
unsaved settings (the add dialog, or edits not saved yet) are tested as typed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label, Static

from tui.data import mail_tests
from tui.jobs import JobFailed, Result, ShowsFailures, reporting
from tui.runtime import error_text
from tui.widgets.report import StepReport
from tui.widgets.spinner import Spinner

if TYPE_CHECKING:
    from core.mail.connection_report import ConnectionReport


class StepDone(Message, bubble=False):
    """One step of the test finished (the report grows while the test runs)."""

    def __init__(self, step: Any) -> None:
        super().__init__()
        self.step = step


class TestFinished(Result["ConnectionReport"]):
    """Every step ran (or the first failure stopped the test)."""

    __test__ = False  # not a pytest test class


class TestFailed(JobFailed):
    """The test could not run at all."""

    __test__ = False


class ConnectionTestScreen(ShowsFailures, ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="test.close"),
        Binding("r", "again", "Run again", id="test.again"),
    ]

    def __init__(
        self,
        slug: str | None,
        *,
        server_id: int | None = None,
        changes: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        label: str = "",
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.slug = slug
        self.server_id = server_id
        self.changes = changes
        self.data = data
        self.label = label
        self.report: ConnectionReport | None = None

    def compose(self) -> ComposeResult:
        yield Footer()
        with Vertical(id="connection-test", classes="dialog"):
            yield Label(f"Test connection — {self.label}", classes="dialog-title")
            yield Static("Checks each step of an SMTP session; no email is sent.", classes="muted")
            yield Spinner(id="test-spinner")
            with VerticalScroll():
                yield StepReport(id="report")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Run again", id="again", compact=True)
                yield Static(classes="spacer")
                yield Button("Close", id="close", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.action_again()

    def action_again(self) -> None:
        spinner = self.query_one("#test-spinner", Spinner)
        if spinner.running:
            return
        security = (self.changes or self.data or {}).get("security")
        self.query_one("#report", StepReport).start(security)
        spinner.start(f"Testing {self.label}…")
        self.run_test()

    @work(exclusive=True, group="test", exit_on_error=False)
    async def run_test(self) -> None:
        """Network work: on the event loop, like every asyncio client."""
        with reporting(self, "test", TestFailed):
            report = await mail_tests.connection_test(
                self.app.ctx,  # type: ignore[attr-defined]
                self.slug,
                server_id=self.server_id,
                changes=self.changes,
                data=self.data,
                on_step=lambda step: self.post_message(StepDone(step)),
            )
            self.post_message(TestFinished(report))

    @on(StepDone)
    def step_done(self, message: StepDone) -> None:
        self.query_one("#report", StepReport).add_step(message.step)

    @on(TestFinished)
    def finished(self, message: TestFinished) -> None:
        self.report = message.value
        self.query_one("#test-spinner", Spinner).stop()
        self.query_one("#report", StepReport).finish(message.value)
        self.query_one("#close", Button).focus()

    @on(TestFailed)
    def failed(self, message: TestFailed) -> None:
        self.query_one("#test-spinner", Spinner).stop()
        self.query_one("#report", StepReport).fail(error_text(message.error))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "again":
            self.action_again()
        else:
            self.action_close()

    def action_close(self) -> None:
        self.dismiss(bool(self.report and self.report.ok))
