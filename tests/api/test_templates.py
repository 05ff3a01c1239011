"""Default and custom email templates over HTTP, as in the reference."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core.catalog import PORTSIP_NAMES as NAMES  # the reference's 14, no more
from tests.api.conftest import ApiClient

DEFAULTS = "/api/default_email_templates"
CUSTOM = "/api/custom_email_templates"


async def test_list_default_templates(api: ApiClient) -> None:
    answer = await api.get(DEFAULTS)
    assert answer.status == 200
    assert [t["name"] for t in answer.body] == list(NAMES)
    for template in answer.body:
        assert set(template) == {"name", "from", "subject", "body"}
        assert template["subject"] and template["body"]


async def test_get_default_template_any_case(api: ApiClient) -> None:
    answer = await api.get(f"{DEFAULTS}/queue_call_lost")
    assert answer.status == 200
    assert answer.body["name"] == "QUEUE_CALL_LOST"
    assert "{{" in answer.body["body"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"{DEFAULTS}/NOT_A_TEMPLATE", None),
        ("GET", f"{CUSTOM}/NOT_A_TEMPLATE", None),
        ("POST", f"{CUSTOM}/NOT_A_TEMPLATE", {"subject": "x"}),
        ("DELETE", f"{CUSTOM}/NOT_A_TEMPLATE", None),
        ("POST", CUSTOM, {"name": "NOT_A_TEMPLATE", "subject": "x"}),
    ],
)
async def test_unknown_template_name_is_404_with_the_valid_names(
    api: ApiClient, db_dump: Callable[[], str], method: str, path: str, body: object
) -> None:
    before = db_dump()
    answer = await api.request(method, path, json_body=body)
    assert answer.status == 404, answer.body
    assert answer.body["field"] == "name"
    assert "NOT_A_TEMPLATE" in answer.body["error"]
    assert all(name in answer.body["error"] for name in NAMES)
    assert db_dump() == before


async def test_custom_template_flow(api: ApiClient) -> None:
    path = f"{CUSTOM}/QUEUE_CALL_LOST"
    assert (await api.get(path)).status == 404  # none yet: the default is used
    assert (await api.get(CUSTOM)).body == []

    created = await api.post(
        CUSTOM,
        {
            "name": "QUEUE_CALL_LOST",
            "from": "Acme PBX <pbx@acme.example>",
            "subject": "Lost call in {{ queue_name }}",
            "body": "<p>{{ caller }} hung up after {{ waiting_seconds }} s</p>",
        },
    )
    assert created.status == 200, created.body
    assert created.body["name"] == "QUEUE_CALL_LOST"
    assert created.body["from"] == "Acme PBX <pbx@acme.example>"

    read = await api.get(path)
    assert read.status == 200
    assert read.body["subject"] == "Lost call in {{ queue_name }}"
    assert [t["name"] for t in (await api.get(CUSTOM)).body] == ["QUEUE_CALL_LOST"]

    updated = await api.post(path, {"subject": "Call lost: {{ queue_name }}"})
    assert updated.status == 200, updated.body
    assert updated.body["subject"] == "Call lost: {{ queue_name }}"
    assert updated.body["body"] == "<p>{{ caller }} hung up after {{ waiting_seconds }} s</p>"

    # what GET returned can be posted back (name and timestamps are read-only)
    again = await api.post(path, (await api.get(path)).body)
    assert again.status == 200, again.body

    # another tenant does not see it
    assert (await api.get(path, token="globex")).status == 404

    deleted = await api.delete(path)
    assert deleted.status == 200
    assert deleted.body == {"name": "QUEUE_CALL_LOST", "deleted": True, "default": True}
    assert (await api.get(path)).status == 404
    assert (await api.delete(path)).status == 404


async def test_create_with_only_a_name_starts_from_the_default(api: ApiClient) -> None:
    created = await api.post(CUSTOM, {"name": "voicemail_received"})
    assert created.status == 200
    default = (await api.get(f"{DEFAULTS}/VOICEMAIL_RECEIVED")).body
    assert (created.body["subject"], created.body["body"]) == (default["subject"], default["body"])


async def test_create_twice_is_409(api: ApiClient) -> None:
    assert (await api.post(CUSTOM, {"name": "QUEUE_SLA"})).status == 200
    answer = await api.post(CUSTOM, {"name": "QUEUE_SLA", "subject": "x"})
    assert answer.status == 409
    assert "update it" in answer.body["error"]


async def test_update_without_custom_template_is_404(api: ApiClient) -> None:
    answer = await api.post(f"{CUSTOM}/QUEUE_SLA", {"subject": "x"})
    assert answer.status == 404
    assert "no custom QUEUE_SLA template" in answer.body["error"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (CUSTOM, {"subject": "no name"}, "name"),
        (CUSTOM, {"name": 7}, "name"),
        (CUSTOM, {"name": "QUEUE_SLA", "subject": 12}, "subject"),
        (CUSTOM, {"name": "QUEUE_SLA", "body": ["<p>"]}, "body"),
        (CUSTOM, {"name": "QUEUE_SLA", "colour": "red"}, "colour"),
        (CUSTOM, {"name": "QUEUE_SLA", "subject": "{{ unclosed"}, "subject"),
        (CUSTOM, {"name": "QUEUE_SLA", "body": "{{ no_such_variable }}"}, "body"),
        (CUSTOM, {"name": "QUEUE_SLA", "from": "Alerts <not an address>"}, "from"),
        (CUSTOM, {"name": "QUEUE_SLA", "from": "Q <{{ queue_name }}@acme.example>"}, "from"),
        (CUSTOM, {"name": "DISK_LOW"}, "tenant"),  # a system event, per tenant
        (f"{CUSTOM}/QUEUE_CALL_LOST", {"name": "QUEUE_SLA"}, "name"),
        (f"{CUSTOM}/QUEUE_CALL_LOST", {"subject": False}, "subject"),
        (f"{CUSTOM}/QUEUE_CALL_LOST", {"body": "{% for %}"}, "body"),
        (f"{CUSTOM}/QUEUE_CALL_LOST", {"title": "x"}, "title"),
    ],
)
async def test_template_bad_input(
    api: ApiClient, db_dump: Callable[[], str], path: str, body: dict[str, object], field: str
) -> None:
    assert (await api.post(CUSTOM, {"name": "QUEUE_CALL_LOST"})).status == 200
    before = db_dump()
    answer = await api.post(path, body)
    assert answer.status == 400, answer.body
    assert answer.body["field"] == field, answer.body
    assert db_dump() == before


async def test_system_templates_belong_to_the_system_scope(api: ApiClient) -> None:
    created = await api.post(CUSTOM, {"name": "DISK_LOW", "subject": "Disk low on {{ host }}"},
                             token="system")  # fmt: skip
    assert created.status == 200, created.body
    assert [t["name"] for t in (await api.get(CUSTOM, token="system")).body] == ["DISK_LOW"]
    assert (await api.get(CUSTOM)).body == []
    # a tenant event at system level is refused
    refused = await api.post(CUSTOM, {"name": "QUEUE_SLA"}, token="system")
    assert (refused.status, refused.body["field"]) == (400, "tenant")
    # a system token customises a tenant's template with ?tenant=
    named = await api.post(f"{CUSTOM}?tenant=acme", {"name": "QUEUE_SLA"}, token="system")
    assert named.status == 200
    assert [t["name"] for t in (await api.get(CUSTOM)).body] == ["QUEUE_SLA"]
