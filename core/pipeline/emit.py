"""emit: one event → its deliveries, rendered now and written in one transaction (DESIGN §3).

A disabled event is recorded as `suppressed`; a tenant without a mail server as `failed: not
configured`; a repeated key returns the deliveries of the first emit and creates nothing.
Message bytes are encrypted at rest: a welcome email carries the new user's password.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.catalog import Event, get_event
from core.crypto import SecretBox
from core.errors import MailbellError, ValidationError
from core.mail.mime import serialize
from core.models.delivery import Delivery, EventRecord
from core.models.mail import MailServer
from core.models.tenancy import NotificationSettings, SystemSettings, Tenant
from core.rendering import TemplateSource, render
from core.services.mail_servers import resolve_effective_server
from core.services.slack import queue_slack_deliveries
from core.services.templates import effective_template

REDACTED = "(redacted)"
SECRET_PAYLOAD_FIELDS = frozenset({"password"})
KEY_MAX_LENGTH = 200


@dataclass(frozen=True)
class EmitResult:
    event_id: int
    deliveries: list[Delivery]
    duplicate: bool = False


@dataclass(frozen=True)
class _Plan:
    """What one delivery will be before it is written."""

    recipients: list[str]
    status: str
    reason: str | None = None


def _check_scope(event: Event, tenant: Tenant | None) -> None:
    if event.scope == "system" and tenant is not None:
        raise ValidationError(
            "event", f"{event.name} is a system event: emit it with --system (a system token)"
        )
    if event.scope == "tenant" and tenant is None:
        raise ValidationError("tenant", f"{event.name} is a tenant event: name the tenant")


def _check_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > KEY_MAX_LENGTH or "\r" in key or "\n" in key:
        raise ValidationError("key", f"must be 1-{KEY_MAX_LENGTH} characters on one line")
    return key


def _existing(session: Session, tenant: Tenant | None, key: str) -> EmitResult | None:
    query = select(EventRecord).where(EventRecord.key == key)
    query = query.where(
        col(EventRecord.tenant_id).is_(None)
        if tenant is None
        else EventRecord.tenant_id == tenant.id
    )
    record = session.exec(query).first()
    if record is None:
        return None
    assert record.id is not None
    deliveries = session.exec(
        select(Delivery).where(Delivery.event_id == record.id).order_by(col(Delivery.id))
    ).all()
    return EmitResult(event_id=record.id, deliveries=list(deliveries), duplicate=True)


def _settings(session: Session, tenant: Tenant | None) -> NotificationSettings | SystemSettings:
    if tenant is None:
        return session.get(SystemSettings, 1) or SystemSettings(id=1)
    return session.get(NotificationSettings, tenant.id) or NotificationSettings(
        tenant_id=tenant.id or 0
    )


def _recipient_groups(
    event: Event, payload: Any, settings: NotificationSettings | SystemSettings
) -> list[list[str]]:
    """One list per message: tenant/system recipients share one; a payload address is its own."""
    email = getattr(payload, "email", None)
    if event.audience == "payload_email":
        return [[str(email)]]
    if event.audience == "payload_email_or_tenant_recipients" and email:
        return [[str(email)]]
    return [list(settings.recipients)]


def _plan(
    event: Event,
    settings: NotificationSettings | SystemSettings,
    groups: list[list[str]],
    server: MailServer | None,
) -> list[_Plan]:
    if event.toggle is not None and not getattr(settings, event.toggle):
        return [_Plan(g, "suppressed", f"{event.toggle} is off") for g in groups]
    if server is None:
        reason = (
            "not configured: the tenant has no mail server and the system server is not "
            "applied to all tenants"
            if event.scope == "tenant"
            else "not configured: the system has no default mail server"
        )
        return [_Plan(g, "failed", reason) for g in groups]
    return [
        _Plan(g, "queued") if g else _Plan(g, "failed", "no recipients configured") for g in groups
    ]


def _server_from(server: MailServer) -> str:
    if server.mail_from:
        return server.mail_from
    if server.username and "@" in server.username:
        return server.username
    return ""


def _redacted(payload: Any) -> dict[str, Any]:
    data: dict[str, Any] = payload.model_dump(mode="json")
    for name in SECRET_PAYLOAD_FIELDS & data.keys():
        if data[name] is not None:
            data[name] = REDACTED
    return data


def fill_content(
    delivery: Delivery,
    *,
    box: SecretBox,
    spec: Event,
    payload: Any,
    server: MailServer,
    template: TemplateSource,
) -> None:
    """Render the message for the delivery's recipients and store it, encrypted, on the row."""
    recipients = [address for address in delivery.target.split(",") if address]
    message = render(
        spec.name,
        payload,
        template=template,
        to=recipients,
        server_from=_server_from(server),
        reply_to=server.reply_to,
    )
    delivery.mail_server_id = server.id
    delivery.sender = parseaddr(message.mail_from)[1]
    delivery.message_id = message.message_id
    delivery.content = box.encrypt_bytes(serialize(message))


def emit(
    *,
    session: Session,
    box: SecretBox,
    tenant: Tenant | None,
    event: str,
    data: Mapping[str, Any],
    key: str | None = None,
) -> EmitResult:
    """Record event `event` for `tenant` (None: a system event) and queue its deliveries."""
    spec = get_event(event, field="event")
    _check_scope(spec, tenant)
    key = _check_key(key)
    payload = spec.validate(data)
    if key is not None and (found := _existing(session, tenant, key)) is not None:
        return found

    settings = _settings(session, tenant)
    server = resolve_effective_server(session=session, tenant=tenant).server
    plans = _plan(spec, settings, _recipient_groups(spec, payload, settings), server)
    record = EventRecord(
        tenant_id=tenant.id if tenant else None,
        name=spec.name,
        key=key,
        payload=_redacted(payload),
        payload_enc=box.encrypt_bytes(payload.model_dump_json().encode()),
    )
    session.add(record)
    session.flush()
    assert record.id is not None
    template = (
        effective_template(session=session, tenant=tenant, name=spec.name)
        if any(plan.status == "queued" for plan in plans)
        else None
    )
    deliveries = []
    for plan in plans:
        delivery = Delivery(
            event_id=record.id,
            tenant_id=record.tenant_id,
            event=spec.name,
            channel="email",
            target=",".join(plan.recipients),
            mail_server_id=server.id if server else None,
            status=plan.status,
            last_error=plan.reason,
            pending=plan.recipients if plan.status == "queued" else [],
        )
        if plan.status == "queued" and server is not None and template is not None:
            try:
                fill_content(
                    delivery, box=box, spec=spec, payload=payload, server=server, template=template
                )
            except MailbellError as exc:  # a template that cannot render fails, with the reason
                delivery.status, delivery.last_error, delivery.pending = "failed", str(exc), []
        session.add(delivery)
        deliveries.append(delivery)
    if spec.toggle is None or getattr(settings, spec.toggle):  # routes only for enabled events
        deliveries += queue_slack_deliveries(
            session=session, box=box, record_=record, event=spec, tenant=tenant
        )
    try:
        session.commit()
    except IntegrityError:
        # Another emit with the same key won the race: answer with its deliveries.
        session.rollback()
        if key is not None and (found := _existing(session, tenant, key)) is not None:
            return found
        raise
    return EmitResult(event_id=record.id, deliveries=deliveries)
