"""Slack: channels linked to tenants, the events and inboxes each channel mirrors, and the Slack
admins. Inbox routes are added with `/mailbell route inbox`; here they are listed and removed.

The same services as the slash commands (core.services.slack, core.services.slack_admins);
changes are audited with the person at the terminal (source `tui`), who acts as an operator.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Label, Static

from tui.data import slack
from tui.data.slack import ALL, SlackView
from tui.jobs import Result, reporting
from tui.screens.base import MainScreen
from tui.widgets.row_keys import EmptyTable
from tui.widgets.tables import Fit, FitTable, RowDetail, filled

DETAIL = "#slack-detail"
# Ids say which row: they keep their width longest; the long lists give way first.
_ID, _TEAM, _TENANT = Fit(min=9, priority=2), Fit(min=6), Fit(min=6, priority=2)
TABLES: dict[str, tuple[tuple[str, str, Fit], ...]] = {
    "#channels": (
        ("channel", "Channel", _ID),
        ("team", "Team", _TEAM),
        ("tenant", "Tenant", _TENANT),
        ("routes", "Mirrors", Fit(min=12, priority=0)),
    ),
    "#inbox": (
        ("channel", "Channel", _ID),
        ("account", "Account", Fit(min=14)),
        ("senders", "Senders", Fit(min=10, priority=0)),
        ("tenant", "Tenant", _TENANT),
    ),
    "#admins": (
        ("user", "User", _ID),
        ("team", "Team", _TEAM),
        ("source", "Added by", Fit(priority=0)),
    ),
}


class SlackLoaded(Result[SlackView]):
    """Linked channels, inbox routes and Slack admins of the scope."""


class SlackChanged(Result[str]):
    """A change went through; the sentence says which."""


def routes_text(routes: list[str]) -> Text:
    if not routes:
        return Text("nothing routed", style="dim")
    return Text(", ".join("all tenant events" if r == ALL else r for r in routes))


class SlackScreen(MainScreen):
    MODE = "slack"
    PAGE_TITLE = "Slack"
    AUTO_FOCUS = "#channels"
    # Keys of the lower tables stay out of the footer (it would overflow 80 columns and hide
    # Help): the note at the top of the page names them, and Help lists them.
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
            show=False,
            id="slack.remove-admin",
            tooltip="Remove the admin selected in the lower table",
        ),
        Binding(
            "d",
            "remove_inbox",
            "Stop inbox",
            show=False,
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
        yield FitTable(id="channels", cursor_type="row", zebra_stripes=True, detail=DETAIL)
        yield EmptyTable(id="channels-empty")
        yield Label("Inboxes mirrored (/mailbell route inbox)", classes="section-title")
        yield FitTable(id="inbox", cursor_type="row", zebra_stripes=True, detail=DETAIL)
        yield EmptyTable(id="inbox-empty")
        yield Label("Slack admins", id="admins-title", classes="section-title")
        yield FitTable(id="admins", cursor_type="row", zebra_stripes=True, detail=DETAIL)
        yield EmptyTable(id="admins-empty")
        # The focused table's selected row, whole, when its columns cut a value.
        yield RowDetail(id="slack-detail")

    def on_mount(self) -> None:
        for selector, columns in TABLES.items():
            table = self.query_one(selector, FitTable)
            for key, label, fit in columns:
                table.add_fit_column(label, key=key, fit=fit)

    def reload(self) -> None:
        self.load(self.slug)

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self, slug: str | None) -> None:
        with reporting(self, "load"):
            self.post_message(SlackLoaded(slack.load(self.ctx, slug)))

    @work(thread=True, group="change", exit_on_error=False)
    def change(self, job: Any, *args: Any) -> None:
        """Run one of tui.data.slack's changes; its sentence comes back as SlackChanged."""
        with reporting(self, "change"):
            self.post_message(SlackChanged(job(self.ctx, *args)))

    def action_refresh(self) -> None:
        self.reload()

    @on(SlackLoaded)
    def show(self, message: SlackLoaded) -> None:
        view = self.view = message.value
        who = "system" if self.slug is None else f"tenant {self.slug}"
        self.query_one("#admins-title", Label).update(f"Slack admins of the {who}")
        self.query_one("#slack-note", Static).update(
            "Channels mirror the events routed to them (`/mailbell route`). l link · Enter "
            "events · u unlink · d stop the selected inbox route · a / x add or remove an admin."
        )
        channels = self.query_one("#channels", FitTable)
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
        self.query_one("#channels-empty", EmptyTable).explain(
            channels, "No linked channels: press l to link one to a tenant."
        )
        inbox = self.query_one("#inbox", FitTable)
        inbox.clear()
        filled(inbox)
        for route in view.inbox:
            inbox.add_row(
                route.channel_id, route.account, route.senders, route.tenant, key=str(route.id)
            )
        self.query_one("#inbox-empty", EmptyTable).explain(
            inbox, "No inbox mirrored: add one in Slack with /mailbell route inbox."
        )
        admins = self.query_one("#admins", FitTable)
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
        self.query_one("#admins-empty", EmptyTable).explain(
            admins, "No Slack admins: press a to add one."
        )

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

        def answered(yes: bool | None) -> None:
            if yes:
                self.change(slack.unlink, channel.team_id, channel.channel_id)

        self.app.push_screen(ConfirmScreen(question, confirm="Unlink"), answered)

    def action_remove_inbox(self) -> None:
        from tui.screens.confirm import ConfirmScreen

        route = self.selected_inbox_route()
        if route is None:
            self.notify("Select an inbox route first (inbox table)", severity="warning")
            return
        what = f"new mail of {route.account} ({route.senders})"

        def answered(yes: bool | None) -> None:
            if yes:
                self.change(slack.remove_inbox_route, route)

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

        def answered(yes: bool | None) -> None:
            if yes:
                self.change(slack.remove_admin, slug, admin.user_id)

        self.app.push_screen(
            ConfirmScreen(f"Remove {admin.user_id} as a Slack admin of {who}?", confirm="Remove"),
            answered,
        )

    def _changed(self, message: str | None) -> None:
        if message:
            self.notify(message)
            self.reload()

    @on(SlackChanged)
    def changed(self, message: SlackChanged) -> None:
        self._changed(message.value)
