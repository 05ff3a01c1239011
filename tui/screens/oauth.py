"""Authorize a Gmail / Microsoft 365 server for XOAUTH2 from a terminal without a browser.

The consent URL is shown (and can be copied); the admin opens it anywhere, accepts, and pastes
the address the browser was sent to. The code is exchanged for tokens, stored encrypted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Static, TextArea

from tui.jobs import JobsMixin
from tui.runtime import actor, field_of, message_of, owner
from tui.widgets.form import Field, FormState
from tui.widgets.spinner import Spinner

if TYPE_CHECKING:
    from core.context import Context


def prepare(ctx: Context, slug: str | None, server_id: int) -> tuple[Any, Any]:
    """The pending authorization, twice: the screen shows `[1].url` and hands `[0]` back."""
    from core.services.oauth_authorization import start_authorization

    with ctx.session() as session:
        started = start_authorization(
            session=session,
            settings=ctx.settings,
            box=ctx.box,
            tenant=owner(session, slug),
            server_id=server_id,
        )
    return started, started


async def finish(
    ctx: Context, slug: str | None, server_id: int, started: Any, _request: Any, pasted: str
) -> str:
    from core.services.oauth_authorization import complete_authorization

    done = await complete_authorization(ctx=ctx, start=started, actor=actor(), redirect_url=pasted)
    return f"{done.expires_at:%Y-%m-%d %H:%M} UTC"


class OAuthScreen(JobsMixin, ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="oauth.cancel"),
        Binding("ctrl+y", "copy", "Copy URL", id="oauth.copy"),
    ]

    def __init__(self, slug: str | None, server_id: int) -> None:
        super().__init__(classes="dialog-screen")
        self.slug = slug
        self.server_id = server_id
        self.form = FormState(self)
        self.prepared: tuple[Any, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Footer()
        with Vertical(id="oauth-dialog", classes="dialog"):
            yield Label("Authorize XOAUTH2", classes="dialog-title")
            yield Static("1. Open this address in any browser, sign in and accept:")
            yield TextArea("", id="consent-url", read_only=True, soft_wrap=True)
            yield Static(
                "2. The browser is sent to the redirect address (the page may not load: that is "
                "fine). Copy the whole address from its address bar and paste it here:"
            )
            yield Field(
                "Redirect URL",
                Input(
                    id="redirect",
                    placeholder="http://localhost:8765/oauth/callback?code=…",
                    compact=True,
                ),
                name="redirect_url",
            )
            yield Spinner(id="oauth-spinner")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Copy URL", id="copy", compact=True)
                yield Static(classes="spacer")
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Authorize", id="ok", variant="primary", compact=True)

    def on_mount(self) -> None:
        ctx = self.app.ctx  # type: ignore[attr-defined]
        self.run_job("prepare", prepare, ctx, self.slug, self.server_id)

    def done_prepare(self, prepared: tuple[Any, Any]) -> None:
        self.prepared = prepared
        self.query_one("#consent-url", TextArea).text = prepared[1].url
        self.query_one("#redirect", Input).focus()

    def failed_prepare(self, exc: BaseException) -> bool:
        self.query_one("#consent-url", TextArea).text = f"Cannot start: {message_of(exc)}"
        return False

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        {"copy": self.action_copy, "cancel": self.action_cancel, "ok": self.action_authorize}[
            event.button.id or "cancel"
        ]()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_authorize()

    def action_copy(self) -> None:
        if self.prepared is not None:
            self.app.copy_to_clipboard(self.prepared[1].url)
            self.notify("Consent URL copied (your terminal must allow OSC 52)", timeout=3)

    def action_cancel(self) -> None:
        self.dismiss(False)

    def action_authorize(self) -> None:
        if self.prepared is None:
            return
        pasted = self.query_one("#redirect", Input).value
        self.form.set("redirect_url", None)
        self.query_one("#oauth-spinner", Spinner).start("Exchanging the code for tokens…")
        client, request = self.prepared
        ctx = self.app.ctx  # type: ignore[attr-defined]
        self.run_job("authorize", finish, ctx, self.slug, self.server_id, client, request, pasted)

    def done_authorize(self, expires: str) -> None:
        self.query_one("#oauth-spinner", Spinner).stop()
        self.notify(f"Authorized: refresh token stored; access token valid until {expires}")
        self.dismiss(True)

    def failed_authorize(self, exc: BaseException) -> bool:
        self.query_one("#oauth-spinner", Spinner).stop()
        if field_of(exc) == "redirect_url":
            self.form.set("redirect_url", message_of(exc))
            return True
        return False
