"""Digest policies in Slack words: `/mailbell digest [EVENT [AFTER WINDOW | off]]`.

Events are named as in `enable` (`queue_call_lost`, `QUEUE_SLA`, `notify_queue_callback`); a
policy is checked and stored by the settings service (the key `digest.EVENT`, the same rule and
audit entry as `settings set` and the HTTP API).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session

from core.catalog import EVENTS, Event
from core.crypto import SecretBox
from core.digest_policy import digest_events, parse_policy, setting_name
from core.errors import ValidationError
from core.models.tenancy import NotificationSettingsUpdate, Tenant
from core.services.audit import Actor
from core.services.notifications import get_notification_settings, update_notification_settings
from core.services.slack import resolve_events, short_name


@dataclass(frozen=True)
class DigestLine:
    """One event's policy as Slack shows it."""

    short: str  # queue_call_lost
    event: str  # QUEUE_CALL_LOST
    policy: str  # 3/10m, or off


def _digest_events() -> list[Event]:
    return [EVENTS[name] for name in digest_events(system=False)]


def digest_lines(*, session: Session, tenant: Tenant) -> list[DigestLine]:
    """Each digest event of a tenant with its policy (defaults included), in catalogue order."""
    policies = get_notification_settings(session=session, tenant=tenant).digests
    return [DigestLine(short_name(e), e.name, policies[e.name]) for e in _digest_events()]


def digest_event(name: str) -> Event:
    """The tenant digest event `name` stands for, or a ValidationError listing the valid names."""
    valid = _digest_events()
    [event] = resolve_events([name], valid=list(EVENTS.values()))
    if event not in valid:
        names = ", ".join(short_name(e) for e in valid)
        raise ValidationError(
            "event",
            f"{name} has no digests (only events sent to the tenant's recipients are held); "
            f"valid: {names}",
        )
    return event


def policy_words(words: Sequence[str]) -> str:
    """`AFTER WINDOW` (`5 10m`), `AFTER/WINDOW` or `off` as the settings' value."""
    if len(words) == 2:
        return f"{words[0]}/{words[1]}"
    return words[0]


def set_digest(
    *,
    session: Session,
    box: SecretBox,
    tenant: Tenant,
    name: str,
    policy: str,
    actor: Actor,
) -> tuple[DigestLine, bool]:
    """Set one event's policy (`5/10m`, `off`); the line after the change and whether it
    changed. Refused as every front end refuses it, naming `digest.EVENT` and the rule."""
    event = digest_event(name)
    key = setting_name(event.name)
    changes = NotificationSettingsUpdate.parse({key: policy}, system=False)
    before = get_notification_settings(session=session, tenant=tenant).digests[event.name]
    if parse_policy(key, changes.digest_changes()[event.name]).shown() == before:
        return DigestLine(short_name(event), event.name, before), False  # no audit entry
    after = update_notification_settings(
        session=session, box=box, tenant=tenant, changes=changes, actor=actor
    ).digests[event.name]
    return DigestLine(short_name(event), event.name, after), True
