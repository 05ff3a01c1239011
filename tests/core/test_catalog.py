from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from core import catalog
from core.errors import NotFound, ValidationError
from core.models.tenancy import SYSTEM_TOGGLES, TENANT_TOGGLES

NAMES = {
    "USER_CREATION", "QUEUE_SLA", "QUEUE_CALLBACK", "QUEUE_CALLBACK_FAILED", "QUEUE_CALL_LOST",
    "VOICEMAIL_RECEIVED", "CALL_REPORT_COMPLETED", "CONFERENCE_INVITATION", "DISK_LOW",
    "LICENSE_LIMITED", "RECHARGE", "EMERGENCY_CALL", "TRUNK_CONNECTED", "TRUNK_DISCONNECTED",
}  # fmt: skip


def test_the_fourteen_names_of_the_reference_then_mailbell_s_own() -> None:
    assert set(catalog.PORTSIP_NAMES) == NAMES
    assert len(catalog.PORTSIP_NAMES) == 14
    expected = (*catalog.PORTSIP_NAMES, "MAIL_HEALTH", "SYSTEM_MAIL_HEALTH")
    assert tuple(catalog.NAMES) == expected


def test_scopes_toggles_and_audiences_follow_the_design() -> None:
    tenant_toggles = {e.toggle for e in catalog.EVENTS.values() if e.scope == "tenant"}
    system_toggles = {e.toggle for e in catalog.EVENTS.values() if e.scope == "system"}
    assert tenant_toggles == {*TENANT_TOGGLES, None}
    assert system_toggles == set(SYSTEM_TOGGLES)
    always_on = {name for name, e in catalog.EVENTS.items() if e.toggle is None}
    assert always_on == {"VOICEMAIL_RECEIVED", "CALL_REPORT_COMPLETED", "CONFERENCE_INVITATION"}
    for name in always_on:
        assert catalog.EVENTS[name].audience == "payload_email"
        assert catalog.variables(name)["email"] == {
            "type": "email",
            "required": True,
            "description": catalog.variables(name)["email"]["description"],
        }
    assert catalog.EVENTS["USER_CREATION"].audience == "payload_email_or_tenant_recipients"
    assert catalog.EVENTS["QUEUE_SLA"].audience == "tenant_recipients"
    assert catalog.EVENTS["QUEUE_SLA"].toggle == "notify_queue_sla_breached"
    assert catalog.EVENTS["TRUNK_DISCONNECTED"].audience == "system_recipients"


@pytest.mark.parametrize("name", sorted(NAMES))
def test_sample_and_minimal_payloads_validate_and_serialise(name: str) -> None:
    event = catalog.get_event(name)
    event.sample_payload()
    minimal = event.minimal_payload()
    assert set(event.sample) == set(event.payload.model_fields)  # the sample shows every variable
    assert json.loads(json.dumps(catalog.sample(name))) == catalog.sample(name)
    for field, info in event.payload.model_fields.items():
        assert info.description, f"{name}.{field} has no description"
        if not info.is_required():
            assert getattr(minimal, field) is None


def test_get_event_is_case_insensitive_and_lists_valid_names() -> None:
    assert catalog.get_event("queue_sla").name == "QUEUE_SLA"
    assert catalog.get_event(" Trunk_Connected ").name == "TRUNK_CONNECTED"
    with pytest.raises(NotFound) as missing:
        catalog.get_event("QUEUE_SLAA")
    assert "USER_CREATION" in str(missing.value) and "TRUNK_DISCONNECTED" in str(missing.value)
    with pytest.raises(ValidationError) as invalid:
        catalog.get_event("nope", field="name")
    assert invalid.value.field == "name"
    assert "QUEUE_CALL_LOST" in invalid.value.message


def test_variables_describe_types_and_requirement() -> None:
    sla = catalog.variables("QUEUE_SLA")
    assert {"queue_name", "queue_number", "sla_seconds", "waiting_seconds", "caller"} <= set(sla)
    assert sla["sla_seconds"]["type"] == "integer"
    assert sla["occurred_at"]["type"] == "datetime"
    assert sla["caller_name"]["required"] is False
    assert sla["queue_name"]["required"] is True
    trunk = catalog.variables("TRUNK_DISCONNECTED")
    assert {"trunk_name", "host", "since"} <= set(trunk)
    user = catalog.variables("USER_CREATION")
    assert {"extension_number", "password", "pbx_domain", "login_address"} <= set(user)
    assert user["email"] == {
        "type": "email",
        "required": False,
        "description": user["email"]["description"],
    }
    assert "qr_code_src" in user and user["qr_code_src"]["required"] is False
    assert catalog.variables("DISK_LOW")["free_gb"]["type"] == "number"


def test_missing_required_variable_is_named() -> None:
    data = dict(catalog.EVENTS["QUEUE_SLA"].sample)
    del data["caller"]
    with pytest.raises(ValidationError) as error:
        catalog.validate_payload("QUEUE_SLA", data)
    assert error.value.field == "data"
    assert "'caller'" in error.value.message and "missing" in error.value.message


@pytest.mark.parametrize("name", ["VOICEMAIL_RECEIVED", "CONFERENCE_INVITATION", "USER_CREATION"])
def test_payload_email_must_be_an_address(name: str) -> None:
    data = dict(catalog.EVENTS[name].sample, email="not-an-address")
    with pytest.raises(ValidationError) as error:
        catalog.validate_payload(name, data)
    assert "'email'" in error.value.message


def test_naive_datetimes_are_utc_and_unknown_keys_are_ignored() -> None:
    data = dict(catalog.EVENTS["TRUNK_CONNECTED"].sample, since="2026-01-02T03:04:05", extra=1)
    payload = catalog.validate_payload("TRUNK_CONNECTED", data)
    assert payload.since == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)  # type: ignore[attr-defined]
    assert not hasattr(payload, "extra")


def test_login_uri_encodes_the_account_and_escapes_values() -> None:
    payload = catalog.EVENTS["USER_CREATION"].sample_payload()
    uri = catalog.login_uri(payload)  # type: ignore[arg-type]
    assert uri == (
        "sip:1001@acme.pbx.example.com?server=203.0.113.10%3A5060&password=x7%23Qm2%21pLr"
    )
