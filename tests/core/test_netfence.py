"""The tenant fence (core/netfence.py) through the services and a real SMTP connection."""

from __future__ import annotations

import ipaddress

import pytest
from sqlmodel import select

from core import netfence
from core.context import Context
from core.errors import PermanentError, ValidationError
from core.mail.smtp import SmtpConfig, SmtpPool
from core.models.mail import MailServer, MailServerCreate, MailServerUpdate
from core.services.audit import Actor
from core.services.mail_servers import SystemOnlyField, create_mail_server, update_mail_server
from tests.support import fixtures
from tests.support.smtp_servers import SmtpTestServer

smtp_server = fixtures.smtp_server
smtp_servers = fixtures.smtp_servers
tls_certs = fixtures.tls_certs

SYSTEM = Actor(name="admin", source="cli")
TENANT_TOKEN = Actor(name="token:acme-ci", source="api", tenant_scoped=True)
MESSAGE = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: t\r\n\r\nbody\r\n"

REFUSED_BY_DEFAULT = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "255.255.255.255",
    "192.0.2.1",
    "198.51.100.7",
    "203.0.113.9",
    "240.0.0.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "2001:db8::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::127.0.0.1",
    "64:ff9b::a00:1",
    "2002:7f00:1::1",
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.fixture
def default_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILBELL_TENANT_SMTP_NETWORKS", "")


def _data(host: str, **extra: object) -> dict[str, object]:
    return {
        "name": f"srv {host}",
        "host": host,
        "port": 2525,
        "auth": "DISABLE",
        "security": "none",
        "mail_from": "alerts@acme.example",
        **extra,
    }


@pytest.mark.parametrize("address", REFUSED_BY_DEFAULT)
def test_default_rule_refuses_non_public_addresses(address: str) -> None:
    assert not netfence.parse_networks("").allows(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_default_rule_allows_public_unicast(address: str) -> None:
    assert netfence.parse_networks("").allows(ipaddress.ip_address(address))


def test_cidr_list_and_any() -> None:
    fence = netfence.parse_networks("127.0.0.0/8, ::1/128")
    assert fence.allows(ipaddress.ip_address("127.0.0.5"))
    assert fence.allows(ipaddress.ip_address("::ffff:127.0.0.1"))
    assert not fence.allows(ipaddress.ip_address("8.8.8.8"))
    assert netfence.parse_networks("any").allows(ipaddress.ip_address("10.0.0.1"))
    with pytest.raises(ValidationError) as caught:
        netfence.parse_networks("10.0.0.0/8,not-a-cidr")
    assert caught.value.field == "MAILBELL_TENANT_SMTP_NETWORKS"
    assert "not-a-cidr" in caught.value.message


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "10.0.0.8", "[::1]", "::ffff:127.0.0.1"]
)
def test_tenant_scoped_save_is_refused_naming_host_and_rule(
    ctx: Context, session, acme, default_networks: None, host: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        create_mail_server(
            session=session,
            box=ctx.box,
            tenant=acme,
            data=MailServerCreate.from_fields(_data(host)),
            actor=TENANT_TOKEN,
        )
    assert caught.value.field == "host"
    assert "public unicast" in caught.value.message
    assert "MAILBELL_TENANT_SMTP_NETWORKS" in caught.value.message
    session.rollback()
    assert session.exec(select(MailServer)).first() is None


def test_unresolvable_host_is_refused_for_tenants_only(
    ctx: Context, session, acme, default_networks: None
) -> None:
    with pytest.raises(ValidationError) as caught:
        create_mail_server(
            session=session,
            box=ctx.box,
            tenant=acme,
            data=MailServerCreate.from_fields(_data("no-such-host.invalid")),
            actor=TENANT_TOKEN,
        )
    assert caught.value.field == "host" and "does not resolve" in caught.value.message
    session.rollback()
    saved = create_mail_server(
        session=session,
        box=ctx.box,
        tenant=acme,
        data=MailServerCreate.from_fields(_data("no-such-host.invalid")),
        actor=SYSTEM,
    )
    assert session.get(MailServer, saved.id).fenced is False


def test_system_actor_is_not_fenced_and_clears_the_mark(
    ctx: Context, session, acme, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Saved by a tenant while loopback is allowed: marked fenced.
    server = create_mail_server(
        session=session,
        box=ctx.box,
        tenant=acme,
        data=MailServerCreate.from_fields(_data("127.0.0.1")),
        actor=TENANT_TOKEN,
    )
    assert session.get(MailServer, server.id).fenced is True
    monkeypatch.setenv("MAILBELL_TENANT_SMTP_NETWORKS", "")
    with pytest.raises(ValidationError):  # a tenant's later save, even of the port, is checked
        update_mail_server(
            session=session,
            box=ctx.box,
            tenant=acme,
            server_id=server.id,
            changes=MailServerUpdate.from_fields({"port": 25}),
            actor=TENANT_TOKEN,
        )
    session.rollback()
    update_mail_server(
        session=session,
        box=ctx.box,
        tenant=acme,
        server_id=server.id,
        changes=MailServerUpdate.from_fields({"port": 25}),
        actor=SYSTEM,
    )
    assert session.get(MailServer, server.id).fenced is False


@pytest.mark.parametrize("path", ["/etc/passwd", "/no/such/file.pem", "relative.pem"])
def test_ca_file_is_for_system_actors_only(ctx: Context, session, acme, path: str) -> None:
    with pytest.raises(SystemOnlyField) as caught:
        create_mail_server(
            session=session,
            box=ctx.box,
            tenant=acme,
            data=MailServerCreate.from_fields(_data("127.0.0.1", ca_file=path)),
            actor=TENANT_TOKEN,
        )
    assert caught.value.field == "ca_file"
    assert path not in caught.value.message  # the answer says nothing about the file
    session.rollback()
    saved = create_mail_server(
        session=session,
        box=ctx.box,
        tenant=acme,
        data=MailServerCreate.from_fields(_data("127.0.0.1", ca_file=path)),
        actor=SYSTEM,
    )
    assert saved.ca_file == path


async def test_fenced_row_is_checked_again_at_connect_time(
    ctx: Context, acme, smtp_server: SmtpTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ctx.session() as session:
        server = create_mail_server(
            session=session,
            box=ctx.box,
            tenant=acme,
            data=MailServerCreate.from_fields(_data(smtp_server.host, port=smtp_server.port)),
            actor=TENANT_TOKEN,
        )
        config = SmtpConfig.from_server(session.get(MailServer, server.id), ctx.box)
    assert config.fenced
    pool = SmtpPool(config, size=1)
    try:
        await pool.send(sender="a@example.com", recipients=["b@example.com"], message=MESSAGE)
        assert len(smtp_server.messages) == 1  # allowed while 127.0.0.0/8 is in the list
        await pool.close()
        monkeypatch.setenv("MAILBELL_TENANT_SMTP_NETWORKS", "")  # the rule (or DNS) changed
        before = smtp_server.connections
        pool = SmtpPool(config, size=1)
        with pytest.raises(PermanentError) as caught:
            await pool.send(sender="a@example.com", recipients=["b@example.com"], message=MESSAGE)
        assert "MAILBELL_TENANT_SMTP_NETWORKS" in caught.value.message
        assert smtp_server.connections == before  # refused before connecting
    finally:
        await pool.close()


async def test_fenced_connection_keeps_the_host_name_for_tls_and_trusts_ca_pem(
    home, smtp_servers
) -> None:  # type: ignore[no-untyped-def]
    server = smtp_servers(mode="tls")
    config = server.smtp_config(
        host="localhost", ca_file=None, ca_pem=server.certs.ca_file.read_text(), fenced=True
    )
    pool = SmtpPool(config, size=1)
    try:
        await pool.send(sender="a@example.com", recipients=["b@example.com"], message=MESSAGE)
    finally:
        await pool.close()
    (received,) = server.messages
    assert received.tls
    # Without the PEM the same pinned connection fails verification: the name was checked.
    pool = SmtpPool(server.smtp_config(host="localhost", ca_file=None, fenced=True), size=1)
    try:
        with pytest.raises(PermanentError, match="not trusted"):
            await pool.send(sender="a@example.com", recipients=["b@example.com"], message=MESSAGE)
    finally:
        await pool.close()
