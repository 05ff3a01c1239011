"""Who may read and change what: the one rule behind every console session's role.

A `Grant` travels on the `Actor` (core/services/audit.py). Every audited change passes
`require_write` in `audit.record`, inside the change's own transaction, so a refused change is
rolled back with everything it touched; front ends call `require_read` before showing a tenant
or the system, and `require_write` before actions that leave no audit entry (a test email, a
sync, a retry). Hiding a button is a courtesy; these checks are the rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.errors import Forbidden
from core.vocabulary import Role


@dataclass(frozen=True)
class Grant:
    """A role and, for a tenant admin or a limited viewer, the tenants (slugs) it covers.

    `tenants` None: every tenant (a system admin, an unlimited viewer)."""

    role: Role = Role.SYSTEM_ADMIN
    tenants: frozenset[str] | None = None

    @property
    def is_system_admin(self) -> bool:
        return self.role is Role.SYSTEM_ADMIN

    def may_read(self, slug: str | None) -> bool:
        """The system (slug None) is the system admins'; a tenant, whoever's grant names it."""
        if self.is_system_admin:
            return True
        if slug is None:
            return False
        return self.tenants is None or slug in self.tenants

    def may_write(self, slug: str | None) -> bool:
        if self.is_system_admin:
            return True
        if self.role is not Role.TENANT_ADMIN or slug is None:
            return False
        return self.tenants is not None and slug in self.tenants

    def visible(self, slugs: Iterable[str]) -> list[str]:
        """The slugs among `slugs` this grant may read, in their order."""
        return [slug for slug in slugs if self.may_read(slug)]

    def describe(self) -> str:
        """`tenant-admin of acme, globex`, `viewer of every tenant`, `system-admin`."""
        if self.is_system_admin:
            return self.role.value
        covered = "every tenant" if self.tenants is None else ", ".join(sorted(self.tenants))
        return f"{self.role.value} of {covered or 'no tenant'}"


SYSTEM_ADMIN = Grant()


def require_read(grant: Grant, slug: str | None) -> None:
    if not grant.may_read(slug):
        raise Forbidden(f"a {grant.describe()} cannot see {_what(slug)}")


def require_write(grant: Grant, slug: str | None) -> None:
    if grant.may_write(slug):
        return
    if grant.role is Role.VIEWER:
        raise Forbidden(f"read-only: a {grant.describe()} cannot change anything")
    raise Forbidden(f"a {grant.describe()} cannot change {_what(slug)}")


def require_system_admin(grant: Grant, what: str) -> None:
    """For pages and actions that exist only system-wide (Slack admins, key rotation)."""
    if not grant.is_system_admin:
        raise Forbidden(f"{what} is for system admins; this session is a {grant.describe()}")


def _what(slug: str | None) -> str:
    return "the system's settings" if slug is None else f"tenant {slug}"
