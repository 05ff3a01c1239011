"""Text in a request body must be valid Unicode: no lone surrogates, in any value or key.

JSON may escape a UTF-16 surrogate on its own (`"\\ud800"`), and `json.loads` turns it into a
Python string that cannot be encoded to UTF-8: accepted, it would fail later, where it is
stored, rendered or sent (a 500, or a delivery that can never be sent). So a decoded body is
walked once, and a string found so is refused with 400 naming the top-level field and,
in the message, where below it (`data.caller_name`, `recipients[2]`).
"""

from __future__ import annotations

from typing import Any

from core.errors import ValidationError


def _is_valid_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(text: str) -> str:
    """`text` safe to put in a message: escaped (`\\ud800`), and short."""
    escaped = text.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")
    return escaped if len(escaped) <= 40 else escaped[:37] + "..."


def _refuse(field: str, where: str | None, what: str) -> ValidationError:
    place = f"{where}: " if where else ""
    return ValidationError(
        field, f"{place}{what} contains a lone surrogate, which is not valid Unicode text"
    )


def refuse_lone_surrogates(body: dict[str, Any]) -> None:
    """Raise `ValidationError` for a string (value or key) that is not valid Unicode."""
    # (top-level field, path shown in the message, value): a stack, not recursion, because
    # json.loads accepts nesting deeper than Python's recursion limit allows to walk.
    todo: list[tuple[str, str, Any]] = []
    for key, value in body.items():
        if not _is_valid_unicode(key):
            raise _refuse("body", None, f"the field name '{_shown(key)}'")
        todo.append((key, key, value))
    while todo:
        field, where, value = todo.pop()
        if isinstance(value, str):
            if not _is_valid_unicode(value):
                raise _refuse(field, where, "the value")
        elif isinstance(value, dict):
            for key, item in value.items():
                if not _is_valid_unicode(key):
                    raise _refuse(field, where, f"the key '{_shown(key)}'")
                todo.append((field, f"{where}.{key}", item))
        elif isinstance(value, list):
            todo.extend((field, f"{where}[{index}]", item) for index, item in enumerate(value))
