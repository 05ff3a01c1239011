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

    from core.models.tenancy import Tenant
    from core.services.audit import Actor

log = logging.getLogger("mailbell.tui")


def actor() -> Actor:
    """The person at the terminal, as the audit log records them (source `tui`)."""
    from core.services.audit import local_actor

    return local_actor("tui")


def owner(session: Session, slug: str | None) -> Tenant | None:
    """The tenant a scope names, or None for the system scope."""
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
