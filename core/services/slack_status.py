"""What `/mailbell status` shows, read with few prebuilt statements.

The slash command must be acknowledged within Slack's 3 s, and bench/slack.py holds it to a p99
under 25 ms at 16 concurrent clients: through the ORM, building and loading seven queries was most
of an ack's cost. These statements are built once (on first use) with bind parameters, so
SQLAlchemy reuses their compiled form; they return plain rows. One statement reads settings,
the effective server, queue depth and the number of failures; the routes and (only when there
are any) the last failures take one more each; the health states (`health_lines`) one more.

The effective-server rule is `core.services.mail_servers.choose_source`, given the facts this
statement reads (the tenant's default server and `use_system_server`, the system default and
"apply to all tenants"); tests/slackbot/test_services.py checks it agrees with
`resolve_effective_server`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select
from sqlmodel import Session

from core.models.delivery import Delivery
from core.models.health import HealthSubject
from core.models.mail import MailServer
from core.models.slack import SlackRoute
from core.models.tenancy import TENANT_TOGGLES, NotificationSettings, SystemSettings, Tenant
from core.services.mail_servers import choose_source
from core.vocabulary import HEALTH_SEVERITY, DeliveryStatus, HealthKind, HealthState

# "Failures": deliveries that did not reach every recipient (a partial one reached some).
UNDELIVERED = (DeliveryStatus.FAILED, DeliveryStatus.PARTIAL)
# name and host first (host tells whether the server exists); then what says it cannot log in.
SERVER_COLUMNS = ("name", "host", "port", "security", "id", "auth_revoked_at", "auth_refusals")


@dataclass
class TenantOverview:
    """No secret among it: the server is its name, host, port, security, id, and when it
    lost its authorization or was refused its credentials."""

    tenant: str
    settings: dict[str, Any]  # recipients (comma-separated) and the five toggles
    server: dict[str, Any] | None
    server_source: str | None  # tenant | system | None (not configured)
    server_note: str | None  # what use_system_server does, or why it cannot (None: off)
    queued: int
    failures: list[dict[str, Any]]
    routes: list[str]


@functools.cache
def _statements() -> dict[str, Any]:
    tenant = Tenant.__table__  # type: ignore[attr-defined]
    ns = NotificationSettings.__table__  # type: ignore[attr-defined]
    ms = MailServer.__table__  # type: ignore[attr-defined]
    shared = MailServer.__table__.alias("shared")  # type: ignore[attr-defined]
    ss = SystemSettings.__table__  # type: ignore[attr-defined]
    delivery = Delivery.__table__  # type: ignore[attr-defined]
    route = SlackRoute.__table__  # type: ignore[attr-defined]
    tenant_id: Any = bindparam("tenant_id")

    def count(*where: Any) -> Any:
        return select(func.count()).select_from(delivery).where(*where).scalar_subquery()

    def system_server(name: str) -> Any:
        default = and_(shared.c.tenant_id.is_(None), shared.c.is_default.is_(True))
        return select(shared.c[name]).where(default).scalar_subquery()

    mine = delivery.c.tenant_id == tenant_id
    overview = (
        select(
            ns.c.recipients,
            *(ns.c[name] for name in TENANT_TOGGLES),
            ns.c.use_system_server,
            *(ms.c[name] for name in SERVER_COLUMNS),
            select(ss.c.apply_to_all_tenants).where(ss.c.id == 1).scalar_subquery(),
            *(system_server(name) for name in SERVER_COLUMNS),
            count(
                mine,
                or_(
                    delivery.c.status == DeliveryStatus.QUEUED,
                    delivery.c.status == DeliveryStatus.SENDING,
                ),
            ),
            count(mine, delivery.c.status.in_(UNDELIVERED)),
        )
        .select_from(
            tenant.outerjoin(ns, ns.c.tenant_id == tenant.c.id).outerjoin(
                ms, and_(ms.c.tenant_id == tenant.c.id, ms.c.is_default.is_(True))
            )
        )
        .where(tenant.c.id == tenant_id)
    )
    failures = (
        select(
            delivery.c.id,
            delivery.c.event,
            delivery.c.channel,
            delivery.c.target,
            delivery.c.last_error,
            delivery.c.updated_at,
            delivery.c.status,
        )
        .where(mine, delivery.c.status.in_(UNDELIVERED))
        .order_by(delivery.c.id.desc())
        .limit(bindparam("limit"))
    )
    routes = select(route.c.event).where(route.c.link_id == bindparam("link_id"))
    return {"overview": overview, "failures": failures, "routes": routes.order_by(route.c.id)}


def tenant_overview(
    *,
    session: Session,
    tenant_id: int,
    tenant_slug: str,
    link_id: int | None = None,
    failures: int = 3,
) -> TenantOverview:
    """Settings, effective server, queue depth, last failures and (with `link_id`) routes."""
    statements = _statements()
    connection = session.connection()
    row = list(connection.execute(statements["overview"], {"tenant_id": tenant_id}).one())
    toggles_end = 1 + len(TENANT_TOGGLES)
    use_system_server = bool(row[toggles_end])
    own_end = toggles_end + 1 + len(SERVER_COLUMNS)
    recipients = row[0] or []
    settings: dict[str, Any] = {"recipients": ",".join(recipients)}
    settings |= {name: bool(v) for name, v in zip(TENANT_TOGGLES, row[1:toggles_end], strict=True)}
    own, apply_to_all = row[toggles_end + 1 : own_end], row[own_end]
    system = row[own_end + 1 : own_end + 1 + len(SERVER_COLUMNS)]
    queued, failed = row[-2], row[-1]
    # host tells whether the server exists
    source, note = choose_source(
        has_own=own[1] is not None,
        has_system=system[1] is not None,
        apply_to_all=bool(apply_to_all),
        use_system_server=use_system_server,
    )
    chosen = {"tenant": own, "system": system}.get(source or "")
    server = dict(zip(SERVER_COLUMNS, chosen, strict=True)) if chosen is not None else None
    failed_rows: list[Any] = []
    if failed:
        params = {"tenant_id": tenant_id, "limit": failures}
        failed_rows = list(connection.execute(statements["failures"], params))
    routes: list[str] = []
    if link_id is not None:
        routes = list(connection.execute(statements["routes"], {"link_id": link_id}).scalars())
    return TenantOverview(
        tenant=tenant_slug,
        settings=settings,
        server=server,
        server_source=source,
        server_note=note,
        queued=int(queued or 0),
        failures=[
            {
                "id": i,
                "event": e,
                "channel": c,
                "target": t,
                "error": err or "",
                "at": at,
                "status": status,
            }
            for i, e, c, t, err, at, status in failed_rows
        ],
        routes=routes,
    )


# -- health -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HealthLine:
    """One watched subject as `/mailbell status` shows it."""

    key: str
    kind: HealthKind
    subject: str
    state: HealthState
    reason: str
    since: datetime
    muted_until: datetime | None
    action: str | None  # what to do about it (the check's detail["action"])

    @property
    def rank(self) -> tuple[int, int]:
        """Worst first: critical, warning, unknown, ok."""
        return (-HEALTH_SEVERITY[self.state], self.state == HealthState.OK)


@functools.cache
def _health_statements() -> dict[str, Any]:
    subject = HealthSubject.__table__  # type: ignore[attr-defined]
    columns = (
        subject.c.key,
        subject.c.kind,
        subject.c.subject,
        subject.c.state,
        subject.c.reason,
        subject.c.since,
        subject.c.muted_until,
        subject.c.detail,
    )
    return {
        "tenant": select(*columns).where(subject.c.tenant_id == bindparam("tenant_id")),
        "system": select(*columns).where(subject.c.tenant_id.is_(None)),
    }


def health_lines(*, session: Session, tenant_id: int | None) -> list[HealthLine]:
    """The tenant's (None: the system's) health subjects, worst first."""
    statements = _health_statements()
    if tenant_id is None:
        rows = session.connection().execute(statements["system"])
    else:
        rows = session.connection().execute(statements["tenant"], {"tenant_id": tenant_id})
    lines = [
        HealthLine(
            key=key,
            kind=HealthKind(kind),
            subject=subject,
            state=HealthState(state),
            reason=reason or "",
            since=since,
            muted_until=muted_until,
            action=str(detail["action"])
            if isinstance(detail, dict) and detail.get("action")
            else None,
        )
        for key, kind, subject, state, reason, since, muted_until, detail in rows
    ]
    return sorted(lines, key=lambda line: (line.rank, line.kind.value, line.subject))
