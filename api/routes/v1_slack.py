"""The owner's linked Slack channels and the events each mirrors (`/mailbell route` over HTTP):

- `GET /api/v1/slack/channels`: `{"items": [{team_id, channel_id, tenant, events}]}`, the
  linked channels of the owner (a system token without `?tenant=`: every tenant's); `events`
  are event names, `*` standing for every tenant event;
- `PUT /api/v1/slack/channels/{team_id}/{channel_id}/routes {"events": [...]}`: the channel
  mirrors exactly these events (names as the slash command takes them, `all`/`*` for every
  tenant event; `[]` for none) → 200 with the channel. Nothing changes on a refused name.

Linking and unlinking a channel stays a Slack, CLI or TUI action: it proves who owns the
channel, which a token cannot. A channel of another tenant is 404. System events are routed
by system tokens only, as by system admins in Slack; a tenant token's list leaves a system
event a system admin routed in place (it could not route it back).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field
from sqlmodel import Session

from api.auth import Scope, scoped_read, scoped_write
from api.body import read_body
from api.json_types import known_json_fields
from core.catalog import EVENTS
from core.errors import NotFound, ValidationError
from core.models.slack import ALL_EVENTS, SlackChannelLink
from core.models.tenancy import Tenant
from core.services.slack import (
    ALL_WORDS,
    ChannelView,
    add_routes,
    get_link,
    list_links,
    list_routes,
    remove_routes,
    resolve_events,
    routable_events,
)

MAX_EVENTS = 64
MAX_ID = 64  # Slack ids are about a dozen characters; longer is no channel of ours


class RoutesBody(BaseModel):
    events: list[str] = Field(max_length=MAX_EVENTS)


def _public(view: ChannelView) -> dict[str, Any]:
    return {
        "team_id": view.team_id,
        "channel_id": view.channel_id,
        "tenant": view.tenant,
        "events": list(view.routes),
    }


async def list_channels(request: web.Request) -> web.Response:
    def work(session: Session, scope: Scope) -> dict[str, Any]:
        return {
            "items": [_public(view) for view in list_links(session=session, tenant=scope.tenant)]
        }

    return web.json_response(await scoped_read(request, work))


def _owned_link(session: Session, scope: Scope, team_id: str, channel_id: str) -> SlackChannelLink:
    link = None
    if len(team_id) <= MAX_ID and len(channel_id) <= MAX_ID:
        link = get_link(session=session, team_id=team_id, channel_id=channel_id)
    if link is None or (scope.tenant is not None and link.tenant_id != scope.tenant.id):
        raise NotFound(f"channel {team_id[:40]}/{channel_id[:40]} is not linked to this owner")
    return link


def _wanted(given: dict[str, Any], *, system_admin: bool) -> list[str]:
    """The body's events as route names (`*` first), every name checked before any change."""
    fields = known_json_fields(given, RoutesBody)
    names = fields.get("events")
    if names is None:
        raise ValidationError("events", "is required: a JSON array of event names ([] for none)")
    if not all(isinstance(name, str) for name in names):
        raise ValidationError("events", "must be a JSON array of event names (strings)")
    if len(names) > MAX_EVENTS:
        raise ValidationError("events", f"names at most {MAX_EVENTS} events")
    every = any(name.strip().lower() in ALL_WORDS for name in names)
    named = [name for name in names if name.strip().lower() not in ALL_WORDS]
    valid = routable_events(system_admin=system_admin)
    events = resolve_events(named, valid=valid, field="events") if named else []
    # `*` covers every tenant event, as the slash command's `route all` does
    return ([ALL_EVENTS] if every else []) + [
        e.name for e in events if not (every and e.scope == "tenant")
    ]


TENANT_EVENTS = tuple(event.name for event in EVENTS.values() if event.scope == "tenant")


def _manageable(name: str, *, system_admin: bool) -> bool:
    return system_admin or name == ALL_EVENTS or EVENTS[name].scope == "tenant"


async def put_routes(request: web.Request) -> web.Response:
    team_id, channel_id = request.match_info["team_id"], request.match_info["channel_id"]
    body = await read_body(request)

    def work(session: Session, scope: Scope) -> dict[str, Any]:
        link = _owned_link(session, scope, team_id, channel_id)
        system_admin = scope.system_token
        wanted = _wanted(body.json_object(), system_admin=system_admin)
        current = list_routes(session=session, link=link)
        drop = [
            name
            for name in current
            if name not in wanted and _manageable(name, system_admin=system_admin)
        ]

        def change(names: list[str], *, add: bool) -> None:
            (add_routes if add else remove_routes)(
                session=session, link=link, names=names, actor=scope.actor,
                system_admin=system_admin,
            )  # fmt: skip

        if ALL_EVENTS in drop:
            # `*` goes by naming what it covers (`all` would take the routes kept too)
            drop = [name for name in TENANT_EVENTS if name not in wanted] + [
                name for name in drop if name != ALL_EVENTS
            ]
        if drop:
            change(drop, add=False)
        current = list_routes(session=session, link=link)
        add = [name for name in wanted if name not in current]
        if ALL_EVENTS in add:
            change(["all"], add=True)
            add.remove(ALL_EVENTS)
        if add:
            change(add, add=True)
        owner = session.get(Tenant, link.tenant_id)
        assert owner is not None  # the link's foreign key
        view = ChannelView(
            link.team_id, link.channel_id, owner.slug, list_routes(session=session, link=link)
        )
        return _public(view)

    return web.json_response(await scoped_write(request, work))


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/slack/channels", list_channels)
    app.router.add_put("/api/v1/slack/channels/{team_id}/{channel_id}/routes", put_routes)
