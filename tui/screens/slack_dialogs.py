"""Dialogs of the Slack page: link a channel, choose its events, add a Slack admin."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Footer, Input, Label, SelectionList, Static

from tui.runtime import actor, message_of, owner
from tui.screens.form_dialog import FormDialog
from tui.widgets.form import Field

if TYPE_CHECKING:
    from core.context import Context

ALL = "*"


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

    def done_save(self, message: str) -> None:
        self.dismiss(message)

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

        def link(ctx: Context) -> str:
            from core.services.slack import link_channel

            with ctx.session() as session:
                link_channel(
                    session=session,
                    team_id=team,
                    channel_id=channel,
                    tenant_slug=tenant,
                    actor=actor(),
                )
            return f"Channel {channel} linked to tenant {tenant}"

        self.run_job("save", link, self.ctx)

    def failed_save(self, exc: BaseException) -> bool:
        if super().failed_save(exc):
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

        def add(ctx: Context) -> str:
            from core.services.slack_admins import add_admin

            with ctx.session() as session:
                add_admin(
                    session=session,
                    user_id=user,
                    team_id=team,
                    tenant=owner(session, slug),
                    actor=actor(),
                )
            return f"{user} is now a Slack admin"

        self.run_job("save", add, self.ctx)


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
        current = set(self.channel.routes)
        order = [ALL, *(name for name, _ in self.events)]  # the catalogue's order
        add = [name for name in order if name in chosen - current]
        remove = [name for name in order if name in current - chosen]
        channel = self.channel

        def save(ctx: Context) -> str:
            from core.services.slack import add_routes, get_link, remove_routes

            with ctx.session() as session:
                link = get_link(
                    session=session, team_id=channel.team_id, channel_id=channel.channel_id
                )
                if link is None:
                    from core.errors import NotFound

                    raise NotFound(f"channel {channel.channel_id} is not linked any more")
                adding = add
                if ALL in remove:  # "all" off: clear, then put back what stays ticked
                    remove_routes(
                        session=session, link=link, names=["all"], actor=actor(), system_admin=True
                    )
                    adding = [name for name in order if name in chosen]
                elif remove:
                    remove_routes(
                        session=session, link=link, names=remove, actor=actor(), system_admin=True
                    )
                if adding:
                    names = ["all" if name == ALL else name for name in adding]
                    add_routes(
                        session=session, link=link, names=names, actor=actor(), system_admin=True
                    )
            return f"Routes of {channel.channel_id} saved"

        self.run_job("save", save, self.ctx)

    def failed_save(self, exc: BaseException) -> bool:
        note = self.query_one("#field-event", Static)
        note.update(f"✗ {message_of(exc)}")
        note.display = True
        return True
