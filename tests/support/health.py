"""Health subjects in a given state, made the way the checks make them: two agreeing results
recorded through core.health.store (one result alone leaves a new subject `unknown`).

    put_state(session, mail_server_key(server.id), HealthKind.MAIL_SERVER, acme.id, "Main",
              HealthState.CRITICAL, reason="connect: refused")
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from core.health.store import CheckResult, Notice, record_results
from core.models._common import utcnow
from core.vocabulary import HealthKind, HealthState

# Two results of one check are this far apart (the runner's fast interval).
RESULT_GAP = timedelta(minutes=1)


def mail_server_key(server_id: int | None) -> str:
    return f"mail_server:{server_id}"


def put_state(
    session: Session,
    key: str,
    kind: HealthKind,
    tenant_id: int | None,
    subject: str,
    state: HealthState,
    *,
    reason: str = "",
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> list[Notice]:
    """Record two agreeing results for the subject (the second at `now`) and commit; returns the
    notices they made."""
    now = now or utcnow()
    result = CheckResult(key, kind, tenant_id, subject, state, reason, dict(detail or {}))
    notices = record_results(session, [result], now=now - RESULT_GAP)
    notices += record_results(session, [result], now=now)
    session.commit()
    return notices


def put_certificate(
    session: Session,
    server_id: int | None,
    tenant_id: int | None,
    name: str,
    days: int,
    *,
    now: datetime | None = None,
) -> None:
    """A mail server whose certificate expires in `days` days, judged as the check judges it
    (within 14 days: warning; expired: critical)."""
    if days < 0:
        state, reason = HealthState.CRITICAL, f"certificate expired {-days} days ago"
    elif days <= 14:
        state, reason = HealthState.WARNING, f"certificate expires in {days} days"
    else:
        state, reason = HealthState.OK, ""
    put_state(
        session,
        mail_server_key(server_id),
        HealthKind.MAIL_SERVER,
        tenant_id,
        name,
        state,
        reason=reason,
        detail={"certificate_days": days, "server_id": server_id},
        now=now,
    )
