"""Slack: channels linked to tenants, the events and inboxes each channel mirrors, and the Slack
admins. Inbox routes are added with `/mailbell route inbox`; here they are listed and removed.

The same services as the slash commands (core.services.slack, core.services.slack_admins);
changes are audited with the person at the terminal (source `tui`), who acts as an operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Label, Static

from tui.runtime import actor, owner
from tui.screens.base import MainScreen
from tui.widgets.tables import filled

if TYPE_CHECKING:
    from core.context import Context


@dataclass(frozen=True)
class SlackView:
    channels: list[Any]
    admins: list[Any]
    inbox: list[Any]  # core.services.slack_inbox.InboxRouteView
    events: list[tuple[str, str]]  # (event name, short name) routable from the TUI


def load_slack(ctx: Context, slug: str | None) -> SlackView:
    from core.services.slack import list_links, routable_events, short_name
    from core.services.slack_admins import list_admins
    from core.services.slack_inbox import list_inbox_routes

    with ctx.session() as session:
        tenant = owner(session, slug)
        channels = list_links(session=session, tenant=tenant)
        admins = list_admins(session=session, tenant=tenant, admin_ids=ctx.settings.slack_admin_ids)
        inbox = list_inbox_routes(session=session, tenant=tenant)
    events = [(e.name, short_name(e)) for e in routable_events(system_admin=True)]
    return SlackView(channels, admins, inbox, events)


def routes_text(routes: list[str]) -> Text:
    if not routes:
        return Text("nothing routed", style="dim")
    return Text(", ".join("all tenant events" if r == "*" else r for r in routes))


class SlackScreen(MainScreen):
    MODE = "slack"
    PAGE_TITLE = "Slack"
    AUTO_FOCUS = "#channels"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "link", "Link channel", id="slack.link", tooltip="Link a channel to a tenant"),
        Binding(
            "e,enter",
            "routes",
            "Events",
            id="slack.routes",
            tooltip="Choose the events the selected channel mirrors",
        ),
        Binding("u", "unlink", "Unlink", id="slack.unlink", tooltip="Unlink the selected channel"),
        Binding("a", "add_admin", "Add admin", id="slack.add-admin"),
        Binding(
            "x",
            "remove_admin",
            "Remove admin",
            id="slack.remove-admin",
            tooltip="Remove the admin selected in the lower table",
        ),
        Binding(
            "d",
            "remove_inbox",
            "Stop inbox",
            id="slack.remove-inbox",
            tooltip="Stop mirroring the inbox route selected in the inbox table",
        ),
        Binding("r", "refresh", "Refresh", show=False, id="slack.refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.view: SlackView | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("", id="slack-note", classes="summary muted")
        yield Label("Linked channels", classes="section-title")
        yield DataTable(id="channels", cursor_type="row", zebra_stripes=True)
        yield Label("Inboxes mirrored (/mailbell route inbox)", classes="section-title")
        yield DataTable(id="inbox", cursor_type="row", zebra_stripes=True)
        yield Label("Slack admins", id="admins-title", classes="section-title")
        yield DataTable(id="admins", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        channels = self.query_one("#channels", DataTable)
        for key, label in (
            ("channel", "Channel"),
            ("team", "Team"),
            ("tenant", "Tenant"),
            ("routes", "Mirrors"),
        ):
            channels.add_column(label, key=key)
        inbox = self.query_one("#inbox", DataTable)
        for key, label in (
            ("channel", "Channel"),
            ("account", "Account"),
            ("senders", "Senders"),
            ("tenant", "Tenant"),
        ):
            inbox.add_column(label, key=key)
        admins = self.query_one("#admins", DataTable)
        for key, label in (("user", "User"), ("team", "Team"), ("source", "Added by")):
            admins.add_column(label, key=key)

    def reload(self) -> None:
        self.run_job("load", load_slack, self.ctx, self.slug)

    def action_refresh(self) -> None:
        self.reload()

    def done_load(self, view: SlackView) -> None:
        self.view = view
        who = "system" if self.slug is None else f"tenant {self.slug}"
        self.query_one("#admins-title", Label).update(f"Slack admins of the {who}")
        self.query_one("#slack-note", Static).update(
            "Channels mirror the events routed to them (`/mailbell route`). l link · Enter "
            "events · u unlink · d stop the selected inbox route · a / x add or remove an admin."
        )
        channels = self.query_one("#channels", DataTable)
        channels.clear()
        filled(channels)
        for view_ in view.channels:
            channels.add_row(
                view_.channel_id,
                view_.team_id,
                view_.tenant,
                routes_text(view_.routes),
                key=f"{view_.team_id}/{view_.channel_id}",
            )
        if not view.channels:
            channels.add_row(Text("No linked channels — press l", style="dim"), "", "", "")
        inbox = self.query_one("#inbox", DataTable)
        inbox.clear()
        filled(inbox)
        for route in view.inbox:
            inbox.add_row(
                route.channel_id, route.account, route.senders, route.tenant, key=str(route.id)
            )
        if not view.inbox:
            inbox.add_row(Text("No inbox mirrored", style="dim"), "", "", "")
        admins = self.query_one("#admins", DataTable)
        admins.clear()
        filled(admins)
        for admin in view.admins:
            source = "MAILBELL_SLACK_ADMINS" if admin.source == "env" else "mailbell"
            admins.add_row(
                admin.user_id,
                admin.team_id or "any",
                source,
                key=f"{admin.source}:{admin.user_id}:{admin.team_id}",
            )
        if not view.admins:
            admins.add_row(Text("No Slack admins — press a", style="dim"), "", "")

    # -- selection -------------------------------------------------------------------------

    def selected_channel(self) -> Any | None:
        if self.view is None or not self.view.channels:
            return None
        table = self.query_one("#channels", DataTable)
        return self.view.channels[min(table.cursor_row, len(self.view.channels) - 1)]

    def selected_admin(self) -> Any | None:
        if self.view is None or not self.view.admins:
            return None
        table = self.query_one("#admins", DataTable)
        return self.view.admins[min(table.cursor_row, len(self.view.admins) - 1)]

    def selected_inbox_route(self) -> Any | None:
        if self.view is None or not self.view.inbox:
            return None
        table = self.query_one("#inbox", DataTable)
        return self.view.inbox[min(table.cursor_row, len(self.view.inbox) - 1)]

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.data_table.id == "channels":
            self.action_routes()

    # -- actions ---------------------------------------------------------------------------

    def action_link(self) -> None:
        from tui.screens.slack_dialogs import LinkDialog

        self.app.push_screen(LinkDialog(self.slug), self._changed)

    def action_routes(self) -> None:
        from tui.screens.slack_dialogs import RoutesDialog

        channel = self.selected_channel()
        if channel is None or self.view is None:
            self.notify("Select a linked channel first", severity="warning")
            return
        self.app.push_screen(RoutesDialog(channel, self.view.events), self._changed)

    def action_unlink(self) -> None:
        from tui.screens.confirm import ConfirmScreen

        channel = self.selected_channel()
        if channel is None:
            self.notify("Select a linked channel first", severity="warning")
            return
        question = (
            f"Unlink channel {channel.channel_id} from tenant {channel.tenant}? Its "
            "routes are removed too."
        )

        def unlink(ctx: Context) -> str:
            from core.services.slack import unlink_channel

            with ctx.session() as session:
                unlink_channel(
                    session=session,
                    team_id=channel.team_id,
                    channel_id=channel.channel_id,
                    actor=actor(),
                )
            return f"Channel {channel.channel_id} unlinked"

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_job("change", unlink, self.ctx)

        self.app.push_screen(ConfirmScreen(question, confirm="Unlink"), answered)

    def action_remove_inbox(self) -> None:
        from tui.screens.confirm import ConfirmScreen

        route = self.selected_inbox_route()
        if route is None:
            self.notify("Select an inbox route first (inbox table)", severity="warning")
            return
        what = f"new mail of {route.account} ({route.senders})"

        def remove(ctx: Context) -> str:
            from core.services.slack_inbox import remove_inbox_route_by_id

            with ctx.session() as session:
                remove_inbox_route_by_id(session=session, route_id=route.id, actor=actor())
            return f"Channel {route.channel_id} no longer mirrors {what}"

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_job("change", remove, self.ctx)

        self.app.push_screen(
            ConfirmScreen(f"Stop mirroring {what} in {route.channel_id}?", confirm="Stop"),
            answered,
        )

    def action_add_admin(self) -> None:
        from tui.screens.slack_dialogs import AdminDialog

        self.app.push_screen(AdminDialog(self.slug), self._changed)

    def action_remove_admin(self) -> None:
        from tui.screens.confirm import ConfirmScreen

        admin = self.selected_admin()
        if admin is None:
            self.notify("Select a Slack admin first (lower table)", severity="warning")
            return
        if admin.source == "env":
            self.notify(
                "This admin comes from MAILBELL_SLACK_ADMINS: change the environment",
                severity="warning",
            )
            return
        who = "the system" if self.slug is None else f"tenant {self.slug}"
        slug = self.slug

        def remove(ctx: Context) -> str:
            from core.services.slack_admins import remove_admin

            with ctx.session() as session:
                remove_admin(
                    session=session,
                    user_id=admin.user_id,
                    tenant=owner(session, slug),
                    actor=actor(),
                )
            return f"{admin.user_id} is no longer a Slack admin of {who}"

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_job("change", remove, self.ctx)

        self.app.push_screen(
            ConfirmScreen(f"Remove {admin.user_id} as a Slack admin of {who}?", confirm="Remove"),
            answered,
        )

    def _changed(self, message: str | None) -> None:
        if message:
            self.notify(message)
            self.reload()

    def done_change(self, message: str) -> None:
        self._changed(message)
