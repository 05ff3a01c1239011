"""Authorize a Gmail / Microsoft 365 server for XOAUTH2 from a terminal without a browser.

The consent URL is shown (and can be copied); the admin opens it anywhere, accepts, and pastes
the address the browser was sent to. The code is exchanged for tokens, stored encrypted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Static, TextArea

from tui.data import oauth
from tui.jobs import JobFailed, Result, ShowsFailures, reporting
from tui.runtime import field_of, message_of
from tui.widgets.form import Field, FormState
from tui.widgets.spinner import Spinner

if TYPE_CHECKING:
    from core.services.oauth_authorization import OAuthStart


class Started(Result["OAuthStart"]):
    """The consent URL is ready (and what completes the authorization)."""


class StartFailed(JobFailed):
    """The server cannot be authorized (no client id, not an OAuth provider…)."""


class Authorized(Result[str]):
    """Tokens stored; when the access token expires."""


class AuthorizeFailed(JobFailed):
    """The pasted address or the token exchange was refused."""


class OAuthScreen(ShowsFailures, ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="oauth.cancel"),
        Binding("ctrl+y", "copy", "Copy URL", id="oauth.copy"),
    ]

    def __init__(self, slug: str | None, server_id: int) -> None:
        super().__init__(classes="dialog-screen")
        self.slug = slug
        self.server_id = server_id
        self.form = FormState(self)
        self.prepared: OAuthStart | None = None

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
        self.start()

    @work(thread=True, exclusive=True, group="prepare", exit_on_error=False)
    def start(self) -> None:
        ctx = self.app.ctx  # type: ignore[attr-defined]
        with reporting(self, "prepare", StartFailed):
            self.post_message(Started(oauth.start(ctx, self.slug, self.server_id)))

    @on(Started)
    def started(self, message: Started) -> None:
        self.prepared = message.value
        self.query_one("#consent-url", TextArea).text = message.value.url
        self.query_one("#redirect", Input).focus()

    @on(StartFailed)
    def start_failed(self, message: StartFailed) -> None:
        self.query_one("#consent-url", TextArea).text = f"Cannot start: {message_of(message.error)}"

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
            self.app.copy_to_clipboard(self.prepared.url)
            self.notify("Consent URL copied (your terminal must allow OSC 52)", timeout=3)

    def action_cancel(self) -> None:
        self.dismiss(False)

    def action_authorize(self) -> None:
        if self.prepared is None:
            return
        pasted = self.query_one("#redirect", Input).value
        self.form.set("redirect_url", None)
        self.query_one("#oauth-spinner", Spinner).start("Exchanging the code for tokens…")
        self.authorize(self.prepared, pasted)

    @work(exclusive=True, group="authorize", exit_on_error=False)
    async def authorize(self, started: OAuthStart, pasted: str) -> None:
        """Network work (the token endpoint): on the event loop."""
        ctx = self.app.ctx  # type: ignore[attr-defined]
        with reporting(self, "authorize", AuthorizeFailed):
            self.post_message(Authorized(await oauth.complete(ctx, started, pasted)))

    @on(Authorized)
    def authorized(self, message: Authorized) -> None:
        self.query_one("#oauth-spinner", Spinner).stop()
        self.notify(f"Authorized: refresh token stored; access token valid until {message.value}")
        self.dismiss(True)

    @on(AuthorizeFailed)
    def authorize_failed(self, message: AuthorizeFailed) -> None:
        self.query_one("#oauth-spinner", Spinner).stop()
        if field_of(message.error) == "redirect_url":
            self.form.set("redirect_url", message_of(message.error))
            message.prevent_default()
