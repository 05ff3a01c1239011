"""The Overview page's rows: the tenants this session may see and, for a system admin, the
system, read together (core.services.overview)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tui.runtime import grant

if TYPE_CHECKING:
    from core.context import Context
    from core.services.overview import OverviewRow

SPARKS = "▁▂▃▄▅▆▇█"
# The columns `s` sorts by, in the order it cycles through them, and how the hint names them.
SORTS = ("tenant", "health", "failed", "queued", "oldest", "sent", "server")
SORT_WORDS = {
    "tenant": "tenant",
    "health": "worst health",
    "failed": "most failed",
    "queued": "most queued",
    "oldest": "oldest queued",
    "sent": "most sent",
    "server": "server",
}
_HEALTH_RANK = {"critical": 0, "warning": 1, "unknown": 2, "ok": 3}


def load(ctx: Context, tenant_ids: list[int] | None = None) -> list[OverviewRow]:
    """The system's row first (a system admin's session only), then the tenants the session's
    role covers by slug, or only those of `tenant_ids` (rows in sight, already allowed)."""
    from core.services.overview import tenant_overview_rows

    allowed = grant()
    slugs = None if allowed.is_system_admin else allowed.tenants
    with ctx.session() as session:
        return tenant_overview_rows(
            session=session,
            tenant_ids=tenant_ids,
            slugs=slugs,
            system=allowed.may_read(None),
        )


def load_first(ctx: Context, count: int) -> list[OverviewRow]:
    """The first paint's rows: as `load`, but only the system and the first `count` tenants
    read in full; the others named only (`pending`), for the full read that follows."""
    from core.services.overview import first_rows

    allowed = grant()
    slugs = None if allowed.is_system_admin else allowed.tenants
    with ctx.session() as session:
        return first_rows(session=session, count=count, slugs=slugs, system=allowed.may_read(None))


def sort_key(column: str, row: OverviewRow) -> tuple[Any, ...]:
    """Most worrying first for the numbers and the health; then by slug."""
    value: Any = {
        "tenant": 0,
        "server": row.source,
        "health": _HEALTH_RANK.get(row.health.value if row.health else "", 4),
        "failed": -row.failed,
        "queued": -row.queued,
        "sent": -row.sent,
        "oldest": -(row.oldest_queued.total_seconds() if row.oldest_queued else -1),
    }[column]
    return (value, row.slug)


def sparkline(counts: tuple[int, ...]) -> str:
    """One glyph per bucket, scaled to the busiest; an empty bucket is the lowest bar."""
    top = max(counts, default=0)
    if top == 0:
        return SPARKS[0] * len(counts)
    last = len(SPARKS) - 1
    return "".join(SPARKS[0 if n == 0 else max(1, round(n * last / top))] for n in counts)


def age_text(seconds: float | None) -> str:
    """ "—" when nothing waits; else the age in its largest whole unit ("3 min")."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{int(seconds)} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"
