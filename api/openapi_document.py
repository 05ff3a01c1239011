"""The OpenAPI document `GET /api/openapi.yaml` serves: `openapi.yaml` beside this module, with
the settings' server fields it does not describe yet added from the models (also to the test
email's body, which may carry them unsaved).

A mail server field added to `core.models.mail` is a setting too (core.models.tenancy): its
property in `NotificationSettingsUpdate` and `NotificationSettings` comes from the settings
models' JSON Schema, in OpenAPI 3.0's words (`nullable`, boolean exclusive bounds), as one JSON
flow mapping (valid YAML) under the schema's `properties:`. A field the file describes is served
as written (its words and examples), so the file alone is served byte for byte while it
describes every field; tests/api/test_openapi_models.py checks that both agree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel

OPENAPI_PATH = Path(__file__).resolve().parent / "openapi.yaml"
PROPERTY_INDENT = " " * 8
# JSON Schema words that OpenAPI 3.0 says the same way.
SAME_WORDS = ("type", "enum", "format", "maxLength", "minLength", "maximum", "minimum",
              "maxItems", "minItems")  # fmt: skip


@cache
def document() -> bytes:
    """The served document (built on first use)."""
    from core.models.tenancy import (
        SERVER_SETTING_COLUMNS,
        SERVER_VIEW,
        NotificationSettingsRead,
        NotificationSettingsUpdate,
    )

    text = OPENAPI_PATH.read_bytes().decode()
    text = _with_fields(
        text, "NotificationSettingsUpdate", NotificationSettingsUpdate, SERVER_SETTING_COLUMNS
    )
    text = _with_fields(
        text, "NotificationSettings", NotificationSettingsRead, SERVER_VIEW, nullable=True
    )
    from api.routes.notification import UNSAVED_SETTINGS, TestEmailRequest

    text = _with_fields(text, "TestEmailRequest", TestEmailRequest, UNSAVED_SETTINGS)
    return text.encode()


def _with_fields(
    text: str,
    schema: str,
    model: type[BaseModel],
    names: Iterable[str],
    *,
    nullable: bool = False,
) -> str:
    """`text` with a property for each of `names` that the schema's `properties:` lacks."""
    header = re.search(rf"^    {schema}:\n", text, re.MULTILINE)
    if header is None:
        return text
    block_end = re.search(r"^    \S", text[header.end() :], re.MULTILINE)
    end = header.end() + (block_end.start() if block_end else len(text) - header.end())
    block = text[header.end() : end]
    properties = re.search(r"^      properties:\n", block, re.MULTILINE)
    if properties is None:
        return text
    listed = block[properties.end() :]
    described = set(re.findall(rf"^{PROPERTY_INDENT}([\w.]+):", listed, re.MULTILINE))
    json_schema = model.model_json_schema(mode="validation")
    defs = json_schema.get("$defs", {})
    lines = "".join(
        f"{PROPERTY_INDENT}{name}: "
        f"{json.dumps(_openapi(json_schema['properties'][name], defs, nullable=nullable))}\n"
        for name in names
        if name not in described and name in json_schema["properties"]
    )
    at = header.end() + properties.end()
    return text[:at] + lines + text[at:]


def _openapi(schema: Mapping[str, Any], defs: Mapping[str, Any], *, nullable: bool) -> dict:
    """One property of pydantic's JSON Schema (2020-12) as OpenAPI 3.0 says it; a request's
    null is the same as leaving the field out, so only answers say `nullable`."""
    if "$ref" in schema:
        schema = {**defs[schema["$ref"].rsplit("/", 1)[-1]], **schema}
    if "anyOf" in schema:
        options = [option for option in schema["anyOf"] if option.get("type") != "null"]
        result = _openapi(options[0], defs, nullable=nullable)
        if nullable and len(options) < len(schema["anyOf"]):
            result["nullable"] = True
            if "enum" in result:
                result["enum"] = [*result["enum"], None]
        return result
    result = {word: schema[word] for word in SAME_WORDS if word in schema}
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if bound in schema:
            result[plain], result[bound] = schema[bound], True
    if "items" in schema:
        result["items"] = _openapi(schema["items"], defs, nullable=False)
    return result
