"""Request bodies: `application/json`, at most 1 MiB, one JSON object with fields of JSON types.

The services validate values (limits, enums, addresses) for every front end alike; the CLI hands
them strings, so they accept `"587"` for a port. Over HTTP the JSON type is part of the
contract, so it is checked here first: a toggle must be a JSON boolean, a port a JSON integer.
A `null` is the same as leaving the field out. Fields that a GET returns but a POST cannot
change (read-only) are ignored, so a client may post back what it read; any other field the
endpoint does not know is refused with 400 naming it (the services' `known_fields` rule).

The body is read on the event loop (`read_body`: 413) and decoded in the request's database
call, after the token check (`Body.json_object`: 415, 400). Decoding also refuses what
`json.loads` lets through but nothing later can handle: an integer too long for Python to
convert, and text that is not valid Unicode (`api.body_text`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from api.body_text import refuse_unstorable_text
from api.errors import MAX_BODY_BYTES, ApiError
from core.errors import ValidationError
from core.validation import SECRET_FIELDS

MAX_NUMBER_DIGITS = sys.get_int_max_str_digits()
BOOLEAN, INTEGER, NUMBER, STRING, OBJECT = "boolean", "integer", "number", "string", "object"
_DESCRIBE = {
    BOOLEAN: "a JSON boolean (true or false)",
    INTEGER: "a JSON integer",
    NUMBER: "a JSON number",
    STRING: "a JSON string",
    OBJECT: "a JSON object",
}


def _is(kind: str, value: Any) -> bool:
    if kind == BOOLEAN:
        return isinstance(value, bool)
    if kind == INTEGER:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == STRING:
        return isinstance(value, str)
    if kind == OBJECT:
        return isinstance(value, dict)
    raise AssertionError(kind)


def _json_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null"


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


@dataclass(frozen=True)
class Body:
    """A request body read off the socket, decoded later (after the token check)."""

    raw: bytes
    content_type: str
    content_type_header: str

    def json_object(self) -> dict[str, Any]:
        """The body as a dict: 415 unless JSON, 400 when malformed or not an object."""
        if not _is_json(self.content_type):
            raise ApiError(
                415,
                f"Content-Type must be application/json (got {self.content_type_header[:100]!r})",
                field="body",
            )
        try:
            data = json.loads(self.raw)
        except UnicodeDecodeError:
            raise ApiError(400, "malformed JSON: the body is not UTF-8", field="body") from None
        except json.JSONDecodeError as exc:
            raise ApiError(
                400,
                f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                field="body",
            ) from None
        except RecursionError:
            raise ApiError(400, "malformed JSON: nested too deeply", field="body") from None
        except ValueError:  # Python refuses to convert an integer of over 4,300 digits
            raise ApiError(
                400,
                f"malformed JSON: a number has more than {MAX_NUMBER_DIGITS} digits",
                field="body",
            ) from None
        if not isinstance(data, dict):
            raise ApiError(
                400, f"the body must be a JSON object, not {_json_name(data)}", field="body"
            )
        refuse_unstorable_text(data)
        return data


async def read_body(request: web.Request) -> Body:
    """The raw body (413 over 1 MiB); decode it with `Body.json_object()`."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, f"the body is larger than {MAX_BODY_BYTES} bytes (1 MiB)") from None
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, f"the body is larger than {MAX_BODY_BYTES} bytes (1 MiB)")
    return Body(raw, request.content_type, request.headers.get("Content-Type") or "none")


def typed_fields(
    body: Mapping[str, Any],
    types: Mapping[str, str],
    *,
    read_only: Iterable[str] = (),
) -> dict[str, Any]:
    """`body` without nulls and read-only fields; each known field checked for its JSON type.

    Fields not in `types` are passed through untouched: the service refuses unknown names.
    """
    skip = set(read_only)
    cleaned: dict[str, Any] = {}
    for name, value in body.items():
        if value is None or name in skip:
            continue
        kind = types.get(name)
        if kind is not None and not _is(kind, value):
            secret = name in SECRET_FIELDS
            shown = "" if secret or isinstance(value, list | dict) else f" {_short(value)}"
            raise ValidationError(
                name, f"must be {_DESCRIBE[kind]}, got {_json_name(value)}{shown}"
            )
        cleaned[name] = value
    return cleaned


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."
