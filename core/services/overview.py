"""The operator's overview: every tenant (and the system) at a glance, read for a live page.

The TUI's Overview page re-reads this every second with 1,000 tenants, so it is a fixed handful
of set-based statements for all tenants together, never one per tenant. The server, health and
24 h count statements are `core.services.slack_home`'s (the Slack App Home reads the same facts);
this module adds the last hour in 5-minute buckets and the oldest waiting delivery.

The counts read by `ix_delivery_tenant_created` (tenant_id, created_at, status): `tenant_id IN
(...)` with a `created_at` lower bound, so a tenant's older deliveries are never read, and with
the status in the index no row of the table is (1,000 tenants, 500,000 deliveries in the day:
the 24 h counts took 870 ms on SQLite reading each row, 105 ms from the index; migration 0019).
The system's own deliveries (tenant_id NULL) are read on the same index with `IS NULL`.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, func, null, select
from sqlmodel import Session

from core.models._common import utcnow
from core.models.delivery import Delivery
from core.models.mail import MailServer
from core.models.tenancy import Tenant
from core.services.slack_home import UNDELIVERED, WAITING, WINDOW, HomeHealth
from core.services.slack_home import _details as home_details
from core.services.slack_home import _statements as home_statements
from core.services.slack_home import _worst as worst_health
from core.vocabulary import DeliveryStatus, HealthState

BUCKET = timedelta(minutes=5)
BUCKETS = 12  # the last hour
SOURCE_OWN = "own"
SOURCE_SYSTEM = "system"
SOURCE_NONE = "not configured"


@dataclass(frozen=True)
class OverviewRow:
    """One tenant (or the system: `tenant_id` None) as the overview shows it."""

    tenant_id: int | None
    slug: str  # "" for the system
    name: str
    source: str  # SOURCE_OWN, SOURCE_SYSTEM or SOURCE_NONE
    health: HealthState | None  # the worst watched subject; None: nothing checked yet
    sent: int  # of the deliveries created in the last 24 h
    failed: int
    queued: int
    last_hour: tuple[int, ...]  # BUCKETS counts, oldest first
    oldest_queued: timedelta | None  # the age of the oldest waiting delivery (any age)
    pending: bool = False  # only named yet: its facts come with the next read (first_rows)

    @property
    def is_system(self) -> bool:
        return self.tenant_id is None


@functools.cache
def _statements() -> dict[str, Any]:
    tenant = Tenant.__table__  # type: ignore[attr-defined]
    delivery = Delivery.__table__  # type: ignore[attr-defined]
    ms = MailServer.__table__  # type: ignore[attr-defined]
    ids: Any = bindparam("ids", expanding=True)
    now: Any = bindparam("now")
    # Bucket 0 is the newest 5 minutes; bound thresholds keep the statement the same every tick.
    bucket = case(
        *(
            (delivery.c.created_at >= bindparam(f"b{n}"), n)
            for n in range(BUCKETS - 1)  # the last bucket is what is left of the hour
        ),
        else_=BUCKETS - 1,
    )

    def hour(owner: Any) -> Any:
        return (
            select(delivery.c.tenant_id, bucket.label("bucket"), func.count())
            .where(owner, delivery.c.created_at >= bindparam("hour"), delivery.c.created_at <= now)
            .group_by(delivery.c.tenant_id, "bucket")
        )

    def counts(owner: Any) -> Any:
        return (
            select(delivery.c.status, func.count())
            .where(owner, delivery.c.created_at >= bindparam("since"))
            .group_by(delivery.c.status)
        )

    def oldest(owner: Any) -> Any:
        """Each owner's oldest waiting delivery: its deliveries in creation order on
        ix_delivery_tenant_created, up to the first waiting one. The status is wrapped so that
        SQLite does not read every waiting row of every tenant on ix_delivery_due instead
        (1 M deliveries, 4 % waiting: 74 ms for 40 tenants)."""
        waiting = func.coalesce(delivery.c.status, "").in_(WAITING)
        first = (
            select(delivery.c.created_at)
            .where(delivery.c.tenant_id == owner, waiting)
            .order_by(delivery.c.created_at)
            .limit(1)
            .scalar_subquery()
        )
        return select(owner, first)

    system_oldest = select(
        null(),
        select(delivery.c.created_at)
        .where(delivery.c.tenant_id.is_(None), func.coalesce(delivery.c.status, "").in_(WAITING))
        .order_by(delivery.c.created_at)
        .limit(1)
        .scalar_subquery(),
    )

    return {
        "tenants": select(tenant.c.id, tenant.c.slug, tenant.c.name).order_by(tenant.c.slug),
        "hour": hour(delivery.c.tenant_id.in_(ids)),
        "system_hour": hour(delivery.c.tenant_id.is_(None)),
        "system_counts": counts(delivery.c.tenant_id.is_(None)),
        "oldest": oldest(tenant.c.id).where(tenant.c.id.in_(ids)),
        "system_oldest": system_oldest,
        "system_server": select(func.count())
        .select_from(ms)
        .where(ms.c.tenant_id.is_(None), ms.c.is_default.is_(True)),
    }


def tenant_overview_rows(
    *,
    session: Session,
    tenant_ids: list[int] | None = None,
    slugs: Collection[str] | None = None,
    system: bool = True,
    now: datetime | None = None,
) -> list[OverviewRow]:
    """The system's row (unless `system` is False), then the tenants' by slug: those of
    `tenant_ids` when given, else those of `slugs` (a session's role; None: every tenant)."""
    now = now or utcnow()
    statements = _statements()
    connection = session.connection()
    if tenant_ids is None:
        tenant_ids = [row[0] for row in _listed(connection, slugs)]
    rows = [_system_row(connection, now)] if system else []
    if not tenant_ids:
        return rows
    hours = _hours(connection.execute(statements["hour"], {"ids": tenant_ids, **_hour(now)}))
    oldest = dict(connection.execute(statements["oldest"], {"ids": tenant_ids}).all())
    tenants = []
    for tenant in home_details(connection, tenant_ids, now, failures=False):
        source = {"tenant": SOURCE_OWN, "system": SOURCE_SYSTEM}.get(
            tenant.server.source if tenant.server else "", SOURCE_NONE
        )
        tenants.append(
            OverviewRow(
                tenant_id=tenant.id,
                slug=tenant.slug,
                name=tenant.name,
                source=source,
                health=tenant.health.worst,
                sent=tenant.sent,
                failed=tenant.failed,
                queued=tenant.queued,
                last_hour=tuple(hours.get(tenant.id) or [0] * BUCKETS),
                oldest_queued=_age(oldest.get(tenant.id), now),
            )
        )
    return rows + sorted(tenants, key=lambda r: r.slug)


def first_rows(
    *,
    session: Session,
    count: int,
    slugs: Collection[str] | None = None,
    system: bool = True,
    now: datetime | None = None,
) -> list[OverviewRow]:
    """What a page can paint at once whatever the deliveries: the system and the first `count`
    tenants by slug (a screenful) read in full, every other tenant by name only (`pending`).
    Counting a day of deliveries for 1,000 tenants is what takes time; the page reads every
    tenant in full right after."""
    listed = _listed(session.connection(), slugs)
    shown = [row[0] for row in listed[:count]]
    rows = tenant_overview_rows(session=session, tenant_ids=shown, system=system, now=now)
    empty = (0,) * BUCKETS
    rest = [
        OverviewRow(tenant_id, slug, name, SOURCE_NONE, None, 0, 0, 0, empty, None, pending=True)
        for tenant_id, slug, name in listed[count:]
    ]
    return rows + rest


def _listed(connection: Any, slugs: Collection[str] | None) -> list[Any]:
    """(id, slug, name) of every tenant by slug, or of those of `slugs`."""
    rows = connection.execute(_statements()["tenants"]).all()
    return [row for row in rows if slugs is None or row[1] in slugs]


def _system_row(connection: Any, now: datetime) -> OverviewRow:
    """The system's own deliveries (tenant_id NULL), health and server."""
    statements = _statements()
    hours = _hours(connection.execute(statements["system_hour"], _hour(now)))
    oldest = connection.execute(statements["system_oldest"]).one()[1]
    counts = connection.execute(statements["system_counts"], {"since": now - WINDOW}).all()
    health = worst_health(connection.execute(home_statements()["system_health"]).all())
    has_server = bool(connection.execute(statements["system_server"]).scalar())
    return _row(
        None,
        "",
        "System",
        SOURCE_OWN if has_server else SOURCE_NONE,
        health,
        {str(k): int(v) for k, v in counts},
        hours.get(None),
        oldest,
        now,
    )


def _hour(now: datetime) -> dict[str, datetime]:
    """The last hour's bounds and its buckets' thresholds, newest first."""
    thresholds = {f"b{n}": now - BUCKET * (n + 1) for n in range(BUCKETS - 1)}
    return {"hour": now - BUCKET * BUCKETS, "now": now, **thresholds}


def _hours(rows: Any) -> dict[int | None, list[int]]:
    """(owner, bucket, count) rows as each owner's BUCKETS counts, oldest first."""
    hours: dict[int | None, list[int]] = {}
    for owner, n, count in rows:
        hours.setdefault(owner, [0] * BUCKETS)[BUCKETS - 1 - int(n)] += int(count)
    return hours


def _row(
    tenant_id: int | None,
    slug: str,
    name: str,
    source: str,
    health: HomeHealth,
    by_status: dict[str, int],
    hour: list[int] | None,
    oldest: datetime | None,
    now: datetime,
) -> OverviewRow:
    return OverviewRow(
        tenant_id=tenant_id,
        slug=slug,
        name=name,
        source=source,
        health=health.worst,
        sent=by_status.get(DeliveryStatus.SENT, 0),
        failed=sum(by_status.get(s, 0) for s in UNDELIVERED),
        queued=sum(by_status.get(s, 0) for s in WAITING),
        last_hour=tuple(hour or [0] * BUCKETS),
        oldest_queued=_age(oldest, now),
    )


def _age(at: datetime | None, now: datetime) -> timedelta | None:
    if at is None:
        return None
    if at.tzinfo is None and now.tzinfo is not None:
        at = at.replace(tzinfo=now.tzinfo)  # SQLite returns naive UTC
    return max(now - at, timedelta(0))
