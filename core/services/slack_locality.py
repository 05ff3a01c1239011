"""An owner's time zone and locale in Slack words: `/mailbell timezone [ZONE]` and
`/mailbell locale [LOCALE]`, for the channel's tenant or, `tenant` None, the system.

A value is checked and stored by the settings service (the keys `timezone` and `locale`: the
same rules and audit entry as `settings set` and the HTTP API). The words `system` and
`default` stand for the empty value: a tenant's setting is unset (its mail follows the
system's again), the system's goes back to UTC or en_US.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session

from core.crypto import SecretBox
from core.locality import Locality, format_datetime, rendering_in
from core.models.tenancy import (
    LOCALITY_SETTINGS,
    NotificationSettingsRead,
    NotificationSettingsUpdate,
    Tenant,
)
from core.services.audit import Actor
from core.services.notifications import get_notification_settings, update_notification_settings
from core.vocabulary import DEFAULT_LOCALE, DEFAULT_TIMEZONE

RESET_WORDS = ("system", "default")
_SYSTEM_DEFAULTS = {"timezone": DEFAULT_TIMEZONE, "locale": DEFAULT_LOCALE}
# The moment the answers show in the owner's zone and locale: a fixed afternoon in November.
SAMPLE = datetime(2026, 11, 3, 14, 5, tzinfo=UTC)


@dataclass(frozen=True)
class LocalityLine:
    """One of the owner's two settings as Slack shows it."""

    name: str  # timezone or locale
    own: str | None  # the owner's value; a tenant's None follows the system's
    effective: str  # what its mail reads in
    sample: str  # SAMPLE as its mail shows it now


def _line(read: NotificationSettingsRead, name: str) -> LocalityLine:
    with rendering_in(Locality(read.effective_timezone, read.effective_locale)):
        sample = format_datetime(SAMPLE)
    effective = read.effective_timezone if name == "timezone" else read.effective_locale
    return LocalityLine(name, getattr(read, name), effective, sample)


def locality_line(*, session: Session, tenant: Tenant | None, name: str) -> LocalityLine:
    """`name` (`timezone` or `locale`) of `tenant`, or of the system when it is None."""
    assert name in LOCALITY_SETTINGS
    return _line(get_notification_settings(session=session, tenant=tenant), name)


def set_locality(
    *,
    session: Session,
    box: SecretBox,
    tenant: Tenant | None,
    name: str,
    value: str,
    actor: Actor,
) -> tuple[LocalityLine, bool]:
    """Set `name` to `value` (`system` / `default`: unset, or the default for the system);
    the line after the change and whether it changed. Refused as every front end refuses it,
    naming the field and the rule."""
    assert name in LOCALITY_SETTINGS
    given = "" if value.strip().lower() in RESET_WORDS else value
    changes = NotificationSettingsUpdate.parse({name: given}, system=tenant is None)
    before = get_notification_settings(session=session, tenant=tenant)
    # What the service will store: a tenant's "" is None, the system's the default.
    wanted = changes.given()[name] or (_SYSTEM_DEFAULTS[name] if tenant is None else None)
    if getattr(before, name) == wanted:
        return _line(before, name), False  # no audit entry
    after = update_notification_settings(
        session=session, box=box, tenant=tenant, changes=changes, actor=actor
    )
    return _line(after, name), True
