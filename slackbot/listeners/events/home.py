"""The App Home tab: `app_home_opened` publishes the user's Home (`views.publish`), and its
buttons (a tenant's event toggles, Retry of a failed delivery) act and publish it again.

A Home button has no channel and no response_url: it is authorized on the tenant it names
(the toggle's tenant id, the delivery's tenant), never on a channel, exactly as the status
buttons are (a system admin, or an admin of THAT tenant); a refusal is audited and changes
nothing, and every answer (refusal, bad input, success) is shown at the top of the
republished Home. The database work runs off the event loop (`ListenerDatabase.run`); the
publishing after the ack, through the app's `HomeRefresher` (slackbot.home_refresh), which
also keeps open Homes current.
"""

from __future__ import annotations

import logging
import weakref
from typing import TYPE_CHECKING, Any

from core.context import Context
from core.errors import MailbellError
from core.models.delivery import Delivery
from core.models.tenancy import TENANT_TOGGLES, Tenant
from core.services.deliveries import retry_delivery
from core.services.slack import set_events, short_name, toggled_tenant_events
from core.services.slack_admins import (
    acting_admin,
    is_system_admin,
)
from core.services.slack_home import home_tenants
from core.vocabulary import ROW_ID_MAX
from slackbot import home_refresh
from slackbot.blocks.common import escape
from slackbot.blocks.home import RETRY_PREFIX, TOGGLE_PREFIX, home_view
from slackbot.errors import user_message
from slackbot.home_refresh import BuiltView, HomeRefresher, HomeRequest, view_digest
from slackbot.listeners.offloop import BUSY_TEXT, DatabaseBusy, ListenerDatabase

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from slackbot.listeners.followup import FollowupRunner

log = logging.getLogger("slackbot")
_REFRESHERS: weakref.WeakKeyDictionary[Any, HomeRefresher] = weakref.WeakKeyDictionary()
NOT_YOURS = "only system admins and the Slack admins of its tenant may. Nothing was changed."


def home_refresher(app: Any) -> HomeRefresher | None:
    """The app's refresher (tests drive its passes)."""
    return _REFRESHERS.get(app)


# -- off the event loop -------------------------------------------------------------------------


def build_views(ctx: Context, requests: list[HomeRequest]) -> list[BuiltView]:
    """Each user's Home, in one session; system admins share one read of the tenants."""
    built: list[BuiltView] = []
    shared: dict[str, Any] = {}
    admin_ids = ctx.settings.slack_admin_ids
    with ctx.session() as session:
        for request in requests:
            system_admin = is_system_admin(
                session=session,
                admin_ids=admin_ids,
                user_id=request.user_id,
                team_id=request.team_id,
            )
            overview = shared.get("system") if system_admin else None
            if overview is None:
                overview = home_tenants(
                    session=session,
                    admin_ids=admin_ids,
                    user_id=request.user_id,
                    team_id=request.team_id,
                )
                if system_admin:
                    shared["system"] = overview
            view = home_view(
                overview, is_system_admin=overview.is_system_admin, notice=request.notice
            )
            built.append(BuiltView(view, view_digest(view)))
    return built


def _row_id(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= ROW_ID_MAX else None


def toggle(ctx: Context, user_id: str, team_id: str, action_id: str, value: str) -> str:
    """Switch one event of the tenant the button names; the notice to show."""
    tenant_part, _, field = action_id.removeprefix(TOGGLE_PREFIX).partition(":")
    with ctx.session() as session:
        tenant_id = _row_id(tenant_part[:20])
        tenant = session.get(Tenant, tenant_id) if tenant_id is not None else None
        acting = acting_admin(
            session=session,
            admin_ids=ctx.settings.slack_admin_ids,
            user_id=user_id,
            team_id=team_id,
            tenant=tenant,
            refused=f"home toggle {field}",
        )
        if acting is None:
            return f":no_entry: You may not change this tenant's events: {NOT_YOURS}"
        if tenant is None:
            return ":warning: That tenant no longer exists. Nothing was changed."
        if field not in TENANT_TOGGLES or value not in ("on", "off"):
            return f":warning: {escape(field[:60])!r} is not an event switch. Nothing was changed."
        event = next(e for e in toggled_tenant_events() if e.toggle == field)
        try:
            set_events(
                session=session,
                box=ctx.box,
                tenant=tenant,
                names=[event.name],
                enabled=value == "on",
                actor=acting,
            )
        except MailbellError as error:
            return user_message(error)
        return f":white_check_mark: {escape(tenant.slug)}: {short_name(event)} is now {value}."


def retry(ctx: Context, user_id: str, team_id: str, raw_id: str) -> str:
    """Queue a failed delivery of one of the user's tenants again; the notice to show."""
    shown = escape(raw_id[:20])
    with ctx.session() as session:
        delivery_id = _row_id(raw_id[:20])
        delivery = session.get(Delivery, delivery_id) if delivery_id is not None else None
        tenant = None
        if delivery is not None and delivery.tenant_id is not None:
            tenant = session.get(Tenant, delivery.tenant_id)
        acting = acting_admin(
            session=session,
            admin_ids=ctx.settings.slack_admin_ids,
            user_id=user_id,
            team_id=team_id,
            tenant=tenant,
            refused=f"home retry {shown}",
        )
        if acting is None:
            return f":no_entry: You may not retry delivery {shown}: {NOT_YOURS}"
        if delivery_id is None or delivery is None:
            return f":warning: delivery {shown} does not exist. Nothing was changed."
        try:
            retried = retry_delivery(
                session=session,
                box=ctx.box,
                delivery_id=delivery_id,
                actor=acting,
                tenant=tenant,
            )
        except MailbellError as error:
            return user_message(error)
        return (
            f":repeat: Queued delivery {retried.id} ({escape(retried.event)} → "
            f"{escape(retried.channel)} {escape(retried.target[:60])}) again."
        )


# -- on the event loop --------------------------------------------------------------------------


class HomeListener:
    def __init__(self, ctx: Context, database: ListenerDatabase, refresher: HomeRefresher) -> None:
        self.ctx = ctx
        self.database = database
        self.refresher = refresher

    async def opened(self, event: dict[str, Any], body: dict[str, Any], client: Any) -> None:
        """Bolt acknowledges events itself; the Home is built and published after it."""
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        self.refresher.opened(str(event["user"]), str(body.get("team_id") or ""), client)

    async def toggle(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any
    ) -> None:
        await self._act(ack, body, client, toggle, action.get("action_id", ""), _value(action))

    async def retry(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any
    ) -> None:
        await self._act(ack, body, client, retry, _value(action))

    async def _act(
        self, ack: Any, body: dict[str, Any], client: Any, work: Any, *args: Any
    ) -> None:
        user = body.get("user") or {}
        user_id = str(user.get("id", ""))
        team_id = str((body.get("team") or {}).get("id") or user.get("team_id") or "")
        try:
            notice = await self.database.run(work, user_id, team_id, *map(str, args))
        except DatabaseBusy as busy:
            log.warning("slack: database busy, home button not run (%s)", busy)
            notice = BUSY_TEXT
        await ack()
        self.refresher.answered(user_id, team_id, client, notice)


def _value(action: dict[str, Any]) -> str:
    """A button's value, or the chosen option of an overflow menu."""
    option = action.get("selected_option") or {}
    return str(action.get("value") or option.get("value") or "")


def register(
    app: AsyncApp, ctx: Context, runner: FollowupRunner, database: ListenerDatabase
) -> None:
    import re

    async def build(requests: list[HomeRequest]) -> list[BuiltView]:
        return await database.run(build_views, requests)

    async def publish(client: Any, user_id: str, view: dict[str, Any]) -> None:
        await client.views_publish(user_id=user_id, view=view)

    refresher = HomeRefresher(build, publish, period=home_refresh.PERIOD_S)
    _REFRESHERS[app] = refresher
    runner.add_closer(refresher.close)
    listener = HomeListener(ctx, database, refresher)
    app.event("app_home_opened")(listener.opened)
    app.action(re.compile("^" + re.escape(TOGGLE_PREFIX)))(listener.toggle)
    app.action(re.compile("^" + re.escape(RETRY_PREFIX) + "(:|$)"))(listener.retry)
