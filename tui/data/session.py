"""Who a `mailbell tui --as NAME` session acts as: the SSH key of that name, its role and
tenants, and (over SSH) the client's address for the audit log."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.config import Settings
    from core.context import Context
    from core.services.audit import Actor

# Set by `mailbell ssh` for the session process it starts: the client's address and port.
SSH_CLIENT_ENV = "MAILBELL_SSH_CLIENT"


def key_actor(settings: Settings, name: str, client: str | None) -> Actor:
    """The actor of key `name` (NotFound when the keys file has none): over SSH its source is
    `ssh` and its name `NAME@ADDRESS`; locally (`tui --as`) source `tui` and the key's name."""
    from core.services.audit import Actor
    from core.ssh_keys import find_key

    key = find_key(settings.ssh_keys_file, name)
    return Actor(
        name=f"{key.name}@{client.rsplit(':', 1)[0]}" if client else key.name,
        source="ssh" if client else "tui",
        tenant_scoped=not key.is_system_admin,
        grant=key.grant,
    )


def first_tenant(ctx: Context) -> str | None:
    """The first tenant (by slug) this session may see: where a session that may not see the
    system starts. None when it may see none."""
    from tui.data.tenants import slugs

    visible = slugs(ctx)
    return visible[0] if visible else None


def enter_as(ctx: Context | Callable[[], Context], name: str, slug: str | None) -> str | None:
    """Become key `name` for this process (`mailbell tui --as NAME`); the scope to start in:
    `slug` if the key may see it, else the system for a system admin, else its first tenant."""
    import os

    from core.access import require_read
    from core.config import load_settings
    from core.errors import NotFound
    from tui.runtime import set_session_actor

    settings = ctx.settings if not callable(ctx) else load_settings()
    actor = key_actor(settings, name, os.environ.get(SSH_CLIENT_ENV))
    set_session_actor(actor)
    if slug is not None:
        require_read(actor.grant, slug)
        return slug
    if actor.grant.may_read(None):
        return None
    context = ctx() if callable(ctx) else ctx
    start = first_tenant(context)
    if start is None:
        raise NotFound(f"the key {name!r} ({actor.grant.describe()}) covers no existing tenant")
    return start
