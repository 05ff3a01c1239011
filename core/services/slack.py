"""Slack use cases: channel links, routes (which events a channel mirrors), the Slack deliveries
of an event, and settings changes in Slack words. Who may do what: `core.services.slack_admins`.

The slash commands, the TUI and the CLI call these; every change leaves an audit entry whose
actor is the Slack user and team (`slack_actor`: `U123@T456`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, col, select

from core.catalog import EVENTS, Event
from core.crypto import SecretBox
from core.errors import NotFound, ValidationError
from core.models.slack import ALL_EVENTS, SlackChannelLink, SlackRoute
from core.models.tenancy import TENANT_TOGGLES, NotificationSettingsUpdate, Tenant
from core.services.audit import Actor, Changes, record
from core.services.notifications import (
    get_notification_settings,
    update_notification_settings,
)
from core.services.slack_admins import check_id
from core.services.slack_inbox import clear_inbox_routes
from core.services.tenants import get_tenant

ALL_WORDS = frozenset({"all", "*"})


# -- channels -----------------------------------------------------------------------------------


def _channel_target(team_id: str, channel_id: str) -> str:
    return f"slack:{team_id}/{channel_id}"


def get_link(*, session: Session, team_id: str, channel_id: str) -> SlackChannelLink | None:
    query = select(SlackChannelLink).where(
        SlackChannelLink.team_id == team_id, SlackChannelLink.channel_id == channel_id
    )
    return session.exec(query).first()


@functools.cache
def _channel_statement() -> Any:
    link = SlackChannelLink.__table__  # type: ignore[attr-defined]
    tenant = Tenant.__table__  # type: ignore[attr-defined]
    return (
        select(
            *(link.c[name] for name in SlackChannelLink.model_fields),
            *(tenant.c[name] for name in Tenant.model_fields),
        )
        .select_from(link.join(tenant, tenant.c.id == link.c.tenant_id))
        .where(link.c.team_id == bindparam("team_id"), link.c.channel_id == bindparam("channel_id"))
    )


@dataclass(frozen=True)
class ChannelRef:
    """A linked channel's link and tenant columns, read without the ORM (every slash command
    starts here); `attach` turns them into session objects when a change needs them."""

    link: dict[str, Any]
    tenant: dict[str, Any]

    @property
    def link_id(self) -> int:
        return int(self.link["id"])

    @property
    def tenant_id(self) -> int:
        return int(self.tenant["id"])

    @property
    def tenant_slug(self) -> str:
        return str(self.tenant["slug"])

    def attach(self, session: Session) -> tuple[SlackChannelLink, Tenant]:
        """Session-attached objects for these rows, without a second query."""
        objects: list[Any] = []
        for model, data in ((SlackChannelLink, self.link), (Tenant, self.tenant)):
            known = session.identity_map.get(identity_key(model, data["id"]))
            if known is None:
                known = model(**data)  # table models do not validate: the values are the row's
                make_transient_to_detached(known)
                session.add(known)
            objects.append(known)
        return objects[0], objects[1]


def channel_ref(*, session: Session, team_id: str, channel_id: str) -> ChannelRef | None:
    """The channel's link and tenant in one prebuilt statement; None when it is not linked."""
    params = {"team_id": team_id, "channel_id": channel_id}
    row = session.connection().execute(_channel_statement(), params).first()
    if row is None:
        return None
    split = len(SlackChannelLink.model_fields)
    return ChannelRef(
        link=dict(zip(SlackChannelLink.model_fields, row[:split], strict=True)),
        tenant=dict(zip(Tenant.model_fields, row[split:], strict=True)),
    )


def link_channel(
    *, session: Session, team_id: str, channel_id: str, tenant_slug: str, actor: Actor
) -> SlackChannelLink:
    """Link the channel to the tenant; a channel linked elsewhere moves (its routes are cleared)."""
    team_id, channel_id = check_id(team_id, "team"), check_id(channel_id, "channel")
    tenant = get_tenant(session=session, slug=tenant_slug.strip().lower())
    link = get_link(session=session, team_id=team_id, channel_id=channel_id)
    if link is not None and link.tenant_id == tenant.id:
        return link
    changes: Changes = {"tenant": (None, tenant.slug)}
    if link is None:
        assert tenant.id is not None
        link = SlackChannelLink(team_id=team_id, channel_id=channel_id, tenant_id=tenant.id)
    else:
        previous = session.get(Tenant, link.tenant_id)
        routes = _routes(session, link)
        changes = {
            "tenant": (previous.slug if previous else None, tenant.slug),
            "routes": (sorted(route.event for route in routes), None),
        }
        for route in routes:
            session.delete(route)
        clear_inbox_routes(session, link)  # they name accounts of the old tenant
        link.tenant_id = tenant.id or 0
    session.add(link)
    record(
        session,
        actor=actor,
        action="slack.link",
        tenant=tenant.slug,
        target=_channel_target(team_id, channel_id),
        changes=changes,
    )
    session.commit()
    return link


def unlink_channel(*, session: Session, team_id: str, channel_id: str, actor: Actor) -> Tenant:
    link = get_link(session=session, team_id=team_id, channel_id=channel_id)
    if link is None:
        raise NotFound("this channel is not linked to a tenant")
    tenant = session.get(Tenant, link.tenant_id)
    routes = sorted(route.event for route in _routes(session, link))
    session.delete(link)
    record(
        session,
        actor=actor,
        action="slack.unlink",
        tenant=tenant.slug if tenant else None,
        target=_channel_target(team_id, channel_id),
        changes={"tenant": (tenant.slug if tenant else None, None), "routes": (routes, None)},
    )
    session.commit()
    assert tenant is not None
    return tenant


@dataclass
class ChannelView:
    """A linked channel as the TUI and `status` show it."""

    team_id: str
    channel_id: str
    tenant: str
    routes: list[str] = field(default_factory=list)


def list_links(*, session: Session, tenant: Tenant | None = None) -> list[ChannelView]:
    """Linked channels (of one tenant, or all) with the events each mirrors (`*` = all)."""
    query = select(SlackChannelLink, Tenant).where(SlackChannelLink.tenant_id == Tenant.id)
    if tenant is not None:
        query = query.where(SlackChannelLink.tenant_id == tenant.id)
    query = query.order_by(col(Tenant.slug), col(SlackChannelLink.channel_id))
    views = []
    for link, owner in session.exec(query).all():
        views.append(
            ChannelView(
                link.team_id, link.channel_id, owner.slug, list_routes(session=session, link=link)
            )
        )
    return views


# -- events and routes ------------------------------------------------------------------------


def short_name(event: Event) -> str:
    """What Slack users type and read: the toggle without `notify_`, else the lowercase name
    (also for a system event whose toggle has a tenant event's name: SYSTEM_MAIL_HEALTH)."""
    if event.toggle and not (event.scope == "system" and event.toggle in TENANT_TOGGLES):
        return event.toggle.removeprefix("notify_")
    return event.name.lower()


def _aliases() -> dict[str, Event]:
    aliases: dict[str, Event] = {}
    for event in EVENTS.values():
        aliases[event.name.lower()] = event
        if event.toggle:
            # a toggle name shared by both scopes stands for the tenant event (listed first)
            aliases.setdefault(event.toggle, event)
            aliases.setdefault(short_name(event), event)
    return aliases


def toggled_tenant_events() -> list[Event]:
    return [e for e in EVENTS.values() if e.scope == "tenant" and e.toggle in TENANT_TOGGLES]


def resolve_events(
    names: Sequence[str], *, valid: Sequence[Event], field: str = "event"
) -> list[Event]:
    """Names (toggle without `notify_`, toggle, or template name; any case) → events, in order.

    Anything unknown or not in `valid` is refused with the list of valid names; nothing is
    partially applied by callers, since they resolve everything first.
    """
    if not names:
        raise ValidationError(field, f"name at least one event; valid: {_valid_list(valid)}")
    aliases = _aliases()
    found: list[Event] = []
    for name in names:
        event = aliases.get(name.strip().lower())
        if event is None:
            raise ValidationError(field, f"unknown event {name!r}; valid: {_valid_list(valid)}")
        if event not in valid:
            why = (
                "is always on"
                if event.toggle is None
                else "is a system event"
                if event.scope == "system"
                else "cannot be used here"
            )
            raise ValidationError(field, f"{name} {why}; valid: {_valid_list(valid)}")
        if event not in found:
            found.append(event)
    return found


def _valid_list(valid: Sequence[Event]) -> str:
    return ", ".join(short_name(event) for event in valid)


def _routes(session: Session, link: SlackChannelLink) -> list[SlackRoute]:
    query = select(SlackRoute).where(SlackRoute.link_id == link.id).order_by(col(SlackRoute.id))
    return list(session.exec(query))


def list_routes(*, session: Session, link: SlackChannelLink) -> list[str]:
    """Event names this channel mirrors; `*` stands for every tenant event."""
    return [route.event for route in _routes(session, link)]


def routable_events(*, system_admin: bool) -> list[Event]:
    """Tenant events for everyone; system events only for system admins."""
    return [e for e in EVENTS.values() if e.scope == "tenant" or system_admin]


def _tenant_slug(session: Session, link: SlackChannelLink) -> str | None:
    tenant = session.get(Tenant, link.tenant_id)
    return tenant.slug if tenant else None


def add_routes(
    *,
    session: Session,
    link: SlackChannelLink,
    names: Sequence[str],
    actor: Actor,
    system_admin: bool = False,
) -> list[str]:
    """Mirror these events (or `all` tenant events) into the channel; returns what was added."""
    current = list_routes(session=session, link=link)
    if any(name.strip().lower() in ALL_WORDS for name in names):
        wanted = [ALL_EVENTS]
        # `*` covers every tenant event: explicit tenant routes become redundant.
        for route in _routes(session, link):
            if route.event != ALL_EVENTS and EVENTS[route.event].scope == "tenant":
                session.delete(route)
    else:
        events = resolve_events(names, valid=routable_events(system_admin=system_admin))
        covered = ALL_EVENTS in current
        wanted = [e.name for e in events if not (covered and e.scope == "tenant")]
    added = [name for name in wanted if name not in current]
    assert link.id is not None
    for name in added:
        session.add(SlackRoute(link_id=link.id, event=name))
    if added:
        record(
            session,
            actor=actor,
            action="slack.route",
            tenant=_tenant_slug(session, link),
            target=_channel_target(link.team_id, link.channel_id),
            # One field per event: is it mirrored into the channel.
            changes={name: (False, True) for name in added},
        )
    session.commit()
    return added


def remove_routes(
    *,
    session: Session,
    link: SlackChannelLink,
    names: Sequence[str],
    actor: Actor,
    system_admin: bool = False,
) -> list[str]:
    """Stop mirroring these events (or `all`); returns the event names no longer mirrored."""
    routes = _routes(session, link)
    current = [route.event for route in routes]
    removed: list[str]
    if any(name.strip().lower() in ALL_WORDS for name in names):
        removed = current
        for route in routes:
            session.delete(route)
    else:
        events = resolve_events(names, valid=routable_events(system_admin=system_admin))
        drop = {e.name for e in events}
        removed = []
        if ALL_EVENTS in current and any(e.scope == "tenant" for e in events):
            # `*` minus some events: spell out the tenant events that stay.
            keep = [e.name for e in EVENTS.values() if e.scope == "tenant" and e.name not in drop]
            for route in routes:
                if route.event == ALL_EVENTS:
                    session.delete(route)
            assert link.id is not None
            for name in keep:
                if name not in current:
                    session.add(SlackRoute(link_id=link.id, event=name))
            removed += [name for name in drop if EVENTS[name].scope == "tenant"]
        for route in routes:
            if route.event in drop:
                session.delete(route)
                if route.event not in removed:
                    removed.append(route.event)
    if removed:
        record(
            session,
            actor=actor,
            action="slack.unroute",
            tenant=_tenant_slug(session, link),
            target=_channel_target(link.team_id, link.channel_id),
            changes={name: (True, False) for name in removed},
        )
    session.commit()
    return removed


def slack_targets(session: Session, tenant: Tenant | None, event_name: str) -> list[str]:
    """Channel ids that mirror `event_name`: routes in the tenant's channels (every channel
    linked to the tenant for an event that goes to all of them: health notices); for a system
    event (tenant None), the channels where a system admin routed it."""
    if tenant is not None and EVENTS[event_name].every_linked_channel:
        linked = select(SlackChannelLink.channel_id).where(SlackChannelLink.tenant_id == tenant.id)
        return list(dict.fromkeys(session.exec(linked.order_by(col(SlackChannelLink.id))).all()))
    query = select(SlackChannelLink.channel_id).join(
        SlackRoute, col(SlackRoute.link_id) == col(SlackChannelLink.id)
    )
    if tenant is None:
        query = query.where(SlackRoute.event == event_name)
    else:
        query = query.where(
            SlackChannelLink.tenant_id == tenant.id,
            col(SlackRoute.event).in_([event_name, ALL_EVENTS]),
        )
    targets: list[str] = []
    for channel_id in session.exec(query.order_by(col(SlackChannelLink.id))).all():
        if channel_id not in targets:
            targets.append(channel_id)
    return targets


# -- settings changes in Slack words ----------------------------------------------------------


def set_events(
    *,
    session: Session,
    box: SecretBox,
    tenant: Tenant,
    names: Sequence[str],
    enabled: bool,
    actor: Actor,
) -> list[str]:
    """Enable or disable tenant events by name; returns the short names that changed."""
    events = resolve_events(names, valid=toggled_tenant_events())
    before = get_notification_settings(session=session, tenant=tenant).toggles
    changes = {e.toggle: enabled for e in events if e.toggle}
    update_notification_settings(
        session=session,
        box=box,
        tenant=tenant,
        changes=NotificationSettingsUpdate.parse(changes, system=False),
        actor=actor,
    )
    return [short_name(e) for e in events if e.toggle and before[e.toggle] != enabled]


def change_recipients(
    *,
    session: Session,
    box: SecretBox,
    tenant: Tenant,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
    actor: Actor,
) -> list[str]:
    """Add and remove addresses with the rules of every front end; returns the new list."""
    from core import validation as v

    current = get_notification_settings(session=session, tenant=tenant).recipients
    drop = {v.email_address("recipients", address).lower() for address in remove}
    missing = sorted(drop - {a.lower() for a in current})
    if missing:
        raise ValidationError("recipients", f"{', '.join(missing)} is not a recipient")
    wanted = [a for a in current if a.lower() not in drop] + list(add)
    settings = update_notification_settings(
        session=session,
        box=box,
        tenant=tenant,
        # one string, as the CLI gives it: a word may itself list addresses ("a@x.org,b@x.org")
        changes=NotificationSettingsUpdate.parse({"recipients": ",".join(wanted)}, system=False),
        actor=actor,
    )
    return settings.recipients
