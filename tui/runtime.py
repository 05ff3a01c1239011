"""What the TUI shares: who acts and which owner a scope names (for tui/data), how errors
read (for the screens).

Core is imported inside functions only: importing the TUI must not load SQLAlchemy, so the
first frame can be painted before the database is touched.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlmodel import Session

    from core.access import Grant
    from core.models.tenancy import Tenant
    from core.services.audit import Actor

log = logging.getLogger("mailbell.tui")

# Who this TUI process acts as: set once at start by `mailbell tui --as NAME` (and so by every
# SSH session, each its own process); None is the local login, a system admin.
_session_actor: Actor | None = None


def set_session_actor(actor: Actor | None) -> None:
    global _session_actor
    _session_actor = actor


def actor() -> Actor:
    """The person at the terminal, as the audit log records them: an SSH key's name (with the
    client's address over SSH), or the local login (source `tui`)."""
    if _session_actor is not None:
        return _session_actor
    from core.services.audit import local_actor

    return local_actor("tui")


def grant() -> Grant:
    """What this session's role allows (core/access.py)."""
    if _session_actor is not None:
        return _session_actor.grant
    from core.access import SYSTEM_ADMIN

    return SYSTEM_ADMIN


def session_label() -> str:
    """Who this session is, for the header: empty for the local login (a system admin)."""
    if _session_actor is None:
        return ""
    return f"{_session_actor.name} ({_session_actor.grant.describe()})"


def require_system_admin(what: str) -> None:
    """Forbidden unless this session is a system admin: for what exists only system-wide."""
    from core.access import require_system_admin as require

    require(grant(), what)


def owner(session: Session, slug: str | None, *, write: bool = False) -> Tenant | None:
    """The tenant a scope names, or None for the system scope; Forbidden when this session's
    role may not read it (or, with `write`, change it)."""
    from core.access import require_read, require_write

    (require_write if write else require_read)(grant(), slug)
    if slug is None:
        return None
    from core.services.tenants import get_tenant

    return get_tenant(session=session, slug=slug)


def error_text(exc: BaseException) -> str:
    """One line for a notification: the domain message, or the kind of failure and its reason."""
    from core.errors import MailbellError, ValidationError
    from tui.data.wording import for_tui, refusal

    if isinstance(exc, ValidationError):
        return refusal(exc.field, exc.message)  # the field as its form labels it
    if isinstance(exc, MailbellError):
        return for_tui(str(exc))
    if type(exc).__module__.startswith("sqlalchemy"):
        reason = getattr(exc, "orig", None) or exc
        return f"database: {reason}"
    log.error("unexpected error in the TUI", exc_info=exc)
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if str(exc) else text


def field_of(exc: BaseException) -> str | None:
    """The field a validation error names, if it is one."""
    from core.errors import ValidationError

    return exc.field if isinstance(exc, ValidationError) else None


def message_of(exc: BaseException) -> str:
    """The rule a validation error states, without its field name."""
    from core.errors import MailbellError
    from tui.data.wording import for_tui

    return for_tui(exc.message) if isinstance(exc, MailbellError) else error_text(exc)


def check(fn: Any, *args: Any, **kwargs: Any) -> str | None:
    """Run a core validator; the rule it states when it refuses, else None."""
    from core.errors import ValidationError
    from tui.data.wording import for_tui

    try:
        fn(*args, **kwargs)
    except ValidationError as exc:
        return for_tui(exc.message)
    return None
