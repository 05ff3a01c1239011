"""JSON types of request fields, read from the models' JSON Schemas.

The services validate values (limits, enums, addresses) for every front end alike; the CLI hands
them strings, so the models accept `"587"` for a port. Over HTTP the JSON type is part of the
contract, so it is checked first: a toggle must be a JSON boolean, a port a JSON integer. The
type of each field is the one its model's JSON Schema gives (the schema the OpenAPI document is
checked against), so no route keeps a type map of its own. Fields the model does not have are
passed through: the model refuses unknown names with its own message.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from core.errors import ValidationError
from core.validation import SECRET_FIELDS, known_fields

_DESCRIBE = {
    "boolean": "a JSON boolean (true or false)",
    "integer": "a JSON integer",
    "number": "a JSON number",
    "string": "a JSON string",
    "object": "a JSON object",
    "array": "a JSON array",
}


def _is(kind: str, value: Any) -> bool:
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    raise AssertionError(kind)


def json_name(value: Any) -> str:
    """What a decoded JSON value is, in words ("a string", "an array", …)."""
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


def _kind(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> str | None:
    if "$ref" in schema:
        return _kind(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    kind = schema.get("type")
    if isinstance(kind, str) and kind != "null":
        return kind
    for option in schema.get("anyOf", ()):
        found = _kind(option, defs)
        if found is not None:
            return found
    return None


@functools.cache
def json_kinds(model: type[BaseModel]) -> Mapping[str, str]:
    """Field name → JSON type (`boolean`, `integer`, …) from `model`'s JSON Schema."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    kinds = {}
    for name, field in schema.get("properties", {}).items():
        kind = _kind(field, defs)
        if kind is not None:
            kinds[name] = kind
    return kinds


@functools.cache
def field_names(model: type[BaseModel]) -> tuple[str, ...]:
    """The names a request body of `model` may carry (aliases, as on the wire); computed once
    per model (building a JSON Schema costs more than the rest of a request)."""
    return tuple(model.model_json_schema().get("properties", {}))


def json_fields(
    body: Mapping[str, Any],
    model: type[BaseModel],
    *,
    read_only: Iterable[str] = (),
    wire_types: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """`body` without nulls (the same as leaving a field out) and without `read_only` fields
    (returned by a GET, ignored so that a client may post back what it read), each field that
    `model` knows checked for its JSON type."""
    skip = set(read_only)
    given = {name: value for name, value in body.items() if value is not None and name not in skip}
    check_json_types(given, model, wire_types=wire_types)
    return given


def known_json_fields(
    body: Mapping[str, Any], model: type[BaseModel], *, read_only: Iterable[str] = ()
) -> dict[str, Any]:
    """`json_fields`, and a field `model` does not name refused (400 naming it, the known ones
    listed): a request body's fields are its model's."""
    fields = json_fields(body, model, read_only=read_only)
    known_fields(fields, field_names(model))
    return fields


def check_json_types(
    body: Mapping[str, Any],
    model: type[BaseModel],
    *,
    wire_types: Mapping[str, str] | None = None,
) -> None:
    """Each field of `body` that `model` knows must have its JSON type (`wire_types` overrides
    the model's for a field sent in another shape); else `ValidationError` naming the field."""
    kinds = {**json_kinds(model), **(wire_types or {})}
    for name, value in body.items():
        kind = kinds.get(name)
        if kind is not None and not _is(kind, value):
            secret = name in SECRET_FIELDS
            shown = "" if secret or isinstance(value, list | dict) else f" {_short(value)}"
            raise ValidationError(name, f"must be {_DESCRIBE[kind]}, got {json_name(value)}{shown}")


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."
