"""Webhook targets of the system (tenant None) or of one tenant: add, list, remove, test.

Rules: the URL is http(s), at most WEBHOOK_URL_MAX_LENGTH characters, without credentials
(they would be shown wherever the URL is); the secret is write-only, stored encrypted, at most
WEBHOOK_SECRET_MAX_LENGTH characters; events are names of the owner's scope (none: all of
them); at most WEBHOOKS_PER_OWNER_MAX targets per owner. A tenant-scoped actor's URL must point
at a host MAILBELL_TENANT_SMTP_NETWORKS allows (core/netfence.py), checked now and again at
every connection (the row is marked `fenced`).

Each change commits with its audit entry (field names only, never the secret) and moves the
configuration generation (core/generation.py), so emit routes to the new set at once.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlmodel import Session, col, func, select

from core import netfence
from core.catalog import EVENTS, get_event
from core.context import Context
from core.crypto import SecretBox
from core.errors import DeliveryError, NotFound, ValidationError
from core.models._common import owned_by, owner_label, utcnow
from core.models.tenancy import Tenant
from core.models.webhooks import WebhookCreate, WebhookRead, WebhookTarget, WebhookTestResult
from core.services.audit import SECRET_CHANGE, Actor, record
from core.vocabulary import (
    ROW_ID_MAX,
    WEBHOOK_SECRET_MAX_LENGTH,
    WEBHOOK_URL_MAX_LENGTH,
    WEBHOOKS_PER_OWNER_MAX,
    EventScope,
)


def _owner_query(tenant: Tenant | None) -> Any:
    return select(WebhookTarget).where(owned_by(WebhookTarget.tenant_id, tenant))


def _read(row: WebhookTarget, tenant: Tenant | None) -> WebhookRead:
    assert row.id is not None
    return WebhookRead(
        id=row.id,
        tenant=tenant.slug if tenant is not None else None,
        url=row.url,
        events=list(row.events),
        has_secret=bool(row.secret_enc),
        created_at=row.created_at,
    )


def clean_url(value: str) -> str:
    url = value.strip() if isinstance(value, str) else ""
    if not url:
        raise ValidationError("url", "is required: the http(s) URL that receives the POSTs")
    if len(url) > WEBHOOK_URL_MAX_LENGTH:
        raise ValidationError("url", f"must be at most {WEBHOOK_URL_MAX_LENGTH} characters")
    if any(char.isspace() or ord(char) < 32 or ord(char) == 127 for char in url):
        raise ValidationError("url", "must not contain spaces or control characters")
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        raise ValidationError("url", "is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValidationError("url", "must start with http:// or https://")
    if not parts.hostname:
        raise ValidationError("url", "must name a host (http(s)://HOST/…)")
    if parts.username is not None or parts.password is not None:
        raise ValidationError(
            "url", "must not carry credentials (user:password@): use the shared secret instead"
        )
    return url


def clean_secret(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if len(value) > WEBHOOK_SECRET_MAX_LENGTH:
        raise ValidationError("secret", f"must be at most {WEBHOOK_SECRET_MAX_LENGTH} characters")
    return value


def clean_events(names: list[str], tenant: Tenant | None) -> list[str]:
    """Known events of the owner's scope, upper-case, each once; [] means every one."""
    scope = EventScope.SYSTEM if tenant is None else EventScope.TENANT
    cleaned: list[str] = []
    for name in names:
        event = get_event(name, field="events")
        if event.scope != scope:
            valid = ", ".join(n for n, e in EVENTS.items() if e.scope == scope)
            raise ValidationError(
                "events",
                f"{event.name} is a {event.scope} event; {owner_label(tenant)} can route: {valid}",
            )
        if event.name not in cleaned:
            cleaned.append(event.name)
    return cleaned


def fence_url(url: str) -> None:
    """A tenant-scoped actor's URL: every address of its host allowed by the fence."""
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    fence = netfence.current_fence()
    if fence.allow_all:
        return
    try:
        addresses = netfence.resolve_blocking(host)
    except netfence.ResolveFailed:
        raise ValidationError(
            "url",
            f"{host!r} does not resolve (no address within {netfence.RESOLVE_TIMEOUT_S:g} s): a "
            "tenant's webhook must name a host whose addresses can be checked",
        ) from None
    if not addresses or not all(fence.allows(address) for address in addresses):
        raise ValidationError(
            "url",
            f"{host!r} is not allowed for a tenant's webhook: its addresses must be "
            f"{fence.rule} ({netfence.ENVIRONMENT_VARIABLE})",
        )


def add_webhook(
    *, session: Session, box: SecretBox, tenant: Tenant | None, data: WebhookCreate, actor: Actor
) -> WebhookRead:
    url = clean_url(data.url)
    secret = clean_secret(data.secret)
    events = clean_events(list(data.events), tenant)
    count = session.exec(select(func.count()).select_from(_owner_query(tenant).subquery())).one()
    if count >= WEBHOOKS_PER_OWNER_MAX:
        raise ValidationError(
            "url",
            f"{owner_label(tenant)} has {count} webhooks, the most allowed "
            f"({WEBHOOKS_PER_OWNER_MAX}): remove one first",
        )
    if actor.tenant_scoped:
        fence_url(url)
    row = WebhookTarget(
        tenant_id=tenant.id if tenant is not None else None,
        url=url,
        secret_enc=box.encrypt(secret) if secret else None,
        events=events,
        fenced=actor.tenant_scoped,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor=actor,
        action="webhook.create",
        tenant=tenant.slug if tenant is not None else None,
        target=f"webhook:{row.id}",
        changes={
            "url": (None, url),
            "events": (None, events),
            **({"secret": SECRET_CHANGE} if secret else {}),
        },
    )
    session.commit()
    return _read(row, tenant)


def list_webhooks(*, session: Session, tenant: Tenant | None) -> list[WebhookRead]:
    rows = session.exec(_owner_query(tenant).order_by(col(WebhookTarget.id))).all()
    return [_read(row, tenant) for row in rows]


def names_a_webhook(webhook_id: int) -> bool:
    """Within the id column's range (a larger number names no row, and overflows the driver)."""
    return 1 <= webhook_id <= ROW_ID_MAX


def _get(session: Session, tenant: Tenant | None, webhook_id: int) -> WebhookTarget:
    if not names_a_webhook(webhook_id):
        raise NotFound(f"webhook {webhook_id} does not exist for {owner_label(tenant)}")
    row = session.exec(_owner_query(tenant).where(WebhookTarget.id == webhook_id)).first()
    if row is None:
        raise NotFound(f"webhook {webhook_id} does not exist for {owner_label(tenant)}")
    return row


def remove_webhook(
    *, session: Session, tenant: Tenant | None, webhook_id: int, actor: Actor
) -> WebhookRead:
    row = _get(session, tenant, webhook_id)
    removed = _read(row, tenant)
    session.delete(row)
    record(
        session,
        actor=actor,
        action="webhook.delete",
        tenant=tenant.slug if tenant is not None else None,
        target=f"webhook:{webhook_id}",
        changes={"url": (removed.url, None), "events": (removed.events, None)},
    )
    session.commit()
    return removed


async def test_webhook(
    *, ctx: Context, tenant: Tenant | None, webhook_id: int, event: str | None = None
) -> WebhookTestResult:
    """POST the sample payload of `event` (default: the target's first event, or the first of
    the owner's scope), signed like a delivery, with `delivery_id` null. Nothing is stored."""
    from core.channels.webhook.body import webhook_body
    from core.channels.webhook.http import new_session, post

    def load() -> tuple[str, bool, str | None, list[str]]:
        with ctx.session() as session:
            row = _get(session, tenant, webhook_id)
            secret = ctx.box.decrypt(row.secret_enc) if row.secret_enc else None
            return row.url, row.fenced, secret, list(row.events)

    # The read runs off the loop: the loop may be serving other tenants' requests.
    url, fenced, secret, events = await asyncio.to_thread(load)
    scope = EventScope.SYSTEM if tenant is None else EventScope.TENANT
    if event is not None:
        name = clean_events([event], tenant)[0]
    else:
        name = events[0] if events else next(n for n, e in EVENTS.items() if e.scope == scope)
    spec = get_event(name)
    body = webhook_body(
        event=spec.name,
        tenant=tenant.slug if tenant is not None else None,
        data=spec.sample_payload().model_dump(mode="json"),
        delivery_id=None,
        occurred_at=utcnow(),
    )
    async with new_session(fenced=fenced) as http:
        try:
            answer = await post(http, url, body, secret=secret, fenced=fenced)
        except DeliveryError as exc:
            return WebhookTestResult(ok=False, status=exc.code, detail=str(exc))
    return WebhookTestResult(ok=True, status=answer.status, detail=answer.reply)


test_webhook.__test__ = False  # type: ignore[attr-defined]  # a use case, not a pytest test
