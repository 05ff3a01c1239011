"""Tell the admins: each health notice (core.health.store) becomes one mailbell event.

    await send_notices(ctx, notices)

- A tenant's subject → `MAIL_HEALTH` for that tenant: its recipients, and every Slack channel
  linked to it (whatever the channel's routes); a system subject → `SYSTEM_MAIL_HEALTH`: the
  system recipients and the channels where a system admin routed it.
- The real emit path: the deliveries are durable, retried and logged like any other, and the
  toggle `notify_mail_health` (on by default) silences the event everywhere, as every toggle
  does. With no recipients there is simply no email (Slack is still tried).
- An alert about a broken mail path must not depend on that path: when the subject is the
  tenant's own effective mail server, its deliveries or its queue, and it is not ok, the email
  goes through the system's default server (when there is one).
- Each notice has its idempotency key (subject, notice, since, when): sending the same notices
  again sends nothing twice.
- A recovery edits the Slack messages of the subject's last alert ("✓ recovered at 11:05")
  instead of posting anew, in each channel where that alert was posted (or is on its way:
  core/pipeline/alert_edits.py); elsewhere, and for an alert sent before edits existed, it is
  posted as before. Its email goes as before. Reminders are posted as before.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import datetime
from typing import Any

from sqlmodel import Session

from core.channels.base import StatusNote
from core.context import Context
from core.crypto import SecretBox
from core.health.store import Notice, get_subject
from core.models._common import utcnow
from core.models.tenancy import Tenant
from core.pipeline.alert_edits import attach_edits
from core.pipeline.emit import KEY_MAX_LENGTH, EmitResult, prepare_emit, write_prepared
from core.services.mail_servers import resolve_effective_server
from core.vocabulary import HEALTH_SEVERITY, EventName

log = logging.getLogger("mailbell.health")

# Subjects that are a tenant's own path for mail: `PREFIX + server id` (or tenant id).
_SERVER_KEYS = ("mail_server:", "deliveries:server:")
_QUEUE_KEY = "backlog:tenant:"


async def send_notices(ctx: Context, notices: list[Notice]) -> None:
    """Emit one event per notice (on a thread: the loop serves the API and the worker too).

    A notice that cannot be sent is logged and the others still go; sending the same notice
    again finds the first emit (its key) and queues nothing.
    """
    if notices:
        await asyncio.to_thread(_send_all, ctx, list(notices))


def _send_all(ctx: Context, notices: list[Notice]) -> None:
    for notice in notices:
        try:
            with ctx.session() as session:
                result = send_notice(session, ctx.box, notice)
        except Exception:
            log.exception("health: the %s about %s could not be sent", notice.notice, notice.key)
            continue
        if result is not None and not result.duplicate:
            log.info(
                "health: %s about %s (%s): %d deliveries",
                notice.notice,
                notice.key,
                notice.state,
                len(result.deliveries),
            )


def send_notice(session: Session, box: SecretBox, notice: Notice) -> EmitResult | None:
    """Emit the notice's event and commit; None when its tenant no longer exists."""
    tenant: Tenant | None = None
    if notice.tenant_id is not None:
        tenant = session.get(Tenant, notice.tenant_id)
        if tenant is None:
            return None
    prepared = prepare_emit(
        session=session,
        box=box,
        tenant=tenant,
        event=EventName.MAIL_HEALTH if tenant is not None else EventName.SYSTEM_MAIL_HEALTH,
        data=payload(notice, tenant),
        key=idempotency_key(notice),
        system_server=tenant is not None and own_path_broken(session, tenant, notice),
    )
    if isinstance(prepared, EmitResult):  # sent before (its key)
        return prepared
    subject = get_subject(session, notice.key)
    alert_event = subject.alert_event_id if subject is not None else None
    if notice.notice == "recovery" and alert_event is not None:
        attach_edits(session, box, prepared.rows, alert_event, recovered(notice))
    result = write_prepared(session, prepared)
    if notice.notice == "alert" and subject is not None and not result.duplicate:
        # What the recovery will edit; a commit of its own: losing it only means a new post.
        subject.alert_event_id = result.event_id
        session.add(subject)
        session.commit()
    return result


def recovered(notice: Notice) -> StatusNote:
    """The line a recovery adds to its alert."""
    return StatusNote(
        "recovered",
        at=notice.at or utcnow(),
        state=notice.state,
        previous=notice.previous,
    )


def payload(notice: Notice, tenant: Tenant | None) -> dict[str, Any]:
    """The event's payload (core.catalog_payloads.MailHealthPayload)."""
    return {
        "notice": notice.notice,
        "kind": notice.kind,
        "subject_key": notice.key,
        "subject": (notice.subject or notice.key)[:500],
        "state": notice.state,
        "previous_state": notice.previous,
        "reason": notice.reason,
        "since": notice.since,
        "action": None if notice.notice == "recovery" else action(notice, tenant),
        "tenant_name": tenant.name if tenant is not None else None,
        "checked_at": notice.at or utcnow(),
    }


def action(notice: Notice, tenant: Tenant | None) -> str:
    """What to do: the check's own advice, else where to look."""
    given = notice.detail.get("action")
    if isinstance(given, str) and given.strip():
        return given.strip()
    scope = f"--tenant {tenant.slug}" if tenant is not None else "--system"
    return (
        f"see `mailbell health {scope}` (or the Health page) for the details, fix the cause, "
        f"then run `mailbell health check {scope}`"
    )


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds")


def idempotency_key(notice: Notice) -> str:
    """One key per notice: a reminder's time tells it from the reminders before it."""
    parts = [notice.key, notice.notice, _iso(notice.since)]
    if notice.at is not None:
        parts.append(_iso(notice.at))
    key = "health:" + "|".join(parts)
    if len(key) <= KEY_MAX_LENGTH:
        return key
    return "health:" + hashlib.sha256(key.encode()).hexdigest()


def _id_after(key: str, prefix: str) -> int | None:
    rest = key.removeprefix(prefix)
    return int(rest) if key.startswith(prefix) and rest.isdigit() else None


def own_path_broken(session: Session, tenant: Tenant, notice: Notice) -> bool:
    """The notice says the tenant's own effective mail server (its probe, its deliveries or
    its queue) is not ok: the email must go another way."""
    if HEALTH_SEVERITY[notice.state] == 0:
        return False
    if _id_after(notice.key, _QUEUE_KEY) == tenant.id:
        return True
    server = resolve_effective_server(session=session, tenant=tenant).server
    if server is None or server.id is None:
        return False
    return any(_id_after(notice.key, prefix) == server.id for prefix in _SERVER_KEYS)
