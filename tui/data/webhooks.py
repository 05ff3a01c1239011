"""Webhook targets of the system or of a tenant: list, add, remove, test (never the secret)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from tui.runtime import actor, check, owner

if TYPE_CHECKING:
    from core.context import Context
    from core.models.tenancy import Tenant
    from core.models.webhooks import WebhookRead, WebhookTestResult


def load(ctx: Context, slug: str | None) -> list[WebhookRead]:
    from core.services.webhooks import list_webhooks

    with ctx.session() as session:
        return list_webhooks(session=session, tenant=owner(session, slug))


def add(
    ctx: Context, slug: str | None, url: str, secret: str | None, events: list[str]
) -> WebhookRead:
    from core.models.webhooks import WebhookCreate
    from core.services.webhooks import add_webhook

    data = WebhookCreate(url=url, secret=secret or None, events=events)
    with ctx.session() as session:
        return add_webhook(
            session=session,
            box=ctx.box,
            tenant=owner(session, slug, write=True),
            data=data,
            actor=actor(),
        )


def remove(ctx: Context, slug: str | None, webhook_id: int) -> WebhookRead:
    from core.services.webhooks import remove_webhook

    with ctx.session() as session:
        return remove_webhook(
            session=session,
            tenant=owner(session, slug, write=True),
            webhook_id=webhook_id,
            actor=actor(),
        )


def _owner(ctx: Context, slug: str | None) -> Tenant | None:
    with ctx.session() as session:
        return owner(session, slug, write=True)


async def test(ctx: Context, slug: str | None, webhook_id: int) -> WebhookTestResult:
    """POST the sample payload of the target's first event to it, signed; nothing is stored."""
    from core.services.webhooks import test_webhook

    tenant = await asyncio.to_thread(_owner, ctx, slug)
    return await test_webhook(ctx=ctx, tenant=tenant, webhook_id=webhook_id)


def scope_events(slug: str | None) -> list[str]:
    """The events a webhook of this owner may receive, in catalogue order."""
    from core.catalog import EVENTS
    from core.vocabulary import EventScope

    scope = EventScope.SYSTEM if slug is None else EventScope.TENANT
    return [name for name, spec in EVENTS.items() if spec.scope == scope]


def url_error(url: str) -> str | None:
    """The rule a webhook URL being typed breaks, if any (the service's own rule)."""
    from core.services.webhooks import clean_url

    return check(clean_url, url)
