"""The fields of a mail server as callers give them: each cleaned (validated and normalised) by
one rule, unknown names refused. Used by `core.services.mail_servers` before anything changes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from core import validation as v
from core.errors import ValidationError
from core.models.mail import AUTH_MODES, PROVIDERS, SECURITY_MODES

SECRET_INPUTS = {"password": "password_enc", "oauth_client_secret": "oauth_client_secret_enc"}
OAUTH_TOKEN_COLUMNS = (
    "oauth_refresh_token_enc",
    "oauth_access_token_enc",
    "oauth_token_expires_at",
)
# Tokens are issued to one client and one user: changing any of these makes them someone else's.
OAUTH_IDENTITY_FIELDS = (
    "provider",
    "oauth_client_id",
    "oauth_client_secret",
    "oauth_directory_id",
    "username",
)
# A longer secret is a mistake (or an attack): every later delivery would carry it.
SECRET_MAX_LENGTH = 1024
CA_PEM_MAX_BYTES = 64 * 1024


class SystemOnlyField(ValidationError):
    """A field only system-level actors may set (the API answers 403)."""


def _optional(clean: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    """Empty or None clears an optional field."""

    def wrapped(field: str, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return clean(field, value)

    return wrapped


def _text(max_length: int) -> Callable[[str, Any], str]:
    def clean(field: str, value: Any) -> str:
        return v.single_line(field, str(value).strip(), max_length=max_length)

    return clean


def _required_text(max_length: int) -> Callable[[str, Any], str]:
    def clean(field: str, value: Any) -> str:
        text = v.single_line(
            field, str(value if value is not None else "").strip(), max_length=max_length
        )
        if not text:
            raise ValidationError(field, "is required")
        return text

    return clean


def _host(field: str, value: Any) -> str:
    host = v.single_line(field, str(value).strip(), max_length=255)
    if any(ch.isspace() for ch in host):
        raise ValidationError(field, f"{host!r} is not a host name: spaces are not allowed")
    return host


def _timeout(field: str, value: Any) -> float:
    try:
        number = float(str(value).strip()) if not isinstance(value, (int, float)) else float(value)
    except ValueError:
        raise ValidationError(field, f"{value!r} is not a number of seconds") from None
    if isinstance(value, bool) or not 0 < number <= 600:
        raise ValidationError(
            field, f"{value!r} is out of range: use more than 0 and at most 600 s"
        )
    return number


def _rate_limit(field: str, value: Any) -> int:
    number = v.integer(field, value)
    if not 0 <= number <= 100_000:
        raise ValidationError(
            field, f"{number} is out of range: use 0 (no limit) to 100000 per minute"
        )
    return number


def _secret(field: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(field, "must be a string")
    if len(value) > SECRET_MAX_LENGTH:
        raise ValidationError(
            field, f"is {len(value)} characters long; at most {SECRET_MAX_LENGTH} are allowed"
        )
    return value or None


def _ca_pem(field: str, value: Any) -> str:
    """PEM text of one or more X.509 certificates, stored re-encoded: nothing but certificates
    (a private key pasted by mistake is not kept, since ca_pem reads back)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    if not isinstance(value, str):
        raise ValidationError(field, "must be PEM text (-----BEGIN CERTIFICATE----- …)")
    data = value.strip().encode("utf-8", "replace")
    if len(data) > CA_PEM_MAX_BYTES:
        raise ValidationError(field, f"is {len(data)} bytes long; a CA bundle may be at most 64 KB")
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ValidationError(
            field,
            "is not a PEM bundle of X.509 certificates "
            "(-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----)",
        ) from None
    return "".join(cert.public_bytes(Encoding.PEM).decode("ascii") for cert in certificates)


CLEANERS: dict[str, Callable[[str, Any], Any]] = {
    "name": _required_text(100),
    "provider": lambda f, x: v.choice(f, x, PROVIDERS, upper=True),
    "host": _optional(_host),
    "port": v.port,
    "security": lambda f, x: v.choice(f, x, SECURITY_MODES, upper=False),
    "auth": lambda f, x: v.choice(f, x, AUTH_MODES, upper=True),
    "username": _optional(_text(128)),
    "password": _secret,
    "mail_from": _optional(v.mailbox),
    "reply_to": _optional(v.mailbox),
    "timeout": _timeout,
    "rate_limit_per_minute": _rate_limit,
    "tls_verify": v.boolean,
    "ca_file": _optional(_text(1024)),
    "ca_pem": _optional(_ca_pem),
    "oauth_client_id": _optional(_text(255)),
    "oauth_client_secret": _secret,
    "oauth_directory_id": _optional(_text(255)),
    "is_default": v.boolean,
}
SERVER_FIELDS = tuple(CLEANERS)


def clean_server_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and normalise each given field; unknown names are refused."""
    v.known_fields(data, SERVER_FIELDS)
    return {name: CLEANERS[name](name, value) for name, value in data.items()}
