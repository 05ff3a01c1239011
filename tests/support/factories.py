"""Test data made through the real services, shared by every test module.

- `make_tenant`: a tenant ("acme" unless told).
- `make_mail_server`: a server of a tenant (or of the system); without authentication and with a
  usable From unless told, pointed at an `SmtpTestServer` when one is given.
- `configure_tenant` / `make_configured_tenant`: a tenant with a default server (on a given SMTP
  sink, or on the fields given), its recipients and the toggles named on.
- `emit_event` / `emit_events`: events through the real emit path (the sample payload unless
  data is given).
- `make_webhook`: a webhook target of a tenant or of the system.
- `acme` (fixture): tenant "acme", bare, made in the test's `session`; `acme_with_server`
  (fixture): the same with one server, "Main", its default; `globex` (fixture): a second bare
  tenant, "globex", for tests that need another owner.

Everything goes through the services, so their rules hold: a value they refuse fails here too.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pytest

from core.services.audit import Actor
from core.vocabulary import AuthMode, EventName

# Every test session loads this module as a plugin (tests/conftest.py), so the models, services
# and pipeline are imported where they are used: a module that does not import yet fails only
# the tests that use it, not the collection of every test.
if TYPE_CHECKING:
    from sqlmodel import Session

    from core.context import Context
    from core.crypto import SecretBox
    from core.models.mail import MailServerRead
    from core.models.tenancy import NotificationSettingsRead, Tenant
    from core.models.webhooks import WebhookRead
    from core.pipeline.emit_write import EmitResult
    from tests.support.smtp_servers import SmtpTestServer

__all__ = [
    "ACME_SERVER",
    "TESTER",
    "acme",
    "acme_with_server",
    "configure_tenant",
    "emit_event",
    "emit_events",
    "globex",
    "make_configured_tenant",
    "make_mail_server",
    "make_tenant",
    "make_webhook",
]

# The same person as the `actor` fixture, for code that runs outside a test's fixtures.
TESTER = Actor(name="tester", source="cli")
EVENT = EventName.QUEUE_CALL_LOST
# The default server `settings set server=smtp.acme.org username=alerts@acme.org` makes: no
# From of its own (the username is the sender), authentication on; nothing listens there.
ACME_SERVER: dict[str, Any] = {
    "name": "default",
    "host": "smtp.acme.org",
    "auth": AuthMode.AUTO,
    "username": "alerts@acme.org",
    "mail_from": None,
}

_numbers = itertools.count(1)


def make_tenant(
    session: Session, *, slug: str = "acme", name: str | None = None, actor: Actor = TESTER
) -> Tenant:
    """Create (and commit) tenant `slug`."""
    from core.services.tenants import create_tenant

    return create_tenant(session=session, slug=slug, name=name, actor=actor)


def make_mail_server(
    session: Session,
    box: SecretBox,
    tenant: Tenant | None,
    *,
    smtp: SmtpTestServer | None = None,
    actor: Actor = TESTER,
    **fields: Any,
) -> MailServerRead:
    """Create (and commit) a server; the owner's first is its default.

    Without `smtp` it has no authentication and a usable From on a host nothing listens on
    (for tests that never send through it); with `smtp` it points at that server, with its
    security, user and CA. `fields` override either.
    """
    from core.models.mail import MailServerCreate
    from core.services.mail_servers import create_mail_server

    data: dict[str, Any] = {
        "name": f"out {next(_numbers)}",
        "host": "smtp.example.org",
        "auth": AuthMode.DISABLE,
        "mail_from": "alerts@example.org",
    }
    if smtp is not None:
        data.update(smtp.server_fields())
    data.update(fields)
    # Fields set to None are left out: the model's "not given" (the column's default).
    given = {name: value for name, value in data.items() if value is not None}
    return create_mail_server(
        session=session,
        box=box,
        tenant=tenant,
        data=MailServerCreate.from_fields(given),
        actor=actor,
    )


def configure_tenant(
    session: Session,
    box: SecretBox,
    tenant: Tenant,
    *,
    smtp: SmtpTestServer | None = None,
    server: Mapping[str, Any] | None = None,
    recipients: Iterable[str] = ("ops@acme.org",),
    toggles: Iterable[str] = ("notify_queue_call_lost",),
    actor: Actor = TESTER,
) -> Tenant:
    """Give `tenant` a default server, recipients and the named toggles on (all committed).

    The server is on `smtp` when given (`server` overrides its fields, e.g. a name or a From),
    else it is made of `server`'s fields alone; no server at all when neither is given.
    """
    from core.models.tenancy import NotificationSettingsUpdate
    from core.services.notifications import update_notification_settings

    if smtp is not None or server is not None:
        make_mail_server(session, box, tenant, smtp=smtp, actor=actor, **dict(server or {}))
    fields: dict[str, Any] = {"recipients": list(recipients), **dict.fromkeys(toggles, True)}
    changes = NotificationSettingsUpdate.parse(fields, system=False)
    update_notification_settings(
        session=session, box=box, tenant=tenant, changes=changes, actor=actor
    )
    return tenant


def make_configured_tenant(
    session: Session,
    box: SecretBox,
    *,
    slug: str = "acme",
    smtp: SmtpTestServer | None = None,
    server: Mapping[str, Any] | None = None,
    recipients: Iterable[str] | None = None,
    toggles: Iterable[str] = ("notify_queue_call_lost",),
    actor: Actor = TESTER,
) -> Tenant:
    """A new tenant `slug` configured by `configure_tenant` (recipients: ops@SLUG.org)."""
    tenant = make_tenant(session, slug=slug, actor=actor)
    return configure_tenant(
        session,
        box,
        tenant,
        smtp=smtp,
        server=server,
        recipients=recipients if recipients is not None else (f"ops@{slug}.org",),
        toggles=toggles,
        actor=actor,
    )


def emit_event(
    session: Session,
    box: SecretBox,
    tenant: Tenant | None,
    event: str = EVENT,
    data: Mapping[str, Any] | None = None,
    key: str | None = None,
) -> EmitResult:
    """Emit `event` (its catalogue sample unless `data`) for `tenant` (None: the system)."""
    from core.catalog import sample
    from core.pipeline.emit import emit

    return emit(
        session=session,
        box=box,
        tenant=tenant,
        event=event,
        data=sample(event) if data is None else data,
        key=key,
    )


def emit_events(
    session: Session, box: SecretBox, tenant: Tenant | None, count: int, event: str = EVENT
) -> list[int]:
    """Emit `event` `count` times; the ids of every delivery made, oldest first."""
    ids: list[int] = []
    for _ in range(count):
        ids += [d.id for d in emit_event(session, box, tenant, event).deliveries]
    return ids


def make_webhook(
    session: Session,
    box: SecretBox,
    tenant: Tenant | None,
    url: str,
    *,
    secret: str | None = None,
    events: Iterable[str] = (),
    actor: Actor = TESTER,
) -> WebhookRead:
    """Add (and commit) a webhook target of `tenant` (None: the system) posting to `url`,
    signed with `secret` when given; no `events`: every event of the owner's scope."""
    from core.models.webhooks import WebhookCreate
    from core.services.webhooks import add_webhook

    data = WebhookCreate(url=url, secret=secret, events=list(events))
    return add_webhook(session=session, box=box, tenant=tenant, data=data, actor=actor)


@pytest.fixture
def acme(session: Session, actor: Actor) -> Tenant:
    """Tenant "acme", bare (no server, no recipients), made in the test's `session`."""
    return make_tenant(session, actor=actor)


@pytest.fixture
def globex(session: Session, actor: Actor) -> Tenant:
    """Tenant "globex", bare, made in the test's `session`: another owner than acme."""
    return make_tenant(session, slug="globex", actor=actor)


@pytest.fixture
def acme_with_server(session: Session, ctx: Context, actor: Actor) -> MailServerRead:
    """Tenant "acme" with one server, its default: "Main" on smtp.acme.org, no
    authentication, From alerts@acme.org (id 1 in the test's fresh database)."""
    tenant = make_tenant(session, actor=actor)
    return make_mail_server(
        session,
        ctx.box,
        tenant,
        actor=actor,
        name="Main",
        host="smtp.acme.org",
        mail_from="alerts@acme.org",
    )


def read_settings(ctx: Context, slug: str | None) -> NotificationSettingsRead:
    """The settings of tenant `slug` (None: the system's), as the service reads them."""
    from core.services.notifications import get_notification_settings
    from core.services.tenants import get_tenant

    with ctx.session() as session:
        tenant = get_tenant(session=session, slug=slug) if slug else None
        return get_notification_settings(session=session, tenant=tenant)


def set_settings(ctx: Context, actor: Actor, slug: str | None, **changes: Any) -> None:
    """Change the settings of tenant `slug` (None: the system's) through the service."""
    from core.models.tenancy import NotificationSettingsUpdate
    from core.services.notifications import update_notification_settings
    from core.services.tenants import get_tenant

    with ctx.session() as session:
        update_notification_settings(
            session=session,
            box=ctx.box,
            tenant=get_tenant(session=session, slug=slug) if slug else None,
            changes=NotificationSettingsUpdate.parse(changes, system=slug is None),
            actor=actor,
        )
