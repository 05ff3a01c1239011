"""Health states in the database: what a check found becomes a state only when two consecutive
results agree; a state that gets worse than what the admins were told makes an alert, one that
lasts makes a reminder every `remind_s`, one that clears after an alert makes a recovery notice.

    notices = record_results(session, results, now=now, remind_s=86400)   # caller commits
    rows = list_health(session, tenant=acme)        # or system=True, or neither: everything

Helpers here never commit: the runner (core.health.runner) and the use-case services
(core.services.health) do, once per unit of work.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import delete, or_
from sqlmodel import Session, col, select

from core.models._common import owned_by, utcnow
from core.models.health import REASON_MAX, HealthChange, HealthChangeRead, HealthRead, HealthSubject
from core.models.tenancy import Tenant
from core.vocabulary import HEALTH_SEVERITY, HealthKind, HealthState

NoticeKind = Literal["alert", "reminder", "recovery"]
AGREEING_RESULTS = 2


@dataclass(frozen=True)
class CheckResult:
    """What one check found about one subject."""

    key: str
    kind: HealthKind
    tenant_id: int | None
    subject: str
    state: HealthState
    reason: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Notice:
    """Something the subject's admins must be told (core.health.alerts sends it)."""

    notice: NoticeKind
    key: str
    kind: HealthKind
    tenant_id: int | None
    subject: str
    state: HealthState
    previous: HealthState
    reason: str
    since: datetime
    detail: dict[str, Any] = field(default_factory=dict)
    at: datetime | None = None  # when the notice was made (the result's time)


def severity(state: str | None) -> int:
    return HEALTH_SEVERITY.get(HealthState(state), 0) if state else 0


def _subject_row(session: Session, result: CheckResult, now: datetime) -> HealthSubject:
    row = session.exec(select(HealthSubject).where(HealthSubject.key == result.key)).first()
    if row is None:
        row = HealthSubject(
            key=result.key,
            kind=result.kind,
            tenant_id=result.tenant_id,
            subject=result.subject[:200],
            since=now,
        )
    return row


def _apply(session: Session, row: HealthSubject, result: CheckResult, now: datetime) -> HealthState:
    """Record `result` on `row`; returns the state before it."""
    previous = HealthState(row.state)
    reason = result.reason[:REASON_MAX]
    row.checked_at = now
    row.subject = result.subject[:200]
    row.detail = dict(result.detail)
    if result.state == row.state:
        row.reason = reason
        row.candidate_state = row.candidate_reason = None
    elif row.candidate_state == result.state:
        row.state, row.reason, row.since = result.state, reason, now
        row.candidate_state = row.candidate_reason = None
        session.add(
            HealthChange(
                subject_key=row.key,
                kind=row.kind,
                tenant_id=row.tenant_id,
                state=row.state,
                reason=reason,
                at=now,
            )
        )
    else:
        row.candidate_state, row.candidate_reason = result.state, reason
    return previous


def _notice(
    row: HealthSubject, previous: HealthState, now: datetime, remind_s: float
) -> Notice | None:
    """What to tell the admins after a result, if anything; updates what they were told."""
    if row.muted_until is not None and row.muted_until > now:
        return None
    state = HealthState(row.state)
    told = severity(row.alerted_state)
    kind: NoticeKind | None = None
    if severity(state) > told:
        kind = "alert"
    elif severity(state) == 0 and told > 0:
        kind = "recovery"
    elif severity(state) > 0 and row.alerted_state == state:
        due = (row.alerted_at or now) + timedelta(seconds=remind_s)
        kind = "reminder" if now >= due else None
    elif severity(state) > 0:  # better than told, still not ok: remember, say nothing
        row.alerted_state = state
    if kind is None:
        return None
    told_state = HealthState(row.alerted_state) if row.alerted_state else previous
    row.alerted_state = None if kind == "recovery" else state
    row.alerted_at = now
    return Notice(
        notice=kind,
        key=row.key,
        kind=HealthKind(row.kind),
        tenant_id=row.tenant_id,
        subject=row.subject,
        state=state,
        previous=told_state if kind == "recovery" else previous,
        reason=row.reason,
        since=row.since,
        detail=dict(row.detail),
        at=now,
    )


def record_results(
    session: Session,
    results: Iterable[CheckResult],
    *,
    now: datetime | None = None,
    remind_s: float = 86400.0,
) -> list[Notice]:
    """Apply each result to its subject; returns the notices to send (the caller commits)."""
    now = now or utcnow()
    notices = []
    for result in results:
        row = _subject_row(session, result, now)
        previous = _apply(session, row, result, now)
        notice = _notice(row, previous, now, remind_s)
        session.add(row)
        if notice is not None:
            notices.append(notice)
    return notices


def prune_missing(
    session: Session,
    *,
    seen: set[str],
    prefixes: Sequence[str],
    tenant_id: int | None = None,
    system: bool = False,
) -> int:
    """Forget subjects whose key starts with one of `prefixes` that a full pass no longer found
    (a deleted server, an unlinked channel): one tenant's, the system's, or (neither) every
    owner's."""
    query = select(HealthSubject).where(
        or_(*(col(HealthSubject.key).startswith(prefix) for prefix in prefixes))
    )
    if system:
        query = query.where(col(HealthSubject.tenant_id).is_(None))
    elif tenant_id is not None:
        query = query.where(col(HealthSubject.tenant_id) == tenant_id)
    gone = [row for row in session.exec(query).all() if row.key not in seen]
    for row in gone:
        session.delete(row)
    return len(gone)


def _read(row: HealthSubject, slugs: dict[int, str]) -> HealthRead:
    return HealthRead(
        kind=HealthKind(row.kind),
        tenant=slugs.get(row.tenant_id) if row.tenant_id is not None else None,
        subject=row.subject,
        state=HealthState(row.state),
        reason=row.reason,
        since=row.since,
        key=row.key,
        checked_at=row.checked_at,
        muted_until=row.muted_until,
        detail=dict(row.detail),
    )


def list_health(
    session: Session, *, tenant: Tenant | None = None, system: bool = False
) -> list[HealthRead]:
    """Every subject (system first, then by tenant, kind and subject); `tenant`: that tenant's
    only; `system`: the system's only."""
    query = select(HealthSubject)
    if tenant is not None or system:
        query = query.where(owned_by(HealthSubject.tenant_id, tenant))
    rows = list(session.exec(query).all())
    slugs = {t.id: t.slug for t in session.exec(select(Tenant)).all() if t.id is not None}
    reads = [_read(row, slugs) for row in rows]
    reads.sort(key=lambda r: (r.tenant is not None, r.tenant or "", r.kind.value, r.subject))
    return reads


def get_subject(session: Session, key: str) -> HealthSubject | None:
    return session.exec(select(HealthSubject).where(HealthSubject.key == key)).first()


def history(session: Session, key: str, *, limit: int = 50) -> list[HealthChangeRead]:
    """The subject's state changes, newest first."""
    rows = session.exec(
        select(HealthChange)
        .where(HealthChange.subject_key == key)
        .order_by(col(HealthChange.at).desc(), col(HealthChange.id).desc())
        .limit(limit)
    ).all()
    return [HealthChangeRead(state=HealthState(r.state), reason=r.reason, at=r.at) for r in rows]


def prune_history(session: Session, *, older_than: datetime) -> int:
    result = session.execute(delete(HealthChange).where(col(HealthChange.at) < older_than))
    return int(getattr(result, "rowcount", 0) or 0)


def worst(reads: Sequence[HealthRead]) -> HealthState:
    """The worst state among `reads` (ok when there are none)."""
    if not reads:
        return HealthState.OK
    return max((r.state for r in reads), key=lambda s: (severity(s), s == HealthState.UNKNOWN))
