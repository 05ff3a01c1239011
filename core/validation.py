"""Field rules shared by every model and service: addresses, recipients, ports, single-line text,
hosts, secrets, CA bundles.

Each check raises `ValidationError(field, message)`; messages name the value and the rule.
`rule(check)` puts a check on a pydantic field, and `parse_fields(Model, data)` validates input
into a model, turning pydantic's failure into ours (`from_pydantic`) with the same messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import formataddr
from typing import Any, ClassVar, Self, TypeVar

from email_validator import EmailNotValidError
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationInfo
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError

from core.addresses import normalized_address
from core.errors import ValidationError
from core.senders import SenderRuleError, one_mailbox
from core.vocabulary import (
    MAX_RECIPIENTS,
    PORT_MAX,
    PORT_MIN,
    RATE_LIMIT_MAX_PER_MINUTE,
    SECRET_MAX_LENGTH,
    TOKEN_EXPIRY_UNITS,
)

M = TypeVar("M", bound=BaseModel)

SECRET_FIELDS = frozenset(
    {
        "password",
        "imap_password",
        "oauth_client_secret",
        "oauth_refresh_token",
        "token",
        # a proxy URL may carry its password
        "proxy",
        "proxy_password",
    }
)
TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})


def single_line(field: str, value: str, *, max_length: int | None = None) -> str:
    if "\r" in value or "\n" in value:
        raise ValidationError(field, "must be a single line (CR and LF are not allowed)")
    if max_length is not None and len(value) > max_length:
        raise ValidationError(
            field, f"is {len(value)} characters long; at most {max_length} are allowed"
        )
    return value


def email_address(field: str, value: str) -> str:
    """A bare address (`user@example.com`), normalised; anything else is refused.

    Addresses on reserved domains (`ops@example.local`) are valid: internal relays deliver them.
    """
    value = single_line(field, value.strip())
    try:
        return normalized_address(value)
    except EmailNotValidError as exc:
        raise ValidationError(field, f"{value!r} is not a valid email address: {exc}") from None


def mailbox(field: str, value: str) -> str:
    """Exactly one address with an optional display name (`Ops <ops@example.com>`).

    A list (`a@x.org, b@y.org`, `a@x.org;b@y.org`) is refused, not cut to its first address:
    the sender headers of a message hold one mailbox each (core/senders.py).
    """
    value = single_line(field, value.strip())
    try:
        name, address = one_mailbox(field, value)
    except SenderRuleError:
        several = "," in value or ";" in value
        rule = (
            "holds several addresses or a group: exactly one mailbox is allowed"
            if several
            else "is not a valid email address"
        )
        raise ValidationError(
            field, f"{value!r} {rule}: give one address, e.g. Ops <ops@x.org>"
        ) from None
    address = email_address(field, address)
    return formataddr((name, address)) if name else address


def recipients(field: str, value: str | Iterable[str] | None) -> list[str]:
    """Comma-separated (or a list of) addresses: each valid, duplicates removed, order kept, ≤15."""
    if value is None:
        return []
    if isinstance(value, str):
        single_line(field, value)
        items = [part.strip() for part in value.replace(";", ",").split(",")]
    else:
        items = [str(part).strip() for part in value]
    seen: dict[str, str] = {}
    for item in items:
        if not item:
            continue
        address = email_address(field, item)
        seen.setdefault(address.lower(), address)
    result = list(seen.values())
    if len(result) > MAX_RECIPIENTS:
        raise ValidationError(
            field, f"has {len(result)} addresses; at most {MAX_RECIPIENTS} are allowed"
        )
    return result


def port(field: str, value: Any) -> int:
    number = integer(field, value)
    if not PORT_MIN <= number <= PORT_MAX:
        raise ValidationError(
            field, f"{number} is out of range: use {PORT_MIN}-{PORT_MAX} (0 is reserved)"
        )
    return number


def integer(field: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ValidationError(field, f"{value!r} is not a whole number")
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValidationError(field, f"{value!r} is not a whole number") from None


def boolean(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValidationError(field, f"{value!r} is not a boolean: use true or false")


def choice(field: str, value: Any, allowed: Iterable[str], *, upper: bool) -> str:
    options = tuple(allowed)
    text = str(value).strip()
    text = text.upper() if upper else text.lower()
    if text not in options:
        raise ValidationError(field, f"{value!r} is not one of {', '.join(options)}")
    return text


def known_fields(changes: Mapping[str, Any], allowed: Iterable[str]) -> None:
    valid = set(allowed)
    for name in changes:
        if name not in valid:
            raise ValidationError(
                name, f"is not a known field; known fields: {', '.join(sorted(valid))}"
            )


def text(max_length: int) -> Callable[[str, Any], str]:
    """One line of text, trimmed, at most `max_length` characters."""

    def clean(field: str, value: Any) -> str:
        return single_line(field, str(value).strip(), max_length=max_length)

    return clean


def required_text(max_length: int, hint: str = "") -> Callable[[str, Any], str]:
    """`text`, and not empty (`hint` completes "is required")."""

    def clean(field: str, value: Any) -> str:
        result = single_line(
            field, str(value if value is not None else "").strip(), max_length=max_length
        )
        if not result:
            raise ValidationError(field, "is required" + hint)
        return result

    return clean


def optional(clean: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    """Empty or None clears an optional field; anything else is checked by `clean`."""

    def wrapped(field: str, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return clean(field, value)

    return wrapped


def host(field: str, value: Any) -> str:
    name = single_line(field, str(value).strip(), max_length=255)
    if any(ch.isspace() for ch in name):
        raise ValidationError(field, f"{name!r} is not a host name: spaces are not allowed")
    return name


def timeout(field: str, value: Any) -> float:
    try:
        number = float(str(value).strip()) if not isinstance(value, (int, float)) else float(value)
    except ValueError:
        raise ValidationError(field, f"{value!r} is not a number of seconds") from None
    if isinstance(value, bool) or not 0 < number <= 600:
        raise ValidationError(
            field, f"{value!r} is out of range: use more than 0 and at most 600 s"
        )
    return number


def rate_limit(field: str, value: Any) -> int:
    number = integer(field, value)
    if not 0 <= number <= RATE_LIMIT_MAX_PER_MINUTE:
        raise ValidationError(
            field,
            f"{number} is out of range: use 0 (no limit) to {RATE_LIMIT_MAX_PER_MINUTE} per minute",
        )
    return number


def secret(field: str, value: Any) -> str | None:
    """A write-only secret; empty means "keep the stored one" (None). A longer secret than
    `SECRET_MAX_LENGTH` is a mistake (or an attack): every later use would carry it."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(field, "must be a string")
    if len(value) > SECRET_MAX_LENGTH:
        raise ValidationError(
            field, f"is {len(value)} characters long; at most {SECRET_MAX_LENGTH} are allowed"
        )
    return value or None


CA_PEM_MAX_BYTES = 64 * 1024


def ca_pem(field: str, value: Any) -> str:
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


def rule(check: Callable[[str, Any], Any]) -> BeforeValidator:
    """A pydantic field validator running `check(field, value)`; its refusal travels through
    pydantic as a `mailbell` error carrying our field and message (see `from_pydantic`)."""

    def validate(value: Any, info: ValidationInfo) -> Any:
        try:
            return check(info.field_name or "", value)
        except ValidationError as exc:
            raise PydanticCustomError(
                "mailbell", "{message}", {"field": exc.field, "message": exc.message}
            ) from None

    return BeforeValidator(validate)


def from_pydantic(
    exc: PydanticValidationError, model: type[BaseModel] | None = None
) -> ValidationError:
    """A pydantic failure as ours: an unknown field first (as `known_fields` says it), else the
    first broken rule, else the first missing field. Our rules' messages come back unchanged;
    a missing field "is required" (or what the model's `required_hints` says); other pydantic
    errors name the offending value (never a secret's)."""
    errors = exc.errors(include_url=False)
    unknown = [e for e in errors if e["type"] == "extra_forbidden"]
    # As the services checked: unknown names, then the values given, then what is missing.
    error = (unknown or [e for e in errors if e["type"] != "missing"] or errors)[0]
    field = str(error["loc"][0]) if error["loc"] else "body"
    if error["type"] == "mailbell":
        context = error.get("ctx") or {}
        return ValidationError(str(context.get("field") or field), str(context.get("message")))
    if unknown and model is not None:
        known = ", ".join(sorted(model.model_fields))
        message = getattr(model, "unknown_message", None)
        return ValidationError(field, message or f"is not a known field; known fields: {known}")
    if error["type"] == "missing":
        hints: Mapping[str, str] = getattr(model, "required_hints", {}) if model else {}
        return ValidationError(field, hints.get(field, "is required"))
    message = error["msg"].removeprefix("Value error, ")
    if field not in SECRET_FIELDS and "input" in error and not isinstance(error["input"], dict):
        message = f"{message} (got {error['input']!r})"
    return ValidationError(field, message)


def parse_fields(model: type[M], data: Mapping[str, Any]) -> M:
    """`data` validated into `model` (unknown names refused), or our `ValidationError`."""
    try:
        return model.model_validate(dict(data))
    except PydanticValidationError as exc:
        raise from_pydantic(exc, model) from None


class InputModel(BaseModel):
    """Base of the Create/Update models: unknown names refused, enum fields kept as their
    string values (what the columns store). Build one from a front end's mapping with
    `from_fields`; the fields given are `model_fields_set` (`given()`)."""

    model_config = ConfigDict(extra="forbid", use_enum_values=True)
    # What "is required" says of a field left out, when more than that (`from_pydantic`).
    required_hints: ClassVar[Mapping[str, str]] = {}
    # What an unknown field is told, when not the list of the known ones.
    unknown_message: ClassVar[str | None] = None

    @classmethod
    def from_fields(cls, data: Mapping[str, Any]) -> Self:
        return parse_fields(cls, data)

    def given(self) -> dict[str, Any]:
        """The fields the caller gave, with their checked values."""
        return self.model_dump(exclude_unset=True)


_AGE = re.compile(r"(\d{1,6})([mhdw])")


def point_in_time(text: str, *, now: datetime | None = None) -> datetime:
    """A time filter's value (`--since`, `?since=`) as an aware UTC time: an ISO date or time
    (UTC unless it says) or an age (30m, 12h, 7d, 2w: that long before `now`). ValueError for
    anything else; each front end words the refusal its own way."""
    value = text.strip()
    age = _AGE.fullmatch(value.lower())
    try:
        if age:
            seconds = int(age[1]) * TOKEN_EXPIRY_UNITS[age[2]]
            return (now or datetime.now(UTC)) - timedelta(seconds=seconds)
        when = datetime.fromisoformat(value)
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except OverflowError as exc:  # an age or an offset reaching before the year 1
        raise ValueError(str(exc)) from None
