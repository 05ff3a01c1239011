"""Dialogs of the Slack page: link a channel, choose its events, add a Slack admin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Footer, Input, Label, SelectionList, Static

from tui.data import slack
from tui.data.slack import ALL
from tui.jobs import reporting
from tui.runtime import message_of
from tui.screens.form_dialog import FormDialog, Saved, SaveFailed
from tui.widgets.form import Field


class SlackDialog(FormDialog[str | None]):
    """Shared frame: title, fields, Cancel / Save; errors land on the field they name."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="slack-dialog.cancel"),
        Binding("ctrl+s", "save", "Save", id="slack-dialog.save"),
    ]
    TITLE_TEXT = ""
    CANCELLED = None

    def compose(self) -> ComposeResult:
        yield Footer()
        with Vertical(classes="dialog small"):
            yield Label(self.TITLE_TEXT, classes="dialog-title")
            yield from self.fields()
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Save", id="save", variant="primary", compact=True)

    def fields(self) -> ComposeResult:
        yield Static("")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def action_save(self) -> None:
        raise NotImplementedError

    @work(thread=True, exclusive=True, group="save", exit_on_error=False)
    def save(self, job: Callable[..., str], *args: Any) -> None:
        """Run one of tui.data.slack's changes; its sentence closes the dialog."""
        with reporting(self, "save", SaveFailed):
            self.post_message(Saved(job(self.ctx, *args)))

    @on(Saved)
    def saved(self, message: Saved) -> None:
        self.dismiss(message.value)

    def value(self, name: str) -> str:
        return self.query_one(f"#{name}", Input).value.strip()


class LinkDialog(SlackDialog):
    TITLE_TEXT = "Link a Slack channel to a tenant"

    def __init__(self, slug: str | None) -> None:
        super().__init__()
        self.slug = slug

    def fields(self) -> ComposeResult:
        yield Field(
            "Team id",
            Input(id="team", compact=True, placeholder="T0123ABC"),
            name="team",
            required=True,
            hint="the workspace id (T…)",
        )
        yield Field(
            "Channel id",
            Input(id="channel", compact=True, placeholder="C0123ABC"),
            name="channel",
            required=True,
            hint="channel details → bottom (C…)",
        )
        yield Field(
            "Tenant",
            Input(self.slug or "", id="tenant", compact=True),
            name="tenant",
            required=True,
        )

    def action_save(self) -> None:
        team, channel, tenant = self.value("team"), self.value("channel"), self.value("tenant")

        self.save(slack.link, team, channel, tenant)

    def show_refusal(self, exc: BaseException) -> bool:
        if super().show_refusal(exc):
            return True
        self.form.set("tenant", message_of(exc))  # an unknown tenant
        return True


class AdminDialog(SlackDialog):
    def __init__(self, slug: str | None) -> None:
        super().__init__()
        self.slug = slug
        who = "the system" if slug is None else f"tenant {slug}"
        self.TITLE_TEXT = f"Add a Slack admin of {who}"

    def fields(self) -> ComposeResult:
        yield Field(
            "User id",
            Input(id="user", compact=True, placeholder="U0123ABC"),
            name="user",
            required=True,
            hint="profile → ⋮ → Copy member ID",
        )
        yield Field(
            "Team id", Input(id="team", compact=True, placeholder="any workspace"), name="team"
        )

    def action_save(self) -> None:
        user, team, slug = self.value("user"), self.value("team"), self.slug

        self.save(slack.add_admin, slug, user, team)


class RoutesDialog(SlackDialog):
    """Tick the events the channel mirrors; "all tenant events" covers every tenant event."""

    def __init__(self, channel: Any, events: list[tuple[str, str]]) -> None:
        super().__init__()
        self.channel = channel
        self.events = events
        self.TITLE_TEXT = f"Events mirrored in {channel.channel_id} (tenant {channel.tenant})"

    def fields(self) -> ComposeResult:
        current = set(self.channel.routes)
        options: list[tuple[str, str, bool]] = [("all tenant events", ALL, ALL in current)]
        options += [(f"{short}  ({name})", name, name in current) for name, short in self.events]
        yield SelectionList[str](*options, id="routes")
        yield Static("", id="field-event", classes="field-note -error")

    def on_mount(self) -> None:
        self.query_one("#field-event").display = False

    def action_save(self) -> None:
        chosen = set(self.query_one("#routes", SelectionList).selected)
        order = [ALL, *(name for name, _ in self.events)]  # the catalogue's order
        self.save(slack.save_routes, self.channel, chosen, order)

    def show_refusal(self, exc: BaseException) -> bool:
        note = self.query_one("#field-event", Static)
        note.update(f"✗ {message_of(exc)}")
        note.display = True
        return True
