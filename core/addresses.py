"""The syntax rule of an email address, shared by the field rules (core/validation.py) and the
sender rules (core/senders.py), which each word its refusal.

email-validator refuses special-use names (`.local`, `.test`, …) outright, yet an internal relay
delivers to them: such an address is checked as if its domain were public (one label added, then
taken off again) and accepted; `reserved_domain` lets a front end warn about it.
"""

from __future__ import annotations

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

__all__ = ["EmailNotValidError", "normalized_address", "reserved_domain"]

_PUBLIC_PROBE = "com"


def reserved_domain(address: str) -> str | None:
    """The special-use name (`local`, `test`, …) the address's domain is or ends in, else None."""
    domain = address.rpartition("@")[2].strip().rstrip(">").strip().lower()
    for name in SPECIAL_USE_DOMAIN_NAMES:
        if domain == name or domain.endswith("." + name):
            return name
    return None


def normalized_address(value: str) -> str:
    """`value` normalised by email-validator's syntax rules, reserved domains allowed.

    Raises `EmailNotValidError`, for callers with their own wording (core/senders.py).
    """
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        local, at, domain = value.rpartition("@")
        if not (at and "." in domain and reserved_domain(value)):
            raise
    probe = f"{local}@{domain}.{_PUBLIC_PROBE}"
    return validate_email(probe, check_deliverability=False).normalized.removesuffix(
        f".{_PUBLIC_PROBE}"
    )
