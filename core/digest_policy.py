"""Digest policies: how many events of a burst go one by one, and how long a window lasts.

Written `AFTER/WINDOW` (`3/10m`, `5/90s`, `10/1h`; a bare number of seconds too) or `off`, in the
settings key `digest.EVENT` of every front end; stored as `AFTER/SECONDS` or `off`. An event an
owner never set has the operator's default (`MAILBELL_DIGEST_DEFAULT`, `3/10m`). Standard library
only: the CLI and the TUI's widgets read it cheaply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from core.errors import ValidationError
from core.vocabulary import (
    DIGEST_AFTER_DEFAULT,
    DIGEST_AFTER_MAX,
    DIGEST_SETTING_PREFIX,
    DIGEST_SYSTEM_EVENTS,
    DIGEST_TENANT_EVENTS,
    DIGEST_WINDOW_DEFAULT_S,
    DIGEST_WINDOW_MAX_S,
)

OFF = "off"
_UNITS = {"s": 1, "m": 60, "h": 3600}
_POLICY = re.compile(r"^\s*(\d{1,6})\s*/\s*(\d{1,6})\s*([smh]?)\s*$", re.IGNORECASE)
RULE = (
    f"must be AFTER/WINDOW such as 3/10m (AFTER 0-{DIGEST_AFTER_MAX}, WINDOW in s, m or h, "
    f"at most 24h; a window of 0 turns digests off) or off"
)


@dataclass(frozen=True, slots=True)
class DigestPolicy:
    """`after` events of a window go one by one; the rest wait for the window's digest."""

    after: int
    window_s: int

    @property
    def enabled(self) -> bool:
        return self.window_s > 0

    def stored(self) -> str:
        return f"{self.after}/{self.window_s}" if self.enabled else OFF

    def shown(self) -> str:
        """As the settings show it: `3/10m`, or `off`."""
        return f"{self.after}/{format_window(self.window_s)}" if self.enabled else OFF


DEFAULT_POLICY = DigestPolicy(DIGEST_AFTER_DEFAULT, DIGEST_WINDOW_DEFAULT_S)
DISABLED = DigestPolicy(0, 0)


def format_window(seconds: int) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_policy(field: str, value: Any) -> DigestPolicy:
    """`value` (`3/10m`, `off`, a policy) as a policy, or a ValidationError naming `field`."""
    if isinstance(value, DigestPolicy):
        return value
    if value is None or isinstance(value, bool):
        raise ValidationError(field, RULE)
    text = str(value).strip()
    if text.lower() in (OFF, "0"):
        return DISABLED
    match = _POLICY.match(text)
    if match is None:
        raise ValidationError(field, f"{text!r} {RULE}")
    after, amount, unit = int(match[1]), int(match[2]), (match[3] or "s").lower()
    window = amount * _UNITS[unit]
    if after > DIGEST_AFTER_MAX or window > DIGEST_WINDOW_MAX_S:
        raise ValidationError(field, f"{text!r} {RULE}")
    return DigestPolicy(after, window) if window > 0 else DISABLED


def stored_policy(stored: str | None, default: DigestPolicy) -> DigestPolicy:
    """A policy as the settings row stores it (None: the default)."""
    if stored is None:
        return default
    try:
        return parse_policy("digest", stored)
    except ValidationError:
        return default


def setting_name(event: str) -> str:
    return f"{DIGEST_SETTING_PREFIX}{event}"


def event_of_setting(name: str) -> str | None:
    """`digest.QUEUE_CALL_LOST` → `QUEUE_CALL_LOST`; None for any other name."""
    if not name.startswith(DIGEST_SETTING_PREFIX):
        return None
    return name[len(DIGEST_SETTING_PREFIX) :].upper()


def digest_events(*, system: bool) -> tuple[str, ...]:
    """The events of the system's (or a tenant's) settings that digests apply to."""
    return tuple(str(name) for name in (DIGEST_SYSTEM_EVENTS if system else DIGEST_TENANT_EVENTS))


def setting_names(*, system: bool) -> tuple[str, ...]:
    """The `digest.EVENT` settings of the scope."""
    return tuple(setting_name(event) for event in digest_events(system=system))


def default_policy() -> DigestPolicy:
    """The operator's default (`MAILBELL_DIGEST_DEFAULT`); a value that does not parse is the
    built-in `3/10m`."""
    from core.config import load_settings

    try:
        return parse_policy("MAILBELL_DIGEST_DEFAULT", load_settings().digest_default)
    except ValidationError:
        return DEFAULT_POLICY


def owner_policies(
    stored: dict[str, str], *, system: bool, default: DigestPolicy
) -> dict[str, DigestPolicy]:
    """Each digest event of the scope → its policy: the owner's, else `default`."""
    return {
        event: stored_policy(stored.get(event), default) for event in digest_events(system=system)
    }
