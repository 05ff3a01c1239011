"""What a Slack user's App Home shows: the tenants they administer, each at a glance.

Read-only and cheap: the Home is rebuilt on every open and by the refresher (every few seconds
for each user who looked at it lately), and the issue holds a system admin's Home with 1,000
tenants to < 300 ms of mailbell's time (bench/slack_home.py). So a fixed handful of prebuilt
statements serves every shown tenant together (`WHERE tenant_id IN (...)`, grouped by tenant),
never a query per tenant:

1. which tenants, in order (worst health first, then slug), and how many in all;
2. their settings, toggles and own default server; 3. the system's server facts;
4. their health subjects; 5. delivery counts of the last 24 h by status;
6. their last failures of the last 24 h (a window function, a few per tenant).

The 24 h window keeps 5 and 6 on the `ix_delivery_tenant_created` index (tenant_id,
created_at): a tenant's older deliveries are never read.

The effective-server rule is `core.services.mail_servers.choose_source`, as in
`core.services.slack_status`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, func, or_, select
from sqlmodel import Session

from core.models._common import utcnow
from core.models.delivery import Delivery
from core.models.health import HealthSubject
from core.models.mail import MailServer
from core.models.slack import SlackTenantAdmin
from core.models.tenancy import TENANT_TOGGLES, NotificationSettings, SystemSettings, Tenant
from core.services.mail_servers import choose_source
from core.services.slack import short_name, toggled_tenant_events
from core.services.slack_admins import is_system_admin
from core.vocabulary import HEALTH_SEVERITY, DeliveryStatus, HealthKind, HealthState

WINDOW = timedelta(hours=24)
FAILURES_SHOWN = 5
HOME_TENANTS = 20
UNDELIVERED = (DeliveryStatus.FAILED, DeliveryStatus.PARTIAL)
WAITING = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)
SERVER_COLUMNS = ("name", "host", "port", "security")
# A tenant without a settings row (never written) reads the model's defaults.
_DEFAULT_TOGGLES = {
    name: NotificationSettings.model_fields[name].default for name in TENANT_TOGGLES
}


@dataclass(frozen=True)
class HomeToggle:
    short: str  # queue_call_lost
    field: str  # notify_queue_call_lost
    on: bool


@dataclass(frozen=True)
class HomeServer:
    """The effective server, no secret: its name and where it is."""

    source: str  # "tenant" (its own) or "system"
    name: str
    host: str
    port: int
    security: str


@dataclass(frozen=True)
class HomeHealth:
    """The worst watched subject (None: nothing checked yet) and how many are not ok."""

    worst: HealthState | None
    kind: HealthKind | None = None
    subject: str = ""
    reason: str = ""
    not_ok: int = 0
    checked: int = 0


@dataclass(frozen=True)
class HomeFailure:
    id: int
    event: str
    channel: str
    target: str
    error: str
    at: datetime
    status: str  # failed (retryable) or partial (final: resend)

    @property
    def retryable(self) -> bool:
        return self.status == DeliveryStatus.FAILED


@dataclass(frozen=True)
class HomeTenant:
    id: int
    slug: str
    name: str
    server: HomeServer | None  # None: not configured
    server_note: str | None  # what use_system_server does, or why it cannot
    health: HomeHealth
    toggles: tuple[HomeToggle, ...]
    sent: int  # of the deliveries created in the last 24 h
    failed: int
    queued: int
    failures: tuple[HomeFailure, ...]  # newest first, at most FAILURES_SHOWN


@dataclass(frozen=True)
class HomeOverview:
    user_id: str
    is_system_admin: bool
    tenants: tuple[HomeTenant, ...]
    more: int  # tenants administered but not shown
    system_health: HomeHealth | None = None  # system admins only

    @property
    def administers_any(self) -> bool:
        return self.is_system_admin or bool(self.tenants) or self.more > 0


@functools.cache
def _statements() -> dict[str, Any]:
    tenant = Tenant.__table__  # type: ignore[attr-defined]
    ns = NotificationSettings.__table__  # type: ignore[attr-defined]
    ms = MailServer.__table__  # type: ignore[attr-defined]
    ss = SystemSettings.__table__  # type: ignore[attr-defined]
    hs = HealthSubject.__table__  # type: ignore[attr-defined]
    delivery = Delivery.__table__  # type: ignore[attr-defined]
    admins = SlackTenantAdmin.__table__  # type: ignore[attr-defined]
    ids: Any = bindparam("ids", expanding=True)
    since: Any = bindparam("since")

    severity = case(
        *((hs.c.state == str(state), rank) for state, rank in HEALTH_SEVERITY.items() if rank),
        else_=0,
    )
    mine = select(admins.c.tenant_id).where(
        admins.c.user_id == bindparam("user_id"),
        or_(admins.c.team_id == "", admins.c.team_id == bindparam("team_id")),
    )

    def ordered(*scope: Any) -> Any:
        """The tenants in `scope` (all when none), worst health first, with their count."""
        worst = (
            select(hs.c.tenant_id, func.max(severity).label("severity"))
            .where(hs.c.tenant_id.is_not(None), *(hs.c.tenant_id.in_(s) for s in scope))
            .group_by(hs.c.tenant_id)
            .subquery()
        )
        return (
            select(tenant.c.id, func.count().over())
            .select_from(tenant.outerjoin(worst, worst.c.tenant_id == tenant.c.id))
            .where(*(tenant.c.id.in_(s) for s in scope))
            .order_by(func.coalesce(worst.c.severity, 0).desc(), tenant.c.slug)
            .limit(bindparam("limit"))
        )

    details = (
        select(
            tenant.c.id,
            tenant.c.slug,
            tenant.c.name,
            ns.c.tenant_id,
            *(ns.c[name] for name in TENANT_TOGGLES),
            ns.c.use_system_server,
            *(ms.c[name] for name in SERVER_COLUMNS),
        )
        .select_from(
            tenant.outerjoin(ns, ns.c.tenant_id == tenant.c.id).outerjoin(
                ms, and_(ms.c.tenant_id == tenant.c.id, ms.c.is_default.is_(True))
            )
        )
        .where(tenant.c.id.in_(ids))
    )
    shared = and_(ms.c.tenant_id.is_(None), ms.c.is_default.is_(True))
    system = select(
        select(ss.c.apply_to_all_tenants).where(ss.c.id == 1).scalar_subquery(),
        *(select(ms.c[name]).where(shared).scalar_subquery() for name in SERVER_COLUMNS),
    )
    health_columns = (hs.c.tenant_id, hs.c.kind, hs.c.subject, hs.c.state, hs.c.reason)
    counts = (
        select(delivery.c.tenant_id, delivery.c.status, func.count())
        .where(delivery.c.tenant_id.in_(ids), delivery.c.created_at >= since)
        .group_by(delivery.c.tenant_id, delivery.c.status)
    )
    ranked = (
        select(
            delivery.c.tenant_id,
            delivery.c.id,
            delivery.c.event,
            delivery.c.channel,
            delivery.c.target,
            delivery.c.last_error,
            delivery.c.updated_at,
            delivery.c.status,
            func.row_number()
            .over(partition_by=delivery.c.tenant_id, order_by=delivery.c.id.desc())
            .label("n"),
        )
        .where(
            delivery.c.tenant_id.in_(ids),
            delivery.c.created_at >= since,
            # wrapped, so that SQLite reads the shown tenants' day (ix_delivery_tenant_created)
            # instead of every failed row of every tenant (ix_delivery_due): 18 ms -> 3 ms
            func.coalesce(delivery.c.status, "").in_(UNDELIVERED),
        )
        .subquery()
    )
    failures = (
        select(*(c for c in ranked.c if c.name != "n"))
        .where(ranked.c.n <= bindparam("per_tenant"))
        .order_by(ranked.c.tenant_id, ranked.c.id.desc())
    )
    return {
        "all": ordered(),
        "mine": ordered(mine),
        "details": details,
        "system": system,
        "health": select(*health_columns).where(hs.c.tenant_id.in_(ids)),
        "system_health": select(*health_columns).where(hs.c.tenant_id.is_(None)),
        "counts": counts,
        "failures": failures,
    }


def home_tenants(
    *,
    session: Session,
    admin_ids: Iterable[str],
    user_id: str,
    team_id: str | None,
    limit: int = HOME_TENANTS,
    now: datetime | None = None,
) -> HomeOverview:
    """The tenants `user_id` administers (every tenant for a system admin), worst health first,
    at most `limit` of them with their details, and how many more there are."""
    statements = _statements()
    connection = session.connection()
    system_admin = is_system_admin(
        session=session, admin_ids=admin_ids, user_id=user_id, team_id=team_id
    )
    if system_admin:
        ordered = connection.execute(statements["all"], {"limit": limit}).all()
    else:
        params = {"limit": limit, "user_id": user_id, "team_id": team_id or ""}
        ordered = connection.execute(statements["mine"], params).all()
    ids = [row[0] for row in ordered]
    total = int(ordered[0][1]) if ordered else 0
    system_health = None
    if system_admin:
        system_health = _worst(connection.execute(statements["system_health"]).all())
    tenants = _details(connection, ids, now or utcnow()) if ids else []
    return HomeOverview(
        user_id=user_id,
        is_system_admin=system_admin,
        tenants=tuple(tenants),
        more=total - len(ids),
        system_health=system_health,
    )


def _details(
    connection: Any, ids: list[int], now: datetime, *, failures: bool = True
) -> list[HomeTenant]:
    """The shown tenants' details; `failures=False` skips their last failures (the TUI's
    overview shares this read and shows counts only)."""
    statements = _statements()
    window = {"ids": ids, "since": now - WINDOW}
    apply_to_all, *system_server = connection.execute(statements["system"]).one()
    health: dict[int, list[Any]] = {}
    for row in connection.execute(statements["health"], {"ids": ids}):
        health.setdefault(row[0], []).append(row)
    counts: dict[int, dict[str, int]] = {}
    for tenant_id, status, n in connection.execute(statements["counts"], window):
        counts.setdefault(tenant_id, {})[status] = int(n)
    last_failures: dict[int, list[HomeFailure]] = {}
    params = window | {"per_tenant": FAILURES_SHOWN}
    rows = connection.execute(statements["failures"], params) if failures else []
    for tenant_id, *failure in rows:
        delivery_id, event, channel, target, error, at, status = failure
        last_failures.setdefault(tenant_id, []).append(
            HomeFailure(delivery_id, event, channel, target or "", error or "", at, status)
        )
    toggled = [(short_name(e), e.toggle) for e in toggled_tenant_events() if e.toggle]
    shown: dict[int, HomeTenant] = {}
    for row in connection.execute(statements["details"], {"ids": ids}):
        tenant_id, slug, name, has_settings = row[:4]
        toggles_end = 4 + len(TENANT_TOGGLES)
        values = dict(zip(TENANT_TOGGLES, row[4:toggles_end], strict=True))
        if has_settings is None:
            values = dict(_DEFAULT_TOGGLES)
        use_system_server = bool(row[toggles_end]) if has_settings is not None else False
        own = row[toggles_end + 1 :]
        source, note = choose_source(
            has_own=own[1] is not None,
            has_system=system_server[1] is not None,
            apply_to_all=bool(apply_to_all),
            use_system_server=use_system_server,
        )
        chosen = {"tenant": own, "system": system_server}.get(source or "")
        server = None
        if source is not None and chosen is not None:
            name_, host, port, security = chosen
            server = HomeServer(source, str(name_), str(host), int(port), str(security))
        by_status = counts.get(tenant_id, {})
        shown[tenant_id] = HomeTenant(
            id=tenant_id,
            slug=slug,
            name=name,
            server=server,
            server_note=note,
            health=_worst(health.get(tenant_id, [])),
            toggles=tuple(HomeToggle(s, f, bool(values[f])) for s, f in toggled),
            sent=by_status.get(DeliveryStatus.SENT, 0),
            failed=sum(by_status.get(s, 0) for s in UNDELIVERED),
            queued=sum(by_status.get(s, 0) for s in WAITING),
            failures=tuple(last_failures.get(tenant_id, [])),
        )
    return [shown[i] for i in ids if i in shown]


def _rank(state: HealthState) -> tuple[int, bool]:
    """Worst first: critical, warning, unknown, ok (as `HealthLine.rank`)."""
    return (-HEALTH_SEVERITY[state], state == HealthState.OK)


def _worst(rows: Sequence[Any]) -> HomeHealth:
    """rows: (tenant_id, kind, subject, state, reason) of one owner's subjects."""
    if not rows:
        return HomeHealth(worst=None)
    states = [(HealthState(row[3]), row) for row in rows]
    state, row = min(states, key=lambda item: (_rank(item[0]), item[1][1], item[1][2]))
    return HomeHealth(
        worst=state,
        kind=HealthKind(row[1]),
        subject=row[2],
        reason=row[4] or "",
        not_ok=sum(1 for s, _ in states if s != HealthState.OK),
        checked=len(states),
    )
