"""emit: one event → its deliveries, rendered now and written in one transaction (DESIGN §3).

A disabled event is recorded as `suppressed`; a tenant without a mail server as `failed: not
configured`; a repeated key returns the deliveries of the first emit and creates nothing.
Message bytes are encrypted at rest: a welcome email carries the new user's password.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.catalog import Event, get_event
from core.crypto import SecretBox
from core.errors import MailbellError, ValidationError
from core.mail.mime import serialize
from core.models.delivery import Delivery, EventRecord
from core.models.mail import MailServer
from core.models.tenancy import Tenant
from core.pipeline.contents import read_contents, store_message
from core.pipeline.emit_config import OwnerConfig, ServerView, owner_config
from core.pipeline.emit_write import EmitResult, EmittedDelivery, PreparedEmit, write_emits
from core.rendering import TemplateSource, render
from core.senders import envelope_sender

__all__ = [
    "SECRET_PAYLOAD_FIELDS",
    "EmitResult",
    "EmittedDelivery",
    "PreparedEmit",
    "emit",
    "fill_content",
    "find_repeated",
    "prepare_emit",
    "write_emits",
    "write_prepared",
]

REDACTED = "(redacted)"
SECRET_PAYLOAD_FIELDS = frozenset({"password"})
KEY_MAX_LENGTH = 200


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
    # A command-line argument that is not UTF-8 arrives with lone surrogates: unstorable.
    if any("\ud800" <= char <= "\udfff" for char in key):
        raise ValidationError("key", "must be valid Unicode text (it holds a lone surrogate)")
    return key


def _existing(session: Session, tenant: Tenant | None, key: str) -> EmitResult | None:
    query = select(EventRecord.id).where(EventRecord.key == key)
    query = query.where(
        col(EventRecord.tenant_id).is_(None)
        if tenant is None
        else EventRecord.tenant_id == tenant.id
    )
    event_id = session.exec(query).first()
    if event_id is None:
        return None
    rows = session.exec(
        select(Delivery).where(Delivery.event_id == event_id).order_by(col(Delivery.id))
    ).all()
    messages = read_contents(session.connection(), (row.id for row in rows if row.id))
    deliveries = [EmittedDelivery.of(row, messages.get(row.id or 0, b"")) for row in rows]
    return EmitResult(event_id=event_id, deliveries=deliveries, duplicate=True)


def _recipient_groups(event: Event, payload: Any, recipients: list[str]) -> list[list[str]]:
    """One list per message: tenant/system recipients share one; a payload address is its own."""
    email = getattr(payload, "email", None)
    if event.audience == "payload_email":
        return [[str(email)]]
    if event.audience == "payload_email_or_tenant_recipients" and email:
        return [[str(email)]]
    return [list(recipients)]


def _enabled(event: Event, config: OwnerConfig) -> bool:
    return event.toggle is None or config.toggles.get(event.toggle, False)


def _plan(event: Event, config: OwnerConfig, groups: list[list[str]]) -> list[_Plan]:
    if not _enabled(event, config):
        return [_Plan(g, "suppressed", f"{event.toggle} is off") for g in groups]
    if config.server is None:
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


def _server_from(server: MailServer | ServerView) -> str:
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


@dataclass(frozen=True, slots=True)
class _Content:
    sender: str
    message_id: str
    content: bytes


def _render_content(
    *,
    box: SecretBox,
    spec: Event,
    payload: Any,
    server: MailServer | ServerView,
    template: TemplateSource,
    recipients: list[str],
) -> _Content:
    message = render(
        spec.name,
        payload,
        template=template,
        to=recipients,
        server_from=_server_from(server),
        reply_to=server.reply_to,
    )
    return _Content(
        sender=envelope_sender(message.mail_from),  # the literal or server address
        message_id=message.message_id,
        content=box.encrypt_bytes(serialize(message)),
    )


def fill_content(
    delivery: Delivery,
    *,
    session: Session,
    box: SecretBox,
    spec: Event,
    payload: Any,
    server: MailServer,
    template: TemplateSource,
) -> None:
    """Render the message for the delivery's recipients and store it, encrypted (in the
    session's transaction)."""
    rendered = _render_content(
        box=box,
        spec=spec,
        payload=payload,
        server=server,
        template=template,
        recipients=[address for address in delivery.target.split(",") if address],
    )
    delivery.mail_server_id = server.id
    delivery.sender = rendered.sender
    delivery.message_id = rendered.message_id
    assert delivery.id is not None
    store_message(session, delivery.id, rendered.content)


def _email_row(
    plan: _Plan,
    *,
    box: SecretBox,
    spec: Event,
    payload: Any,
    config: OwnerConfig,
    template: TemplateSource | None,
) -> dict[str, Any]:
    server = config.server
    row = _row(
        "email",
        ",".join(plan.recipients),
        status=plan.status,
        pending=plan.recipients if plan.status == "queued" else [],
        last_error=plan.reason,
        mail_server_id=server.id if server else None,
    )
    if plan.status == "queued" and server is not None and template is not None:
        try:
            rendered = _render_content(
                box=box,
                spec=spec,
                payload=payload,
                server=server,
                template=template,
                recipients=plan.recipients,
            )
        except MailbellError as exc:  # a template that cannot render fails, with the reason
            row.update(status="failed", last_error=str(exc), pending=[])
        else:
            row.update(
                sender=rendered.sender, message_id=rendered.message_id, content=rendered.content
            )
    return row


def _row(
    channel: str,
    target: str,
    *,
    status: str,
    pending: list[str],
    last_error: str | None = None,
    mail_server_id: int | None = None,
) -> dict[str, Any]:
    """A delivery row before its message is attached (sender, content, Message-ID)."""
    return {
        "channel": channel,
        "target": target,
        "mail_server_id": mail_server_id,
        "status": status,
        "last_error": last_error,
        "sender": "",
        "pending": pending,
        "content": b"",
        "message_id": None,
    }


def prepare_emit(
    *,
    session: Session,
    box: SecretBox,
    tenant: Tenant | None,
    event: str,
    data: Mapping[str, Any],
    key: str | None = None,
) -> PreparedEmit | EmitResult:
    """Everything of `emit` but the writes: validation, the toggle, the server, rendering.

    A repeated key answers the first emit's result at once (nothing to write).
    """
    spec = get_event(event, field="event")
    _check_scope(spec, tenant)
    key = _check_key(key)
    payload = spec.validate(data)
    if key is not None and (found := _existing(session, tenant, key)) is not None:
        return found

    config = owner_config(session, tenant)
    plans = _plan(spec, config, _recipient_groups(spec, payload, config.recipients))
    template = (
        config.template(session, tenant, spec.name)
        if any(plan.status == "queued" for plan in plans)
        else None
    )
    rows = [
        _email_row(plan, box=box, spec=spec, payload=payload, config=config, template=template)
        for plan in plans
    ]
    channels = config.channels(session, tenant, spec.name) if _enabled(spec, config) else []
    rows += [_row("slack", c, status="queued", pending=[c]) for c in channels]
    return PreparedEmit(
        box=box,
        spec=spec,
        tenant=tenant,
        key=key,
        shown=_redacted(payload),
        payload_enc=box.encrypt_bytes(payload.model_dump_json().encode()),
        rows=rows,
    )


def emit(
    *,
    session: Session,
    box: SecretBox,
    tenant: Tenant | None,
    event: str,
    data: Mapping[str, Any],
    key: str | None = None,
) -> EmitResult:
    """Record event `event` for `tenant` (None: a system event), queue its deliveries, commit."""
    prepared = prepare_emit(
        session=session, box=box, tenant=tenant, event=event, data=data, key=key
    )
    if isinstance(prepared, EmitResult):
        return prepared
    return _write_one(session, prepared)


def find_repeated(session: Session, prepared: PreparedEmit) -> EmitResult | None:
    """The first emit's result if `prepared`'s key has been written since it was prepared
    (prepared elsewhere than it is written: another request with the key may have won)."""
    if prepared.key is None:
        return None
    return _existing(session, prepared.tenant, prepared.key)


def write_prepared(session: Session, prepared: PreparedEmit) -> EmitResult:
    """Write one prepared event and commit: `emit`'s second half for an event prepared in
    another session. A key written meanwhile answers the first emit's deliveries."""
    found = find_repeated(session, prepared)
    return found if found is not None else _write_one(session, prepared)


def _write_one(session: Session, prepared: PreparedEmit) -> EmitResult:
    try:
        [result] = write_emits(session, [prepared])
        session.commit()
    except IntegrityError:
        # Another emit with the same key won the race: answer with its deliveries.
        session.rollback()
        if (found := find_repeated(session, prepared)) is not None:
            return found
        raise
    return result
