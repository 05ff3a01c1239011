"""Tenants: the rows of the Tenants page, the slugs of the command palette, adding one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tui.runtime import actor, grant, require_system_admin

if TYPE_CHECKING:
    from core.context import Context


@dataclass(frozen=True)
class TenantRow:
    slug: str
    name: str
    server: str
    source: str


def load_rows(ctx: Context) -> tuple[list[TenantRow], str]:
    """Rows for the table and a one-line summary of the system mail server."""
    from core.services.mail_servers import default_mail_server, resolve_effective_server
    from core.services.notifications import get_notification_settings
    from core.services.tenants import list_tenants

    allowed = grant()
    with ctx.session() as session:
        rows = []
        for tenant in list_tenants(session=session):
            if not allowed.may_read(tenant.slug):
                continue
            effective = resolve_effective_server(session=session, tenant=tenant)
            server = effective.server
            rows.append(
                TenantRow(
                    slug=tenant.slug,
                    name=tenant.name,
                    server=f"{server.name} — {server.host}:{server.port}" if server else "—",
                    source=_source_label(effective.source, effective.note),
                )
            )
        system = default_mail_server(session=session, tenant=None)
        apply_all = bool(
            get_notification_settings(session=session, tenant=None).apply_to_all_tenants
        )
    summary = (
        f"System mail server: {system.name} — {system.host}:{system.port}"
        if system
        else "System mail server: not configured"
    ) + (" · applied to all tenants" if apply_all else "")
    if any(row.source[-1] in "⇄⚠" for row in rows):
        summary += "\n⇄ use_system_server on · ⚠ use_system_server on, not followed: see Settings"
    return rows, summary


def _source_label(source: str | None, note: str | None) -> str:
    """`tenant`, `system` or `not configured`; marked when the use_system_server switch chose
    it (`system ⇄`) or is on but cannot be followed (`tenant ⚠`)."""
    label = source or "not configured"
    if note is None:
        return label
    return f"{label} ⇄" if source == "system" else f"{label} ⚠"


def check_exists(ctx: Context, slug: str) -> None:
    """NotFound when no tenant has this slug."""
    from core.services.tenants import get_tenant

    with ctx.session() as session:
        get_tenant(session=session, slug=slug)


def slugs(ctx: Context) -> list[str]:
    from core.services.tenants import list_tenants

    with ctx.session() as session:
        return grant().visible(t.slug for t in list_tenants(session=session))


def slug_error(slug: str) -> str | None:
    """The rule a slug being typed breaks, if any."""
    from core.services.tenants import SLUG_PATTERN

    if slug and not SLUG_PATTERN.match(slug):
        return "use 1-63 lowercase letters, digits and inner hyphens"
    return None


def create(ctx: Context, slug: str, name: str | None) -> str:
    from core.services.tenants import create_tenant

    require_system_admin("adding a tenant")
    with ctx.session() as session:
        return create_tenant(session=session, slug=slug, name=name, actor=actor()).slug
