"""Test connection: walk a server through DNS, TCP, TLS, EHLO, AUTH and MAIL FROM in a worker.

Nothing is sent. A saved server's outcome is recorded on it (the list shows the last result);
unsaved settings (the add dialog, or edits not saved yet) are tested as typed.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label, Static

from tui.jobs import JobsMixin
from tui.runtime import error_text, owner
from tui.widgets.report import StepReport
from tui.widgets.spinner import Spinner

if TYPE_CHECKING:
    from core.context import Context
    from core.mail.diagnose import ConnectionReport


async def run_test(
    ctx: Context,
    slug: str | None,
    *,
    server_id: int | None,
    changes: dict[str, Any] | None,
    data: dict[str, Any] | None,
    on_step: Any = None,
) -> ConnectionReport:
    from core.services.mail_tests import test_mail_server, unsaved_config

    with ctx.session() as session:
        tenant = owner(session, slug)
    extra: dict[str, Any] = {}
    if on_step is not None:
        parameters = inspect.signature(test_mail_server).parameters
        for name in ("on_step", "progress"):
            if name in parameters:
                extra[name] = on_step
                break
    if server_id is not None:
        return await test_mail_server(
            ctx=ctx, tenant=tenant, server_id=server_id, changes=changes or None, **extra
        )
    assert data is not None
    config, mail_from = unsaved_config(
        {k: v for k, v in data.items() if k not in ("is_default", "name")}
    )
    return await test_mail_server(
        ctx=ctx, tenant=tenant, config=config, mail_from=mail_from, **extra
    )


class ConnectionTestScreen(JobsMixin, ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="test.close"),
        Binding("r", "again", "Run again", id="test.again"),
    ]

    class StepDone(Message):
        def __init__(self, step: Any) -> None:
            super().__init__()
            self.step = step

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
        self.run_job(
            "test",
            run_test,
            self.app.ctx,  # type: ignore[attr-defined]
            self.slug,
            server_id=self.server_id,
            changes=self.changes,
            data=self.data,
            on_step=lambda step: self.post_message(self.StepDone(step)),
        )

    def on_connection_test_screen_step_done(self, message: StepDone) -> None:
        self.query_one("#report", StepReport).add_step(message.step)

    def done_test(self, report: ConnectionReport) -> None:
        self.report = report
        self.query_one("#test-spinner", Spinner).stop()
        self.query_one("#report", StepReport).finish(report)
        self.query_one("#close", Button).focus()

    def failed_test(self, exc: BaseException) -> bool:
        self.query_one("#test-spinner", Spinner).stop()
        self.query_one("#report", StepReport).fail(error_text(exc))
        return False

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "again":
            self.action_again()
        else:
            self.action_close()

    def action_close(self) -> None:
        self.dismiss(bool(self.report and self.report.ok))
