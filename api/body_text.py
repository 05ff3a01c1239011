"""Text in a request body must be storable: no lone surrogate and no NUL, in any value or key.

JSON may escape a UTF-16 surrogate on its own (`"\\ud800"`), and `json.loads` turns it into a
Python string that cannot be encoded to UTF-8; it may also escape NUL (`"\\u0000"`), which
PostgreSQL text cannot hold. Accepted, either would fail later, where it is stored, rendered or
sent (a 500, or a delivery that can never be sent). So a decoded body is walked once, and such a
string is refused with 400 naming the top-level field and, in the message, where below it
(`data.caller_name`, `recipients[2]`).
"""

from __future__ import annotations

from typing import Any

from core.errors import ValidationError


def _problem(text: str) -> str | None:
    """What makes `text` unstorable, or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "a lone surrogate, which is not valid Unicode text"
    if "\x00" in text:
        return "a NUL character (\\u0000), which text cannot hold"
    return None


def _shown(text: str) -> str:
    """`text` safe to put in a message: escaped (`\\ud800`, `\\x00`), and short."""
    escaped = text.encode("unicode_escape").decode("ascii")
    return escaped if len(escaped) <= 40 else escaped[:37] + "..."


def _refuse(field: str, where: str | None, what: str, problem: str) -> ValidationError:
    place = f"{where}: " if where else ""
    return ValidationError(field, f"{place}{what} contains {problem}")


def refuse_unstorable_text(body: dict[str, Any]) -> None:
    """Raise `ValidationError` for a string (value or key) that cannot be stored."""
    # (top-level field, path shown in the message, value): a stack, not recursion, because
    # json.loads accepts nesting deeper than Python's recursion limit allows to walk.
    todo: list[tuple[str, str, Any]] = []
    for key, value in body.items():
        if problem := _problem(key):
            raise _refuse("body", None, f"the field name '{_shown(key)}'", problem)
        todo.append((key, key, value))
    while todo:
        field, where, value = todo.pop()
        if isinstance(value, str):
            if problem := _problem(value):
                raise _refuse(field, where, "the value", problem)
        elif isinstance(value, dict):
            for key, item in value.items():
                if problem := _problem(key):
                    raise _refuse(field, where, f"the key '{_shown(key)}'", problem)
                todo.append((field, f"{where}.{key}", item))
        elif isinstance(value, list):
            todo.extend((field, f"{where}[{index}]", item) for index, item in enumerate(value))
