"""The served OpenAPI document agrees with the models, field by field.

For every request and response schema of `/api/openapi.yaml` that a model describes, each field
must be in both, with the same JSON type, nullability (responses), enum and limits (maxLength,
minimum, maximum, exclusive bounds, maxItems); the required fields must agree. The document is
the one the real app serves. Where the wire differs from a model on purpose, the difference is
spelled out here once, and only through the adapter that makes it (`api.portsip`: recipients
comma-joined, toggles flat) or the model's own serialisation (`TemplateRead.as_dict`: `from`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from api import portsip
from api.routes.events import EventRequest
from api.routes.mail_server_oauth import OAuthComplete
from api.routes.notification import TestEmailRequest
from api.routes.templates import TemplateCreate, TemplateUpdateBody
from api.routes.v1_deliveries import ResendBody
from api.routes.v1_preview import PreviewBody
from api.routes.v1_slack import RoutesBody
from api.routes.v1_tenants import TenantCreate, TenantRename
from api.routes.v1_tokens import TokenCreateBody
from core.digest_policy import setting_name
from core.models.delivery_read import DeliveryRead
from core.models.mail import (
    EmailAccountCreate,
    EmailAccountRead,
    EmailAccountUpdate,
    MailServerCreate,
    MailServerRead,
    MailServerUpdate,
)
from core.models.templates import TemplateRead
from core.models.tenancy import (
    NotificationSettingsRead,
    NotificationSettingsUpdate,
)
from core.models.webhooks import WebhookCreate
from core.services.settings_document import ExportDocument
from core.vocabulary import (
    DIGEST_EVENTS,
    SYSTEM_TOGGLES,
    TENANT_TOGGLES,
    Channel,
    DeliveryStatus,
    EventName,
    RecipientMode,
    TemplateName,
)
from tests.api.conftest import ApiClient

LIMITS = ("maxLength", "minLength", "maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum",
          "maxItems", "minItems")  # fmt: skip


@dataclass(frozen=True)
class Facts:
    """What a schema says of one field, in one vocabulary for both documents."""

    type: str | None
    nullable: bool
    enum: frozenset[Any] | None
    limits: Mapping[str, Any]
    items: Facts | None = None


@dataclass(frozen=True)
class Case:
    schema: str  # the name in components/schemas
    model: type[BaseModel]
    request: bool
    # wire field → how the model's field reads on the wire (the adapter's translations)
    wire: Callable[[dict[str, Facts]], dict[str, Facts]] = lambda fields: fields
    # fields the document may describe that no model carries (with why)
    document_only: frozenset[str] = field(default_factory=frozenset)


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
    if "allOf" in schema and len(schema["allOf"]) == 1:
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        return {**_resolve(schema["allOf"][0], root), **merged}
    return schema


def _facts(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Facts:
    """A JSON Schema (pydantic's 2020-12 or OpenAPI 3.0's) as Facts."""
    schema = _resolve(schema, root)
    nullable = bool(schema.get("nullable"))
    options = [o for o in schema.get("anyOf", ()) if _resolve(o, root).get("type") != "null"]
    if "anyOf" in schema:
        nullable = nullable or len(options) < len(schema["anyOf"])
        assert len(options) == 1, schema
        inner = _facts(options[0], root)
        return Facts(inner.type, nullable, inner.enum, inner.limits, inner.items)
    enum = schema.get("enum")
    if enum is not None and None in enum:
        nullable, enum = True, [value for value in enum if value is not None]
    limits = {name: schema[name] for name in LIMITS if name in schema}
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if limits.get(bound) is True:  # OpenAPI 3.0: a flag on minimum/maximum
            limits[bound] = limits.pop(plain)
        elif limits.get(bound) is False:
            del limits[bound]
    items = _facts(schema["items"], root) if "items" in schema else None
    return Facts(schema.get("type"), nullable, frozenset(enum) if enum else None, limits, items)


def _model_fields(model: type[BaseModel]) -> tuple[dict[str, Facts], set[str]]:
    schema = model.model_json_schema(mode="validation")
    root = {"$defs": schema.get("$defs", {})}
    properties = schema.get("properties", {})
    return {name: _facts(prop, root) for name, prop in properties.items()}, set(
        schema.get("required", ())
    )


def _document_fields(document: Mapping[str, Any], name: str) -> tuple[dict[str, Facts], set[str]]:
    schema = _resolve(document["components"]["schemas"][name], document)
    properties = schema.get("properties", {})
    return {n: _facts(p, document) for n, p in properties.items()}, set(schema.get("required", ()))


# -- the adapters' translations ----------------------------------------------------------------

TOGGLE = Facts("boolean", False, None, {})
STRING = Facts("string", False, None, {})


def _settings_read_on_the_wire(fields: dict[str, Facts]) -> dict[str, Facts]:
    """`portsip.to_portsip`: recipients comma-joined; the toggles flat; `tenant` and
    `configured` not on the wire; the scope-only fields present in their scope only."""
    wire = {name: fields[name] for name in portsip.SERVER_VIEW}
    wire["recipients"] = STRING
    wire.update(dict.fromkeys((*TENANT_TOGGLES, *SYSTEM_TOGGLES), TOGGLE))
    apply_all, effective = fields["apply_to_all_tenants"], fields["effective_mail_server"]
    wire["apply_to_all_tenants"] = Facts(apply_all.type, False, None, apply_all.limits)
    wire["effective_mail_server"] = Facts(
        effective.type, False, frozenset({"tenant", "system", "none"}), effective.limits
    )
    # mailbell's delivery settings: the mode as stored, the switch in the tenant's object only,
    # the digests one string key each.
    wire["recipient_mode"] = fields["recipient_mode"]
    _stored_names(wire, {"recipient_mode": RecipientMode})
    wire["use_system_server"] = TOGGLE
    wire.update(dict.fromkeys((setting_name(e) for e in DIGEST_EVENTS), STRING))
    # The owner's own time zone and locale (a tenant's null follows the system's).
    wire.update({name: fields[name] for name in ("timezone", "locale")})
    return wire


def _settings_update_on_the_wire(fields: dict[str, Facts]) -> dict[str, Facts]:
    """`portsip.from_portsip`: recipients comma-joined (the model's limit is said in words);
    `recipient_mode` checked by its rule against the vocabulary the document lists."""
    wire = {**fields, "recipients": STRING}
    mode = wire["recipient_mode"]
    wire["recipient_mode"] = Facts(mode.type, mode.nullable, frozenset(RecipientMode), {})
    return wire


def _stored_names(fields: dict[str, Facts], enums: Mapping[str, type[StrEnum]]) -> None:
    """Read models that keep a column's stored string (`str`) take their values from the
    vocabulary the rows are written from: the document lists that vocabulary."""
    for name, enum in enums.items():
        facts = fields[name]
        fields[name] = Facts(facts.type, facts.nullable, frozenset(e.value for e in enum), {})


def _template_read_on_the_wire(fields: dict[str, Facts]) -> dict[str, Facts]:
    """`TemplateRead.as_dict`: `mail_from` is `from`; `name` is one of the reference's 14 (the
    template endpoints show no other); `locale` "" (every locale) is null."""
    wire = dict(fields)
    wire["from"] = wire.pop("mail_from")
    locale = wire["locale"]
    wire["locale"] = Facts(locale.type, True, locale.enum, locale.limits)
    _stored_names(wire, {"name": TemplateName})
    return wire


def _delivery_on_the_wire(fields: dict[str, Facts]) -> dict[str, Facts]:
    """`delivery_public` rows, `DeliveryRead`'s fields: event, channel and status as stored."""
    wire = dict(fields)
    _stored_names(wire, {"event": EventName, "channel": Channel, "status": DeliveryStatus})
    return wire


CASES = [
    Case(
        "NotificationSettingsUpdate",
        NotificationSettingsUpdate,
        request=True,
        wire=_settings_update_on_the_wire,
        document_only=frozenset(portsip.READ_ONLY),  # read-only: ignored when posted back
    ),
    Case(
        "NotificationSettings",
        NotificationSettingsRead,
        request=False,
        wire=_settings_read_on_the_wire,
    ),
    Case("TestEmailRequest", TestEmailRequest, request=True),
    Case("TemplateCreate", TemplateCreate, request=True),
    Case("TemplateUpdate", TemplateUpdateBody, request=True),
    Case("CustomTemplate", TemplateRead, request=False, wire=_template_read_on_the_wire),
    Case("EventRequest", EventRequest, request=True),
    Case("Delivery", DeliveryRead, request=False, wire=_delivery_on_the_wire),
    Case("WebhookCreate", WebhookCreate, request=True),
    Case("MailServerCreate", MailServerCreate, request=True),
    Case("MailServerUpdate", MailServerUpdate, request=True),
    Case("MailServer", MailServerRead, request=False),
    Case("EmailAccountCreate", EmailAccountCreate, request=True),
    Case("EmailAccountUpdate", EmailAccountUpdate, request=True),
    Case("EmailAccount", EmailAccountRead, request=False),
    Case("OAuthComplete", OAuthComplete, request=True),
    Case("TenantCreateV1", TenantCreate, request=True),
    Case("TenantRenameV1", TenantRename, request=True),
    Case("TokenCreateV1", TokenCreateBody, request=True),
    Case("DeliveryResendV1", ResendBody, request=True),
    Case("TemplatePreviewRequestV1", PreviewBody, request=True),
    Case("SettingsDocumentV1", ExportDocument, request=True),
    Case("SlackRoutesV1", RoutesBody, request=True),
]


@pytest.fixture
async def document(api: ApiClient) -> dict[str, Any]:
    answer = await api.get("/api/openapi.yaml", token=None)
    assert answer.status == 200
    return yaml.safe_load(answer.text)


def _disagreements(case: Case, document: Mapping[str, Any]) -> list[str]:
    model_fields, model_required = _model_fields(case.model)
    model_fields = case.wire(model_fields)
    doc_fields, doc_required = _document_fields(document, case.schema)
    found = []
    for name in sorted(set(model_fields) | set(doc_fields)):
        if name not in doc_fields:
            found.append(f"{name}: in the model, not in the document")
            continue
        if name not in model_fields:
            if name not in case.document_only:
                found.append(f"{name}: in the document, not in the model")
            continue
        ours, theirs = model_fields[name], doc_fields[name]
        if ours.type != theirs.type:
            found.append(f"{name}: type {ours.type} in the model, {theirs.type} in the document")
        # A request's null is the same as leaving the field out (the document's rule), so
        # nullability is compared for answers only.
        if not case.request and ours.nullable != theirs.nullable:
            found.append(f"{name}: nullable {ours.nullable} / {theirs.nullable}")
        if ours.enum != theirs.enum:
            found.append(f"{name}: enum {sorted(ours.enum or ())} / {sorted(theirs.enum or ())}")
        if dict(ours.limits) != dict(theirs.limits):
            found.append(f"{name}: limits {dict(ours.limits)} / {dict(theirs.limits)}")
        if (ours.items and ours.items.enum) != (theirs.items and theirs.items.enum):
            found.append(f"{name}: item enum differs")
    if case.request and model_required != doc_required:
        found.append(f"required: {sorted(model_required)} / {sorted(doc_required)}")
    if not case.request and not doc_required <= set(model_fields):
        found.append(f"required fields the model lacks: {sorted(doc_required - set(model_fields))}")
    return found


@pytest.mark.parametrize("case", CASES, ids=[case.schema for case in CASES])
async def test_document_and_model_agree(case: Case, document: dict[str, Any]) -> None:
    assert _disagreements(case, document) == []


async def test_every_request_body_of_the_document_is_checked(document: dict[str, Any]) -> None:
    """A request schema added to the document without a model here fails this test."""
    bodies = set()
    for operations in document["paths"].values():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {})
            for media in content.values():
                bodies.add(media["schema"]["$ref"].rsplit("/", 1)[-1])
    assert bodies <= {case.schema for case in CASES if case.request}


async def test_the_check_sees_a_disagreement(document: dict[str, Any]) -> None:
    """The comparison is not vacuous: a changed limit, type or enum in the document is seen."""
    schemas = document["components"]["schemas"]
    case = CASES[0]
    schemas[case.schema]["properties"]["port"]["maximum"] = 65536
    schemas[case.schema]["properties"]["tls_verify"] = {"type": "string"}
    schemas["Security"]["enum"] = ["none", "tls"]
    found = _disagreements(case, document)
    assert any(line.startswith("port: limits") for line in found), found
    assert any(line.startswith("tls_verify: type") for line in found), found
    assert any(line.startswith("security: enum") for line in found), found
