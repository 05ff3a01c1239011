"""Notification settings of a tenant or of the system: read (with the system's time zone and
locale, which a tenant's unset ones follow), save, the recipients rule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from tui.runtime import actor, owner

if TYPE_CHECKING:
    from core.context import Context
    from core.models.tenancy import NotificationSettingsRead


@dataclass(frozen=True)
class SettingsView:
    slug: str | None
    values: NotificationSettingsRead
    effective: str  # tenant, system, none
    server: str | None
    # A tenant's page: the system's (timezone, locale), which its unset values follow.
    inherited: tuple[str, str] | None = None


def load(ctx: Context, slug: str | None) -> SettingsView:
    from core.services.mail_servers import resolve_effective_server
    from core.services.notifications import get_notification_settings, system_locality

    with ctx.session() as session:
        tenant = owner(session, slug)
        values = get_notification_settings(session=session, tenant=tenant)
        effective = resolve_effective_server(session=session, tenant=tenant)
        server = effective.server
        label = f"{server.name} ({server.host}:{server.port})" if server else None
        inherited = None
        if tenant is not None:
            system = system_locality(session)
            inherited = (system.timezone, system.locale)
    # Babel's data for the example line, loaded here on the worker thread, not on the UI's.
    from core.locality import preload

    preload(values.effective_locale)
    zone_names()
    return SettingsView(slug, values, effective.source or "none", label, inherited)


def save(ctx: Context, slug: str | None, changes: dict[str, Any]) -> None:
    from core.models.tenancy import NotificationSettingsUpdate
    from core.services.notifications import update_notification_settings

    with ctx.session() as session:
        tenant = owner(session, slug, write=True)
        update_notification_settings(
            session=session,
            box=ctx.box,
            tenant=tenant,
            changes=NotificationSettingsUpdate.parse(changes, system=tenant is None),
            actor=actor(),
        )


def combine_recipients(current: list[str], typed: str) -> tuple[list[str], str | None]:
    """`current` plus the addresses in `typed` (comma or semicolon separated) and None, or
    `current` and the rule they break (an invalid address, more than MAX_RECIPIENTS…)."""
    from core import validation as v
    from core.errors import ValidationError

    try:
        return v.recipients("recipients", [*current, *typed.replace(";", ",").split(",")]), None
    except ValidationError as exc:
        return current, exc.message


# The time the settings' example line shows, as a tenant's mail would.
DATE_SAMPLE = datetime(2026, 11, 3, 14, 5, tzinfo=UTC)


def date_example(timezone: str, locale: str) -> str:
    """`Dates read: 3 nov. 2026, 15:05 CET`: the sample time as mail renders it in the pair,
    or why it cannot be shown (the zone typed so far is not one)."""
    from core.errors import ValidationError
    from core.locality import (
        Locality,
        check_locale,
        check_timezone,
        format_datetime,
        rendering_in,
    )

    try:
        locality = Locality(check_timezone("timezone", timezone), check_locale("locale", locale))
    except ValidationError as exc:
        # The whole rule is shown under the field on save; here, while typing, a short hint.
        hint = "type a zone such as Europe/Paris" if exc.field == "timezone" else exc.message
        return f"Dates read: — ({hint})"
    with rendering_in(locality):
        return f"Dates read: {format_datetime(DATE_SAMPLE)}"


@cache
def zone_names() -> tuple[str, ...]:
    """Every IANA zone name, sorted: the time zone field's suggestions (read once: the zone
    database is a directory walk)."""
    import zoneinfo

    return tuple(sorted(zoneinfo.available_timezones()))
