"""Delivery signals from the outbox: permanent failures in a row per mail server
(`deliveries:server:ID`) and mail waiting too long per owner (`backlog:tenant:ID`,
`backlog:system`).

- A server's streak is the number of its email deliveries that failed for good since its last
  one that was sent, within the last `STREAK_WINDOW` (older failures are no evidence about the
  server today): `STREAK_WARNING` or more → warning, `STREAK_CRITICAL` or more → critical.
- An owner's queue: deliveries waiting (queued or being sent, no error yet) for longer than
  MAILBELL_HEALTH_BACKLOG_S → warning, 3 times that → critical; deliveries that failed, are retried
  and were made more than `RETRYING_AGE` ago → warning.

This runs every minute on an outbox that can be large, so it reads through the indexes the
worker uses: final rows by (status, next_attempt_at) — a recorded outcome stores its time in
next_attempt_at — and the queue by status; one grouped query each, never one per owner.
Subjects appear for servers with recent failures and owners with queued mail, and stay (ok)
once they exist so that a recovery is seen.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Connection
from sqlmodel import col

from core.context import Context
from core.health.runner import CheckScope
from core.health.store import CheckResult
from core.models._common import utcnow
from core.models.delivery import Delivery
from core.models.health import HealthSubject
from core.models.mail import MailServer
from core.vocabulary import Channel, DeliveryStatus, HealthKind, HealthState

STREAK_WARNING = 3
STREAK_CRITICAL = 10
STREAK_WINDOW = timedelta(hours=24)
RETRYING_AGE = timedelta(minutes=15)
CRITICAL_BACKLOG_FACTOR = 3
WAITING = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)

SERVER_PREFIX = "deliveries:server:"
TENANT_PREFIX = "backlog:tenant:"
SYSTEM_KEY = "backlog:system"

D = Delivery.__table__.c  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Streak:
    failures: int
    last_error: str | None


def streaks(connection: Connection, since: datetime) -> dict[int, Streak]:
    """Servers whose latest final email deliveries (since `since`) end in failures."""
    failed = (
        sa_select(D.mail_server_id, D.next_attempt_at, D.id, D.last_error)
        .where(
            D.status == DeliveryStatus.FAILED,
            D.next_attempt_at >= since,
            D.mail_server_id.is_not(None),
            D.channel == Channel.EMAIL,
        )
        .cte("failed")
    )
    # Only sent rows newer than the oldest failure can end a streak (a partial one was
    # accepted by the server too: only some recipients' mailboxes refused it).
    last_sent = (
        sa_select(D.mail_server_id, func.max(D.next_attempt_at).label("at"))
        .where(
            D.status.in_((DeliveryStatus.SENT, DeliveryStatus.PARTIAL)),
            D.next_attempt_at >= sa_select(func.min(failed.c.next_attempt_at)).scalar_subquery(),
            D.mail_server_id.in_(sa_select(failed.c.mail_server_id)),
        )
        .group_by(D.mail_server_id)
        .cte("last_sent")
    )
    newest = (
        func.row_number()
        .over(
            partition_by=failed.c.mail_server_id,
            order_by=(failed.c.next_attempt_at.desc(), failed.c.id.desc()),
        )
        .label("newest")
    )
    in_streak = (
        sa_select(failed.c.mail_server_id, failed.c.last_error, newest)
        .select_from(
            failed.outerjoin(last_sent, last_sent.c.mail_server_id == failed.c.mail_server_id)
        )
        .where(or_(last_sent.c.at.is_(None), failed.c.next_attempt_at > last_sent.c.at))
        .subquery()
    )
    query = sa_select(
        in_streak.c.mail_server_id,
        func.count(),
        func.max(case((in_streak.c.newest == 1, in_streak.c.last_error))),
    ).group_by(in_streak.c.mail_server_id)
    return {
        int(server_id): Streak(int(count), error)
        for server_id, count, error in connection.execute(query)
    }


@dataclass(frozen=True)
class Queue:
    oldest_waiting: datetime | None
    late: int  # waiting longer than the backlog threshold
    oldest_retrying: datetime | None
    retrying: int  # failed, retried, made longer ago than RETRYING_AGE


def queues(connection: Connection, *, late_at: datetime, retry_at: datetime) -> dict[Any, Queue]:
    """Each owner's queue (tenant id, None for the system), one grouped scan of the queue."""
    fresh = D.last_error.is_(None)
    # A digest waits for its window's end by design: it is late from then on, not from when
    # its first event was held (core/pipeline/digests.py).
    since = case((D.is_digest, D.next_attempt_at), else_=D.created_at)
    query = (
        sa_select(
            D.tenant_id,
            func.min(case((fresh, since))),
            func.count(case((and_(fresh, since < late_at), 1))),
            func.min(case((~fresh, D.created_at))),
            func.count(case((and_(~fresh, D.created_at < retry_at), 1))),
        )
        .where(D.status.in_(WAITING))
        .group_by(D.tenant_id)
    )
    return {row[0]: Queue(*row[1:]) for row in connection.execute(query)}


def _minutes(age: timedelta) -> str:
    minutes = int(age.total_seconds() // 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def judge_queue(
    queue: Queue | None, now: datetime, backlog_s: float
) -> tuple[HealthState, str, str]:
    """(state, reason, action) of one owner's queue."""
    if queue is None:
        return HealthState.OK, "nothing queued", "none"
    critical_age = timedelta(seconds=backlog_s * CRITICAL_BACKLOG_FACTOR)
    if queue.late and queue.oldest_waiting is not None:
        age = now - _aware(queue.oldest_waiting)
        state = HealthState.CRITICAL if age > critical_age else HealthState.WARNING
        threshold = _minutes(timedelta(seconds=backlog_s))
        return (
            state,
            f"{queue.late} deliveries waiting for more than {threshold} (oldest {_minutes(age)})",
            "check that a worker runs (`mailbell serve` or `mailbell worker`) and that the "
            "mail servers answer; `mailbell deliveries list --status queued`",
        )
    if queue.retrying and queue.oldest_retrying is not None:
        age = now - _aware(queue.oldest_retrying)
        return (
            HealthState.WARNING,
            f"{queue.retrying} deliveries failing and retried for more than "
            f"{_minutes(RETRYING_AGE)} (oldest {_minutes(age)})",
            "see their last error with `mailbell deliveries list --status queued`",
        )
    return HealthState.OK, "the queue moves", "none"


def judge_streak(streak: Streak | None) -> tuple[HealthState, str]:
    if streak is None or streak.failures < STREAK_WARNING:
        failures = streak.failures if streak is not None else 0
        return HealthState.OK, (
            f"{failures} failed since the last one sent" if failures else "deliveries go out"
        )
    state = HealthState.CRITICAL if streak.failures >= STREAK_CRITICAL else HealthState.WARNING
    last = f"; last error: {streak.last_error[:300]}" if streak.last_error else ""
    return state, f"{streak.failures} deliveries in a row failed for good{last}"


def _read(ctx: Context, scope: CheckScope) -> list[CheckResult]:
    now = utcnow()
    backlog_s = ctx.settings.health_backlog_s
    with ctx.session() as session:
        connection = session.connection()
        found_streaks = streaks(connection, now - STREAK_WINDOW)
        found_queues = queues(
            connection,
            late_at=now - timedelta(seconds=backlog_s),
            retry_at=now - RETRYING_AGE,
        )
        subjects = sa_select(col(HealthSubject.key), col(HealthSubject.tenant_id)).where(
            or_(
                col(HealthSubject.key).startswith(SERVER_PREFIX),
                col(HealthSubject.key).startswith("backlog:"),
            )
        )
        known = {key: tenant_id for key, tenant_id in connection.execute(subjects)}
        server_ids = set(found_streaks) | {
            int(key.removeprefix(SERVER_PREFIX))
            for key in known
            if key.startswith(SERVER_PREFIX) and key.removeprefix(SERVER_PREFIX).isdigit()
        }
        names = sa_select(
            col(MailServer.id), col(MailServer.name), col(MailServer.tenant_id)
        ).where(col(MailServer.id).in_(server_ids))
        servers = connection.execute(names).all() if server_ids else []
    results = []
    for server_id, name, tenant_id in servers:
        if server_id is None or not scope.includes(tenant_id):
            continue
        state, reason = judge_streak(found_streaks.get(server_id))
        action = (
            f"see the failures with `mailbell deliveries list --status failed`, then "
            f"`mailbell server test {server_id}`"
            if state != HealthState.OK
            else "none"
        )
        results.append(
            CheckResult(
                key=f"{SERVER_PREFIX}{server_id}",
                kind=HealthKind.MAIL_SERVER,
                tenant_id=tenant_id,
                subject=f"{name} deliveries",
                state=state,
                reason=reason,
                detail={"server_id": server_id, "action": action},
            )
        )
    owners = set(found_queues) | {
        tenant_id for key, tenant_id in known.items() if key.startswith("backlog:")
    }
    for tenant_id in sorted(owners, key=lambda t: (t is not None, t or 0)):
        if not scope.includes(tenant_id):
            continue
        state, reason, action = judge_queue(found_queues.get(tenant_id), now, backlog_s)
        results.append(
            CheckResult(
                key=SYSTEM_KEY if tenant_id is None else f"{TENANT_PREFIX}{tenant_id}",
                kind=HealthKind.BACKLOG,
                tenant_id=tenant_id,
                subject="queue",
                state=state,
                reason=reason,
                detail={"action": action},
            )
        )
    return results


async def check(ctx: Context, scope: CheckScope) -> list[CheckResult]:
    return await asyncio.to_thread(_read, ctx, scope)
