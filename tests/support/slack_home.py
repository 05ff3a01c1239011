"""Rows the App Home shows, for tests/slackbot/test_home.py: a failed delivery made the way
`/mailbell retry`'s tests make one (emitted, then marked failed), and many tenants at once."""

from __future__ import annotations

from core.context import Context
from core.models.delivery import Delivery
from core.services.audit import Actor
from core.services.tenants import get_tenant
from tests.support.factories import emit_event, make_tenant

SETUP = Actor(name="setup", source="cli")


def failed_delivery(ctx: Context, slug: str, error: str = "[data] 554 5.7.1 rejected") -> int:
    """A VOICEMAIL_RECEIVED email of tenant `slug` that failed for good; its id."""
    with ctx.session() as session:
        tenant = get_tenant(session=session, slug=slug)
        [emitted] = emit_event(session, ctx.box, tenant, "VOICEMAIL_RECEIVED").deliveries
        delivery = session.get(Delivery, emitted.id)
        assert delivery is not None
        delivery.status, delivery.last_error = "failed", error
        session.add(delivery)
        session.commit()
        return emitted.id


def tenant_id(ctx: Context, slug: str) -> int:
    with ctx.session() as session:
        return get_tenant(session=session, slug=slug).id or 0


def more_tenants(ctx: Context, count: int, prefix: str = "zz") -> None:
    """`count` more tenants (slugs `zz00`, `zz01`, … sort after acme and globex)."""
    with ctx.session() as session:
        for n in range(count):
            make_tenant(session, slug=f"{prefix}{n:02d}", actor=SETUP)
