"""`/api/tenant/notification`: the PortSIP flow, every limit of the reference, scopes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlmodel import select

from core.context import Context
from core.models.mail import MailServer
from tests.api.conftest import ApiClient, smtp_settings
from tests.support.smtp_servers import FaultHandler, SmtpTestServer

PATH = "/api/tenant/notification"
PORTSIP_SETTINGS = {
    "type": "SMTP",
    "server": "localhost",
    "port": 587,
    "reply_to": "support@acme.example",
    "username": "alerts@acme.example",
    "password": "s3cret-Passw0rd",
    "auth": "LOGIN",
    "enable_tls_ssl": True,
    "enable_starttls_auto": False,
    "recipients": "ops@acme.example, noc@acme.example",
    "notify_user_registration": True,
    "notify_queue_sla_breached": True,
    "notify_queue_callback": False,
    "notify_queue_callback_failed": True,
    "notify_queue_call_lost": True,
}


async def test_unconfigured_tenant_reads_the_documented_defaults(api: ApiClient) -> None:
    answer = await api.get(PATH)
    assert answer.status == 200
    body = answer.body
    assert body["type"] == "SMTP"
    assert body["auth"] == "AUTO"
    assert body["enable_tls_ssl"] is True
    assert body["enable_starttls_auto"] is False
    assert body["recipients"] == ""
    assert all(
        body[name] is False
        for name in (
            "notify_user_registration",
            "notify_queue_sla_breached",
            "notify_queue_callback",
            "notify_queue_callback_failed",
            "notify_queue_call_lost",
        )
    )
    assert "password" not in body


async def test_portsip_flow_post_then_get_without_password(api: ApiClient) -> None:
    posted = await api.post(PATH, PORTSIP_SETTINGS)
    assert posted.status == 200, posted.body
    answer = await api.get(PATH)
    assert answer.status == 200
    body = answer.body
    for name, value in PORTSIP_SETTINGS.items():
        if name == "password":
            continue
        expected = "ops@acme.example,noc@acme.example" if name == "recipients" else value
        assert body[name] == expected, name
    assert "password" not in body
    assert "s3cret-Passw0rd" not in answer.text
    assert "s3cret-Passw0rd" not in posted.text
    assert body["security"] == "starttls"  # enable_tls_ssl with port 587: STARTTLS required


async def test_empty_or_missing_password_keeps_the_stored_one(api: ApiClient, ctx: Context) -> None:
    assert (await api.post(PATH, PORTSIP_SETTINGS)).status == 200
    assert (await api.post(PATH, {"password": "", "port": 2525})).status == 200
    assert (await api.post(PATH, {"server": "127.0.0.2"})).status == 200
    with ctx.session() as session:
        server = session.exec(select(MailServer)).one()
        assert server.password_enc is not None
        assert ctx.box.decrypt(server.password_enc) == "s3cret-Passw0rd"
        assert (server.port, server.host) == (2525, "127.0.0.2")


async def test_tls_flags_map_to_security_modes(api: ApiClient) -> None:
    base = {"server": "localhost", "username": "a@acme.example"}
    cases = [
        ({"port": 465, "enable_tls_ssl": True}, "tls"),
        ({"port": 587, "enable_tls_ssl": True}, "starttls"),
        ({"port": 25, "enable_tls_ssl": False, "enable_starttls_auto": True}, "starttls-auto"),
        ({"port": 25, "enable_tls_ssl": False, "enable_starttls_auto": False}, "none"),
    ]
    for flags, security in cases:
        answer = await api.post(PATH, {**base, **flags})
        assert answer.status == 200, answer.body
        assert answer.body["security"] == security
        assert answer.body["enable_tls_ssl"] is flags["enable_tls_ssl"]


async def test_round_trip_of_what_get_returned_is_accepted(api: ApiClient) -> None:
    assert (await api.post(PATH, PORTSIP_SETTINGS)).status == 200
    read = (await api.get(PATH)).body
    again = await api.post(PATH, read)  # effective_mail_server is read-only: ignored
    assert again.status == 200, again.body
    assert again.body == read


def _limit_cases() -> list[tuple[str, dict[str, object], str]]:
    many = ",".join(f"user{i}@acme.example" for i in range(16))
    return [
        ("port 0", {"server": "smtp.x.example", "username": "u", "port": 0}, "port"),
        ("port 65536", {"server": "smtp.x.example", "username": "u", "port": 65536}, "port"),
        ("port negative", {"port": -1}, "port"),
        ("port as string", {"port": "587"}, "port"),
        ("port as float", {"port": 587.5}, "port"),
        ("port as boolean", {"port": True}, "port"),
        ("username 129", {"server": "smtp.x.example", "username": "u" * 129}, "username"),
        ("16 recipients", {"recipients": many}, "recipients"),
        ("recipients as array", {"recipients": ["a@acme.example"]}, "recipients"),
        ("bad recipient", {"recipients": "ops@acme.example, not-an-address"}, "recipients"),
        ("type enum", {"type": "EXCHANGE"}, "type"),
        ("auth enum", {"auth": "CRAM-MD5"}, "auth"),
        ("security enum", {"security": "ssl"}, "security"),
        ("toggle as string", {"notify_queue_call_lost": "yes"}, "notify_queue_call_lost"),
        ("toggle as number", {"notify_user_registration": 1}, "notify_user_registration"),
        ("tls flag as string", {"enable_tls_ssl": "true"}, "enable_tls_ssl"),
        ("starttls flag number", {"enable_starttls_auto": 0}, "enable_starttls_auto"),
        ("server as number", {"server": 12345}, "server"),
        ("server as object", {"server": {"host": "x"}}, "server"),
        ("password as number", {"password": 1234}, "password"),
        ("reply_to invalid", {"reply_to": "nobody"}, "reply_to"),
        ("unknown field", {"smtp_host": "smtp.x.example"}, "smtp_host"),
        ("system field on a tenant", {"notify_disk_low": True}, "notify_disk_low"),
        ("first server without host", {"port": 25, "username": "u@x.example"}, "server"),
        ("first server without username", {"server": "smtp.x.example"}, "username"),
        ("toggle without recipients", {"notify_queue_call_lost": True}, "notify_queue_call_lost"),
        ("header injection", {"server": "smtp.x.example\r\nX: y", "username": "u"}, "server"),
    ]


@pytest.mark.parametrize(
    ("case", "body", "field"), _limit_cases(), ids=[c[0] for c in _limit_cases()]
)
async def test_each_limit_is_refused_naming_the_field_and_nothing_changes(
    api: ApiClient, db_dump: Callable[[], str], case: str, body: dict[str, object], field: str
) -> None:
    before = db_dump()
    answer = await api.post(PATH, body)
    assert answer.status == 400, (case, answer.body)
    assert answer.body["field"] == field, answer.body
    assert answer.body["error"]
    assert "Traceback" not in answer.text
    assert db_dump() == before


async def test_refused_update_of_a_configured_tenant_changes_nothing(
    api: ApiClient, db_dump: Callable[[], str]
) -> None:
    assert (await api.post(PATH, PORTSIP_SETTINGS)).status == 200
    before = db_dump()
    # a valid change together with a broken one: all or nothing
    answer = await api.post(PATH, {"server": "other.acme.example", "port": 70000})
    assert (answer.status, answer.body["field"]) == (400, "port")
    answer = await api.post(PATH, {"recipients": ""})  # toggles are on: recipients needed
    assert (answer.status, answer.body["field"]) == (400, "recipients")
    assert db_dump() == before


async def test_password_never_echoed_in_an_error(api: ApiClient) -> None:
    answer = await api.post(PATH, {"password": 987654321})
    assert answer.status == 400
    assert "987654321" not in answer.text


@pytest.mark.parametrize(
    ("data", "headers", "status", "field"),
    [
        (b'{"port": 25', {"Content-Type": "application/json"}, 400, "body"),
        (b"\xff\xfe{}", {"Content-Type": "application/json"}, 400, "body"),
        (b"", {"Content-Type": "application/json"}, 400, "body"),
        (b"[1, 2]", {"Content-Type": "application/json"}, 400, "body"),
        (b'"text"', {"Content-Type": "application/json"}, 400, "body"),
        (b"port=25", {"Content-Type": "application/x-www-form-urlencoded"}, 415, "body"),
        (b'{"port": 25}', {"Content-Type": "text/plain"}, 415, "body"),
        (b'{"port": 25}', {}, 415, "body"),
    ],
    ids=["truncated", "not-utf8", "empty", "array", "string", "form", "text-plain", "no-type"],
)
async def test_bad_bodies(
    api: ApiClient,
    db_dump: Callable[[], str],
    data: bytes,
    headers: dict[str, str],
    status: int,
    field: str,
) -> None:
    before = db_dump()
    answer = await api.request("POST", PATH, data=data, headers=headers)
    assert answer.status == status, answer.text
    assert answer.body["field"] == field
    assert answer.body["error"]
    assert db_dump() == before


async def test_two_mib_body_is_413(api: ApiClient, db_dump: Callable[[], str]) -> None:
    before = db_dump()
    big = b'{"recipients": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    answer = await api.request("POST", PATH, data=big, headers={"Content-Type": "application/json"})
    assert answer.status == 413
    assert "1 MiB" in answer.body["error"]
    assert db_dump() == before


async def test_system_scope_settings(api: ApiClient) -> None:
    read = await api.get(PATH, token="system")
    assert read.status == 200
    assert read.body["apply_to_all_tenants"] is False
    assert read.body["notify_disk_low"] is True
    answer = await api.post(
        PATH,
        {"apply_to_all_tenants": True, "recipients": "root@example.org", "notify_recharge": False},
        token="system",
    )
    assert answer.status == 200, answer.body
    assert answer.body["apply_to_all_tenants"] is True
    assert answer.body["notify_recharge"] is False
    # a tenant field on the system scope is refused
    refused = await api.post(PATH, {"notify_queue_call_lost": True}, token="system")
    assert (refused.status, refused.body["field"]) == (400, "notify_queue_call_lost")
    # the tenant's own object is unchanged and has no system fields
    tenant = (await api.get(PATH)).body
    assert "apply_to_all_tenants" not in tenant
    assert tenant["effective_mail_server"] == "none"


async def test_system_token_acts_on_a_named_tenant(api: ApiClient) -> None:
    answer = await api.post(
        f"{PATH}?tenant=globex", {"recipients": "it@globex.example"}, token="system"
    )
    assert answer.status == 200, answer.body
    assert (await api.get(PATH, token="globex")).body["recipients"] == "it@globex.example"
    assert (await api.get(PATH)).body["recipients"] == ""


# -- test_email ------------------------------------------------------------------------------


async def test_test_email_not_configured_is_409(api: ApiClient) -> None:
    answer = await api.post(
        f"{PATH}/test_email", {"recipient": "a@acme.example", "subject": "s", "content": "c"}
    )
    assert answer.status == 409
    assert "mail server" in answer.body["error"]


async def test_test_email_accepted(api: ApiClient, smtp_server: SmtpTestServer) -> None:
    assert (await api.post(PATH, smtp_settings(smtp_server))).status == 200
    answer = await api.post(
        f"{PATH}/test_email",
        {"recipient": "it@acme.example", "subject": "Hello", "content": "It <b>works</b>"},
    )
    assert answer.status == 200, answer.body
    assert answer.body["ok"] is True
    assert answer.body["reply"].startswith("250")
    (message,) = smtp_server.handler.wait_for(1)
    assert message.rcpt_tos == ["it@acme.example"]
    assert message.subject == "Hello"


async def test_test_email_refused_is_502_with_step_and_reply(
    api: ApiClient, smtp_servers: Callable[..., SmtpTestServer]
) -> None:
    server = smtp_servers(handler=FaultHandler(rcpt={"it@acme.example": "550 5.1.1 no such user"}))
    assert (await api.post(PATH, smtp_settings(server))).status == 200
    answer = await api.post(
        f"{PATH}/test_email", {"recipient": "it@acme.example", "subject": "s", "content": "c"}
    )
    assert answer.status == 502, answer.body
    assert answer.body["step"] == "rcpt"
    assert answer.body["reply"].startswith("550")
    assert answer.body["error"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"recipient": "nobody", "subject": "s", "content": "c"}, "recipient"),
        ({"subject": "s", "content": "c"}, "recipient"),
        ({"recipient": "a@acme.example", "content": "c"}, "subject"),
        ({"recipient": "a@acme.example", "subject": "s"}, "content"),
        ({"recipient": "a@acme.example", "subject": 5, "content": "c"}, "subject"),
        ({"recipient": "a@acme.example", "subject": "s", "content": "c", "cc": "x"}, "cc"),
    ],
)
async def test_test_email_validation(
    api: ApiClient, smtp_server: SmtpTestServer, body: dict[str, object], field: str
) -> None:
    assert (await api.post(PATH, smtp_settings(smtp_server))).status == 200
    answer = await api.post(f"{PATH}/test_email", body)
    assert (answer.status, answer.body["field"]) == (400, field)
    assert smtp_server.messages == []
