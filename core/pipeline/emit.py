"""emit: one event → its deliveries, rendered now and written in one transaction (DESIGN §3).

Every registered channel (core/channels/registry.py) makes the event's rows on it: email's
recipients and messages, Slack's mirrored channels, webhook targets. A repeated key returns
the deliveries of the first emit and creates nothing. Message bytes are encrypted at rest: a
welcome email carries the new user's password.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.catalog import Event, get_event
from core.channels.registry import renderers
from core.crypto import SecretBox
from core.errors import ValidationError
from core.models._common import owned_by
from core.models.delivery import Delivery, EventRecord
from core.models.tenancy import Tenant
from core.pipeline.contents import read_contents
from core.pipeline.emit_config import EmitDraft, OwnerConfig, owner_config, through_system_server
from core.pipeline.emit_write import EmitResult, EmittedDelivery, PreparedEmit, write_emits

__all__ = [
    "SECRET_PAYLOAD_FIELDS",
    "EmitResult",
    "EmittedDelivery",
    "PreparedEmit",
    "emit",
    "find_repeated",
    "prepare_emit",
    "write_emits",
    "write_prepared",
]

REDACTED = "(redacted)"
SECRET_PAYLOAD_FIELDS = frozenset({"password"})
KEY_MAX_LENGTH = 200


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
    query = query.where(owned_by(EventRecord.tenant_id, tenant))
    event_id = session.exec(query).first()
    if event_id is None:
        return None
    rows = session.exec(
        select(Delivery).where(Delivery.event_id == event_id).order_by(col(Delivery.id))
    ).all()
    messages = read_contents(session.connection(), (row.id for row in rows if row.id))
    deliveries = [EmittedDelivery.of(row, messages.get(row.id or 0, b"")) for row in rows]
    return EmitResult(event_id=event_id, deliveries=deliveries, duplicate=True)


def _enabled(event: Event, config: OwnerConfig) -> bool:
    return event.toggle is None or config.toggles.get(event.toggle, False)


def _redacted(data: dict[str, Any]) -> dict[str, Any]:
    """The payload as shown (the event row, Slack): secret fields replaced; a copy only when
    there is something to replace."""
    secret = [name for name in SECRET_PAYLOAD_FIELDS & data.keys() if data[name] is not None]
    if not secret:
        return data
    shown = dict(data)
    for name in secret:
        shown[name] = REDACTED
    return shown


def prepare_emit(
    *,
    session: Session,
    box: SecretBox,
    tenant: Tenant | None,
    event: str,
    data: Mapping[str, Any],
    key: str | None = None,
    system_server: bool = False,
) -> PreparedEmit | EmitResult:
    """Everything of `emit` but the writes: validation, the toggle, each channel's rows.

    A repeated key answers the first emit's result at once (nothing to write). `system_server`:
    the email goes through the system's default server (when there is one) instead of the
    owner's effective server; health alerts about that server use it.
    """
    spec = get_event(event, field="event")
    _check_scope(spec, tenant)
    key = _check_key(key)
    payload = spec.validate(data)
    if key is not None and (found := _existing(session, tenant, key)) is not None:
        return found

    config = owner_config(session, tenant)
    if system_server:
        config = through_system_server(session, config)
    draft = EmitDraft(
        session=session,
        box=box,
        spec=spec,
        payload=payload,
        tenant=tenant,
        config=config,
        enabled=_enabled(spec, config),
    )
    rows = [row for renderer in renderers() for row in renderer.rows(draft)]
    # One dump serves the event row (redacted) and the channels that carry the whole payload.
    dumped: dict[str, Any] = payload.model_dump(mode="json")
    return PreparedEmit(
        box=box,
        spec=spec,
        tenant=tenant,
        key=key,
        shown=_redacted(dumped),
        payload_enc=box.encrypt_bytes(payload.model_dump_json().encode()),
        rows=rows,
        data=dumped,
        digest=config.digest_policy(spec.name),
    )


def emit(
    *,
    session: Session,
    box: SecretBox,
    tenant: Tenant | None,
    event: str,
    data: Mapping[str, Any],
    key: str | None = None,
    system_server: bool = False,
) -> EmitResult:
    """Record event `event` for `tenant` (None: a system event), queue its deliveries, commit."""
    prepared = prepare_emit(
        session=session,
        box=box,
        tenant=tenant,
        event=event,
        data=data,
        key=key,
        system_server=system_server,
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
