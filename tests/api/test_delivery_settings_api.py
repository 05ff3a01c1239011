"""mailbell's delivery settings over `/api/tenant/notification`: the digest policies
(`digest.EVENT`), `recipient_mode` and `use_system_server`, as extension fields of the flat
object (the PortSIP fields unchanged)."""

from __future__ import annotations

from tests.api.conftest import ApiClient

PATH = "/api/tenant/notification"
ACME = f"{PATH}?tenant=acme"  # with the system token: not fenced to resolvable hosts
OWN_SERVER = {"server": "smtp.acme.example", "auth": "DISABLE", "mail_from": "pbx@acme.example"}


async def test_a_digest_policy_is_posted_and_read_back(api: ApiClient) -> None:
    before = (await api.get(PATH)).body
    assert before["digest.QUEUE_CALL_LOST"] == "off"  # the suite's MAILBELL_DIGEST_DEFAULT
    answer = await api.post(PATH, {"digest.QUEUE_CALL_LOST": "5/10m"})
    assert answer.status == 200, answer.body
    assert answer.body["digest.QUEUE_CALL_LOST"] == "5/10m"
    read = (await api.get(PATH)).body
    assert read["digest.QUEUE_CALL_LOST"] == "5/10m"
    assert read["digest.QUEUE_SLA"] == "off"
    # a policy given in seconds reads in the largest unit that divides it; posting back what
    # was read (the read-only field included) changes nothing
    assert (await api.post(ACME, OWN_SERVER, token="system")).status == 200
    assert (await api.post(PATH, {"digest.QUEUE_SLA": "2/7200"})).body["digest.QUEUE_SLA"] == (
        "2/2h"
    )
    again = await api.post(ACME, (await api.get(PATH)).body, token="system")
    assert again.status == 200, again.body
    assert (again.body["digest.QUEUE_SLA"], again.body["digest.QUEUE_CALL_LOST"]) == (
        "2/2h",
        "5/10m",
    )
    # the PortSIP fields are where they were, before the extensions
    keys = list(read)
    assert keys.index("notify_queue_call_lost") < keys.index("recipient_mode")
    assert keys.index("recipient_mode") < keys.index("digest.QUEUE_CALL_LOST")


async def test_a_bad_policy_is_400_naming_the_field_and_the_rule(api: ApiClient) -> None:
    for value in ("5/10x", "many", "2000/10m", "1/2d", "-1/10m"):
        answer = await api.post(PATH, {"digest.QUEUE_CALL_LOST": value})
        assert answer.status == 400, (value, answer.body)
        assert answer.body["field"] == "digest.QUEUE_CALL_LOST"
        assert "must be AFTER/WINDOW such as 3/10m" in answer.body["error"], answer.body
        assert value in answer.body["error"]
    answer = await api.post(PATH, {"digest.QUEUE_CALL_LOST": 5})
    assert (answer.status, answer.body["field"]) == (400, "digest.QUEUE_CALL_LOST")
    assert "JSON string" in answer.body["error"]
    assert (await api.get(PATH)).body["digest.QUEUE_CALL_LOST"] == "off"


async def test_a_digest_key_of_the_other_scope_is_an_unknown_field(api: ApiClient) -> None:
    answer = await api.post(PATH, {"digest.DISK_LOW": "3/10m"})
    assert (answer.status, answer.body["field"]) == (400, "digest.DISK_LOW")
    assert "is not a known field" in answer.body["error"]
    answer = await api.post(PATH, {"digest.QUEUE_CALL_LOST": "3/10m"}, token="system")
    assert (answer.status, answer.body["field"]) == (400, "digest.QUEUE_CALL_LOST")
    answer = await api.post(PATH, {"digest.DISK_LOW": "1/1h"}, token="system")
    assert answer.status == 200, answer.body
    assert answer.body["digest.DISK_LOW"] == "1/1h"
    assert "digest.QUEUE_CALL_LOST" not in answer.body


async def test_recipient_mode_and_the_system_server_switch(api: ApiClient) -> None:
    answer = await api.post(PATH, {"recipient_mode": "bcc", "use_system_server": True})
    assert answer.status == 200, answer.body
    assert (answer.body["recipient_mode"], answer.body["use_system_server"]) == ("bcc", True)
    # the switch is followed only while the system applies its server to all tenants
    assert answer.body["effective_mail_server"] == "none"
    refused = await api.post(PATH, {"recipient_mode": "cc"})
    assert (refused.status, refused.body["field"]) == (400, "recipient_mode")
    assert "to, bcc, individual" in refused.body["error"], refused.body
    refused = await api.post(PATH, {"use_system_server": "yes please"})
    assert (refused.status, refused.body["field"]) == (400, "use_system_server")
    refused = await api.post(PATH, {"use_system_server": True}, token="system")
    assert (refused.status, refused.body["field"]) == (400, "use_system_server")


async def test_the_switch_reads_system_once_the_system_applies_its_server(api: ApiClient) -> None:
    system = {
        "server": "mail.example.net",
        "auth": "DISABLE",
        "mail_from": "ops@example.net",
        "apply_to_all_tenants": True,
    }
    assert (await api.post(PATH, system, token="system")).status == 200
    answer = await api.post(ACME, OWN_SERVER, token="system")
    assert answer.body["effective_mail_server"] == "tenant"
    answer = await api.post(PATH, {"use_system_server": True})
    assert answer.body["effective_mail_server"] == "system"
    assert answer.body["server"] == "smtp.acme.example"  # the tenant keeps its own server
    assert "effective_mail_server_note" not in answer.body
