"""Field rules shared by every service: addresses, recipients, ports, single-line text.

Each check raises `ValidationError(field, message)`; messages name the value and the rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from email.utils import formataddr
from typing import Any, TypeVar

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from core.errors import ValidationError
from core.models.tenancy import MAX_RECIPIENTS
from core.senders import SenderRuleError, one_mailbox

M = TypeVar("M", bound=BaseModel)

SECRET_FIELDS = frozenset(
    {"password", "imap_password", "oauth_client_secret", "oauth_refresh_token", "token"}
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
    """A bare address (`user@example.com`), normalised; anything else is refused."""
    value = single_line(field, value.strip())
    try:
        return validate_email(value, check_deliverability=False).normalized
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
    if not 1 <= number <= 65535:
        raise ValidationError(field, f"{number} is out of range: use 1-65535 (0 is reserved)")
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


def from_pydantic(exc: PydanticValidationError) -> ValidationError:
    """The first error of a pydantic failure, as ours: top-level field, rule, offending value."""
    error = exc.errors(include_url=False)[0]
    field = str(error["loc"][0]) if error["loc"] else "body"
    message = error["msg"].removeprefix("Value error, ")
    if field not in SECRET_FIELDS and "input" in error and not isinstance(error["input"], dict):
        message = f"{message} (got {error['input']!r})"
    return ValidationError(field, message)


def parse_model(model: type[M], data: Mapping[str, Any]) -> M:
    try:
        return model.model_validate(dict(data))
    except PydanticValidationError as exc:
        raise from_pydantic(exc) from None
