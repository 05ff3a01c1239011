"""Inbound mirroring: new messages of an email account posted into linked Slack channels.

`/mailbell route inbox ACCOUNT [from:PATTERN]` adds an inbox route: the channel mirrors the
account's newly synced messages whose sender address matches PATTERN (a case-insensitive
shell-style glob, `*@carrier.example`; none means every sender). The account must belong to
the channel's tenant. Changes are audited like event routes (`slack.inbox_route`,
`slack.inbox_unroute`, the channel as target, the account id as field).

`queue_inbox_mirrors` is called by the IMAP sync (core.services.inbound) in the transaction
that stores new messages: each matching message becomes one `INBOUND_EMAIL` event record and one
Slack delivery per channel, in the same outbox as email, so a crash loses nothing and a message
stored once is mirrored once. Quarantined messages (no usable header) are not mirrored.
"""

from __future__ import annotations

import fnmatch
import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from sqlalchemy import bindparam, delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.channels.slack.inbox_blocks import inbox_message
from core.crypto import SecretBox
from core.errors import NotFound, ValidationError
from core.models._common import utcnow
from core.models.delivery import Delivery, EventRecord
from core.models.mail import EmailAccount
from core.models.slack import FROM_PATTERN_MAX, SlackChannelLink, SlackInboxRoute
from core.models.tenancy import Tenant
from core.pipeline.contents import insert_contents
from core.services.audit import Actor, record
from core.vocabulary import DeliveryStatus

INBOUND_EVENT = "INBOUND_EMAIL"
EVERY_SENDER = ""
PATTERN_FIELD = "from"
ACCOUNT_FIELD = "account"


@dataclass(frozen=True)
class InboxRouteView:
    """An inbox route as the slash commands, `status` and the TUI show it."""

    id: int
    team_id: str
    channel_id: str
    tenant: str
    account_id: int
    account: str  # the account's address
    from_pattern: str  # "" = every sender

    @property
    def senders(self) -> str:
        return f"from {self.from_pattern}" if self.from_pattern else "every sender"


# -- rules ------------------------------------------------------------------------------------


def clean_from_pattern(value: str | None) -> str:
    """A sender pattern as stored: trimmed, lowercase; None (no `from:`) and `*` mean every
    sender (""). Empty, over 200 characters, or with a line break or control character: refused."""
    if value is None:
        return EVERY_SENDER
    text = value.strip()
    if "\r" in text or "\n" in text:
        raise ValidationError(PATTERN_FIELD, "must be a single line (CR and LF are not allowed)")
    if not text:
        raise ValidationError(
            PATTERN_FIELD,
            "is empty: give a sender pattern such as from:*@carrier.example, or leave from: out "
            "to mirror every sender",
        )
    if len(text) > FROM_PATTERN_MAX:
        raise ValidationError(
            PATTERN_FIELD,
            f"is {len(text)} characters long; at most {FROM_PATTERN_MAX} are allowed",
        )
    if any(ord(char) < 32 or ord(char) == 127 for char in text):
        raise ValidationError(PATTERN_FIELD, "must not contain control characters")
    text = text.lower()
    return EVERY_SENDER if text == "*" else text


def sender_address(from_header: str | None) -> str:
    """The bare, lowercase address of a From header (`Ann <Ann@X.org>` → `ann@x.org`)."""
    return parseaddr(from_header or "")[1].strip().lower()


def sender_matches(pattern: str, from_header: str | None) -> bool:
    """Whether a message from `from_header` matches a stored (lowercase) pattern."""
    if not pattern:
        return True
    address = sender_address(from_header)
    return bool(address) and fnmatch.fnmatchcase(address, pattern)


def find_account(*, session: Session, tenant: Tenant, ref: str) -> EmailAccount:
    """The tenant's email account named by its id or its address (any case); another tenant's
    account is not found, and the error lists the tenant's own accounts."""
    word = ref.strip()
    query = select(EmailAccount).where(EmailAccount.tenant_id == tenant.id)
    if word.isdigit():
        query = query.where(EmailAccount.id == int(word))
    else:
        query = query.where(func.lower(EmailAccount.email) == word.lower())
    account = session.exec(query).first()
    if account is not None:
        return account
    known = session.exec(
        select(EmailAccount.email)
        .where(EmailAccount.tenant_id == tenant.id)
        .order_by(col(EmailAccount.email))
    ).all()
    shown = ", ".join(known[:20]) + (" …" if len(known) > 20 else "")
    hint = (
        f"its accounts: {shown}"
        if known
        else f"it has none yet (`mailbell accounts add --tenant {tenant.slug} …`)"
    )
    raise ValidationError(
        ACCOUNT_FIELD, f"{word[:100]!r} is not an email account of tenant {tenant.slug}; {hint}"
    )


# -- routes -----------------------------------------------------------------------------------


def _target(link: SlackChannelLink) -> str:
    return f"slack:{link.team_id}/{link.channel_id}"


def _view(
    route: SlackInboxRoute, link: SlackChannelLink, tenant: str, account: str
) -> InboxRouteView:
    assert route.id is not None
    return InboxRouteView(
        id=route.id,
        team_id=link.team_id,
        channel_id=link.channel_id,
        tenant=tenant,
        account_id=route.account_id,
        account=account,
        from_pattern=route.from_pattern,
    )


def _owner(session: Session, link: SlackChannelLink) -> Tenant:
    tenant = session.get(Tenant, link.tenant_id)
    assert tenant is not None  # a link's tenant is a foreign key (ON DELETE CASCADE)
    return tenant


def _routes_of(session: Session, link: SlackChannelLink, account: EmailAccount) -> Any:
    return select(SlackInboxRoute).where(
        SlackInboxRoute.link_id == link.id, SlackInboxRoute.account_id == account.id
    )


def add_inbox_route(
    *,
    session: Session,
    link: SlackChannelLink,
    account_ref: str,
    from_pattern: str | None,
    actor: Actor,
) -> tuple[InboxRouteView, bool]:
    """Mirror new mail of the account (an id or address of the channel's tenant) from matching
    senders into the channel. Returns the route and whether it is new (False: it existed)."""
    tenant = _owner(session, link)
    account = find_account(session=session, tenant=tenant, ref=account_ref)
    pattern = clean_from_pattern(from_pattern)
    query = _routes_of(session, link, account).where(SlackInboxRoute.from_pattern == pattern)
    existing = session.exec(query).first()
    if existing is not None:
        return _view(existing, link, tenant.slug, account.email), False
    assert link.id is not None and account.id is not None
    route = SlackInboxRoute(link_id=link.id, account_id=account.id, from_pattern=pattern)
    session.add(route)
    record(
        session,
        actor=actor,
        action="slack.inbox_route",
        tenant=tenant.slug,
        target=_target(link),
        changes={
            f"email_account:{account.id}": (None, account.email),
            **({"from_pattern": (None, pattern)} if pattern else {}),
        },
    )
    try:
        session.commit()
    except IntegrityError:  # the same route added at the same moment elsewhere
        session.rollback()
        existing = session.exec(query).one()
        return _view(existing, link, tenant.slug, account.email), False
    return _view(route, link, tenant.slug, account.email), True


def remove_inbox_routes(
    *,
    session: Session,
    link: SlackChannelLink,
    account_ref: str,
    from_pattern: str | None,
    actor: Actor,
) -> list[InboxRouteView]:
    """Stop mirroring: the route with this pattern, or, without `from:`, every inbox route of
    the account in this channel. Returns what was removed (empty: nothing matched)."""
    tenant = _owner(session, link)
    account = find_account(session=session, tenant=tenant, ref=account_ref)
    query = _routes_of(session, link, account)
    if from_pattern is not None:
        query = query.where(SlackInboxRoute.from_pattern == clean_from_pattern(from_pattern))
    routes = list(session.exec(query.order_by(col(SlackInboxRoute.id))))
    removed = [_view(route, link, tenant.slug, account.email) for route in routes]
    for route in routes:
        session.delete(route)
    if routes:
        patterns = [route.from_pattern for route in routes if route.from_pattern]
        record(
            session,
            actor=actor,
            action="slack.inbox_unroute",
            tenant=tenant.slug,
            target=_target(link),
            changes={
                f"email_account:{account.id}": (account.email, None),
                **({"from_pattern": (", ".join(patterns), None)} if patterns else {}),
            },
        )
    session.commit()
    return removed


def remove_inbox_route_by_id(*, session: Session, route_id: int, actor: Actor) -> InboxRouteView:
    """Remove one inbox route by its id (the TUI)."""
    found = session.exec(
        select(SlackInboxRoute, SlackChannelLink, Tenant, EmailAccount).where(
            SlackInboxRoute.id == route_id,
            SlackInboxRoute.link_id == SlackChannelLink.id,
            SlackChannelLink.tenant_id == Tenant.id,
            SlackInboxRoute.account_id == EmailAccount.id,
        )
    ).first()
    if found is None:
        raise NotFound(f"inbox route {route_id} does not exist any more")
    route, link, tenant, account = found
    view = _view(route, link, tenant.slug, account.email)
    session.delete(route)
    record(
        session,
        actor=actor,
        action="slack.inbox_unroute",
        tenant=tenant.slug,
        target=_target(link),
        changes={
            f"email_account:{account.id}": (account.email, None),
            **({"from_pattern": (route.from_pattern, None)} if route.from_pattern else {}),
        },
    )
    session.commit()
    return view


def clear_inbox_routes(session: Session, link: SlackChannelLink) -> None:
    """Drop the channel's inbox routes (its link moves to another tenant); the caller commits."""
    session.execute(delete(SlackInboxRoute).where(col(SlackInboxRoute.link_id) == link.id))


def list_inbox_routes(
    *, session: Session, tenant: Tenant | None = None, link_id: int | None = None
) -> list[InboxRouteView]:
    """Inbox routes of one channel, of one tenant's channels, or all; by channel and account."""
    query = select(SlackInboxRoute, SlackChannelLink, Tenant, EmailAccount).where(
        SlackInboxRoute.link_id == SlackChannelLink.id,
        SlackChannelLink.tenant_id == Tenant.id,
        SlackInboxRoute.account_id == EmailAccount.id,
    )
    if tenant is not None:
        query = query.where(SlackChannelLink.tenant_id == tenant.id)
    if link_id is not None:
        query = query.where(SlackInboxRoute.link_id == link_id)
    query = query.order_by(
        col(Tenant.slug),
        col(SlackChannelLink.channel_id),
        col(EmailAccount.email),
        col(SlackInboxRoute.from_pattern),
    )
    return [
        _view(route, link, owner.slug, account.email)
        for route, link, owner, account in session.exec(query)
    ]


@functools.cache
def _channel_routes_statement() -> Any:
    route = SlackInboxRoute.__table__  # type: ignore[attr-defined]
    account = EmailAccount.__table__  # type: ignore[attr-defined]
    return (
        select(account.c.email, route.c.from_pattern)
        .select_from(route.join(account, account.c.id == route.c.account_id))
        .where(route.c.link_id == bindparam("link_id"))
        .order_by(account.c.email, route.c.from_pattern)
    )


def channel_inbox_routes(session: Session, link_id: int) -> list[tuple[str, str]]:
    """(account address, pattern) of one channel, in one prebuilt statement (`status`)."""
    rows = session.connection().execute(_channel_routes_statement(), {"link_id": link_id})
    return [(str(email), str(pattern)) for email, pattern in rows]


# -- mirroring --------------------------------------------------------------------------------


def _get(message: Any, name: str) -> Any:
    return message.get(name) if isinstance(message, Mapping) else getattr(message, name, None)


def _payload(account: EmailAccount, message: Any) -> dict[str, Any]:
    """What the event log shows: sender, subject, date and account; never the body."""
    date = _get(message, "date")
    return {
        "account": account.email,
        "from": _get(message, "from_addr"),
        "subject": _get(message, "subject"),
        "date": date.isoformat() if date is not None else None,
    }


def queue_inbox_mirrors(
    session: Session,
    box: SecretBox,
    account: EmailAccount,
    messages: Sequence[Mapping[str, Any] | Any],
) -> list[Delivery]:
    """Slack deliveries for newly stored messages of `account` that its inbox routes match.

    `messages` are the new rows (the column mappings the sync inserts, or `InboundMessage`s).
    Written in the caller's transaction; the caller commits. One indexed query when the account
    has no route.
    """
    routes = session.exec(
        select(SlackInboxRoute.from_pattern, SlackChannelLink.channel_id)
        .where(
            SlackInboxRoute.account_id == account.id,
            SlackInboxRoute.link_id == SlackChannelLink.id,
            # A route can only name an account of its channel's tenant; checked here as well.
            SlackChannelLink.tenant_id == account.tenant_id,
        )
        .order_by(col(SlackInboxRoute.id))
    ).all()
    if not routes or not messages:
        return []
    plans: list[tuple[Any, list[str]]] = []
    for message in messages:
        if _get(message, "quarantined"):
            continue
        sender = _get(message, "from_addr")
        channels = list(
            dict.fromkeys(channel for pattern, channel in routes if sender_matches(pattern, sender))
        )
        if channels:
            plans.append((message, channels))
    if not plans:
        return []
    tenant = session.get(Tenant, account.tenant_id)
    slug = tenant.slug if tenant is not None else ""
    now = utcnow()
    events = [
        EventRecord(
            tenant_id=account.tenant_id,
            name=INBOUND_EVENT,
            payload=_payload(account, message),
            created_at=now,
        )
        for message, _ in plans
    ]
    session.add_all(events)
    session.flush()
    deliveries: list[tuple[Delivery, Any]] = []
    for event, (message, channels) in zip(events, plans, strict=True):
        for channel_id in channels:
            delivery = Delivery(
                event_id=event.id or 0,
                tenant_id=account.tenant_id,
                event=INBOUND_EVENT,
                channel="slack",
                target=channel_id,
                status=DeliveryStatus.QUEUED,
                pending=[channel_id],
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
            session.add(delivery)
            deliveries.append((delivery, message))
    session.flush()  # the ids go into the messages' context line
    contents = []
    for delivery, message in deliveries:
        assert delivery.id is not None
        content = inbox_message(
            account=account.email,
            sender=_get(message, "from_addr"),
            subject=_get(message, "subject"),
            date=_get(message, "date"),
            snippet=_get(message, "snippet") or "",
            attachments=list(_get(message, "attachments") or []),
            tenant=slug,
            delivery_id=delivery.id,
            at=now,
        )
        contents.append((delivery.id, box.encrypt_bytes(json.dumps(content).encode())))
    insert_contents(session.connection(), contents)  # new deliveries: one INSERT for all
    return [delivery for delivery, _ in deliveries]
