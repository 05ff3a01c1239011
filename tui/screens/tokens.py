"""API tokens of the system or of a tenant, opened from the Tenants page (`t` on a row) or the
command palette: what each token may do (its scopes), until when, when it was last used.

A token's secret is shown once, when it is created (tui/screens/token_dialogs.py); the list
shows only its visible prefix. A revoked token stays listed, marked, as the CLI lists it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from tui import format as fmt
from tui.data import tokens
from tui.data.tokens import TokensView
from tui.jobs import Result, ShowsFailures, reporting
from tui.widgets.tables import TABLE_ZONE, Fit, FitTable, RowDetail, filled

if TYPE_CHECKING:
    from core.context import Context
    from core.models.auth import TokenCreated, TokenRead

STATE_STYLE = {"live": "green", "expired": "yellow", "revoked": "dim"}


class TokensLoaded(Result[TokensView]):
    """The owner's tokens as last read."""


class TokenRevoked(Result["TokenRead"]):
    pass


def owner_text(slug: str | None) -> str:
    return "system" if slug is None else f"tenant {slug}"


def expires_text(token: TokenRead, now: datetime) -> Text:
    """The day it expires (UTC), "never", or "expired"."""
    if token.expires_at is None:
        return Text("never", style="dim")
    if token.expired(now):
        return Text("expired", style="yellow")
    return Text(token.expires_at.strftime("%Y-%m-%d"))


class TokensScreen(ShowsFailures, Screen[None]):
    PAGE_TITLE = "API tokens"
    AUTO_FOCUS = "#tokens"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="tokens.back"),
        Binding("n", "new", "New token", id="tokens.new", tooltip="Create an API token"),
        Binding("x", "revoke", "Revoke", id="tokens.revoke", tooltip="Revoke the selected token"),
        Binding("r", "refresh", "Refresh", id="tokens.refresh"),
    ]

    def __init__(self, slug: str | None) -> None:
        super().__init__()
        self.slug = slug
        self.view: TokensView | None = None
        self._select: str | None = None  # the row to select once loaded (a new token)

    @property
    def ctx(self) -> Context:
        return self.app.ctx  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        yield Header(icon="✉")
        title = Text(f"API tokens · {owner_text(self.slug)}", style="bold")
        title.append(f"  ·  dates and times in {TABLE_ZONE}", style="dim")
        yield Static(title, id="tokens-title", classes="summary")
        yield FitTable(id="tokens", cursor_type="row", zebra_stripes=True, detail="#tokens-detail")
        yield RowDetail(id="tokens-detail")
        yield Static(
            "n new token · x revoke · r refresh · Esc back · the secret is shown once",
            id="tokens-hint",
            classes="muted hint-line",
        )
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"API tokens · {owner_text(self.slug)}"
        table = self.query_one("#tokens", FitTable)
        for key, label, fit in (
            ("name", "Name", Fit(min=10, priority=2)),
            ("prefix", "Prefix", Fit(shrink=False)),
            ("scopes", "Scopes", Fit(min=17)),  # read,write,events whole
            ("expires", "Expires", Fit(shrink=False)),
            ("used", "Last used", Fit(shrink=False)),
            ("state", "State", Fit(shrink=False)),
        ):
            table.add_fit_column(label, key=key, fit=fit)
        self.load()

    # -- loading ---------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self) -> None:
        with reporting(self, "load"):
            self.post_message(TokensLoaded(tokens.load(self.ctx, self.slug)))

    @on(TokensLoaded)
    def show(self, message: TokensLoaded) -> None:
        current = self.selected()  # the row as last shown: kept through a reload
        selected = self._select or (str(current.id) if current is not None else None)
        view = self.view = message.value
        table = self.query_one("#tokens", FitTable)
        self._select = None
        table.clear()
        filled(table)
        for token in view.tokens:
            state = tokens.state(token, view.now)
            table.add_row(
                Text(token.name),  # a name is no markup
                Text(token.prefix),
                ",".join(scope.value for scope in token.scopes),
                expires_text(token, view.now),
                fmt.when(token.last_used_at, empty="never"),
                Text(state, style=STATE_STYLE[state]),
                key=str(token.id),
            )
        if not view.tokens:
            empty = "No tokens yet" + (" — press n to create one" if view.refusal is None else "")
            table.add_row(Text(empty, style="dim"), "", "", "", "", "")
        elif selected in {str(token.id) for token in view.tokens}:
            table.move_cursor(row=table.get_row_index(selected))

    # -- selection -------------------------------------------------------------------------

    def selected(self) -> TokenRead | None:
        if self.view is None or not self.view.tokens:
            return None
        table = self.query_one("#tokens", FitTable)
        return self.view.tokens[min(table.cursor_row, len(self.view.tokens) - 1)]

    def _refused(self) -> bool:
        """Said here; the data layer refuses the same on its own (tui/data/tokens.py)."""
        if self.view is None:
            return True  # not loaded yet: nothing to act on
        if self.view.refusal is not None:
            self.notify(self.view.refusal, title="not allowed", severity="warning")
            return True
        return False

    # -- actions ---------------------------------------------------------------------------

    def action_back(self) -> None:
        self.dismiss(None)

    def action_new(self) -> None:
        from tui.screens.token_dialogs import NewTokenScreen, TokenSecretScreen

        if self._refused():
            return

        def created(issued: TokenCreated | None) -> None:
            if issued is None:
                return
            self._select = str(issued.token.id)
            self.load()
            self.app.push_screen(TokenSecretScreen(issued))

        self.app.push_screen(NewTokenScreen(self.slug), created)

    def action_revoke(self) -> None:
        from tui.screens.confirm import ConfirmScreen

        if self._refused():
            return
        token = self.selected()
        if token is None:
            self.notify("No token to revoke (press n to create one)", severity="warning")
            return
        if token.revoked:
            self.notify(f"Token {token.name} is revoked already", severity="warning", markup=False)
            return
        question = f"Revoke token {token.name} ({token.prefix}…)?"
        detail = "Whoever uses it is refused (401) from now on. This cannot be undone."

        def answered(yes: bool | None) -> None:
            if yes:
                self.revoke(token.id)

        self.app.push_screen(
            ConfirmScreen(question, title="Revoke a token", confirm="Revoke", detail=detail),
            answered,
        )

    @work(thread=True, group="change", exit_on_error=False)
    def revoke(self, token_id: int) -> None:
        with reporting(self, "revoke"):
            self.post_message(TokenRevoked(tokens.revoke(self.ctx, self.slug, token_id)))

    @on(TokenRevoked)
    def revoked(self, message: TokenRevoked) -> None:
        self.notify(f"Token {message.value.name} revoked", markup=False)
        self.load()
