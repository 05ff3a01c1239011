"""Tenant tokens against a real `mailbell serve` with the default MAILBELL_TENANT_SMTP_NETWORKS:
no probing of the host's network or files, secrets capped."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from core.context import Context
from core.models.mail import MailServer
from core.services.audit import Actor
from core.services.tenants import get_tenant
from tests.api.conftest import Tokens
from tests.api.serve_process import ServeProcess
from tests.api.test_serve import http
from tests.support.smtp_servers import SmtpTestServer

PATH = "/api/tenant/notification"
TENANT_TOKEN = Actor(name="token:acme-ci", source="api", tenant_scoped=True)


@pytest.fixture
def serve(
    ctx: Context, tokens: Tokens, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ServeProcess]:
    monkeypatch.setenv("MAILBELL_TENANT_SMTP_NETWORKS", "")  # the default: public unicast only
    with ServeProcess("--no-worker", log_path=tmp_path / "serve.log") as process:
        yield process


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _NotSmtp:
    """A TCP port that answers HTTP, not SMTP, and counts its connections."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = int(self.sock.getsockname()[1])
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            client.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            client.close()


def _settings(host: str, port: int, **extra: Any) -> dict[str, Any]:
    return {
        "server": host,
        "port": port,
        "auth": "DISABLE",
        "enable_tls_ssl": False,
        "mail_from": "pbx@acme.example",
        **extra,
    }


def _without_host(body: dict[str, Any], *hosts: str) -> dict[str, Any]:
    text = body["error"]
    for host in hosts:
        text = text.replace(repr(host), "HOST")
    return {**body, "error": text}


def test_private_hosts_are_400_naming_server_whatever_listens_there(
    serve: ServeProcess, tokens: Tokens, smtp_server: SmtpTestServer, ctx: Context
) -> None:
    not_smtp = _NotSmtp()
    answers = []
    for host, port in [
        ("127.0.0.1", smtp_server.port),  # an open SMTP port
        ("127.0.0.1", _closed_port()),  # nothing listens
        ("127.0.0.1", not_smtp.port),  # something that is not SMTP
        ("localhost", smtp_server.port),  # a name is judged by every address it resolves to
        ("::ffff:127.0.0.1", smtp_server.port),
        ("10.0.0.1", 25),
        ("169.254.169.254", 80),
        ("100.64.0.1", 25),
        ("fd00::1", 25),
    ]:
        status, body = http("POST", serve.url + PATH, _settings(host, port), tokens.acme)
        assert status == 400, (host, body)
        assert body["field"] == "server"
        assert "public unicast" in body["error"]
        answers.append(_without_host(body, host))
    assert all(answer == answers[0] for answer in answers)
    assert smtp_server.connections == 0 and not_smtp.connections == 0
    status, body = http("POST", serve.url + PATH, _settings("no-such.invalid", 25), tokens.acme)
    assert (status, body["field"]) == (400, "server") and "does not resolve" in body["error"]
    with ctx.session() as session:
        assert session.exec(select(MailServer)).first() is None
    # A system token is not fenced.
    status, body = http(
        "POST", serve.url + PATH + "?tenant=acme", _settings("127.0.0.1", 25), tokens.system
    )
    assert status == 200, body


# Whatever the path: one that breaks the field's own rules (two lines, too long) is refused
# the same way, before those rules are looked at.
@pytest.mark.parametrize(
    "path", ["/etc/passwd", "/no/such/dir/ca.pem", "/etc/ssl\n/etc/passwd", "/x" * 600]
)
def test_ca_file_from_a_tenant_token_is_403_and_says_nothing_of_the_file(
    serve: ServeProcess, tokens: Tokens, tls_certs: Any, path: str
) -> None:
    status, body = http(
        "POST", serve.url + PATH, _settings("8.8.8.8", 587, ca_file=path), tokens.acme
    )
    assert status == 403 and body["field"] == "ca_file", body
    assert path not in body["error"] and "ca_pem" in body["error"]
    assert "passwd" not in str(body) and "No such file" not in str(body)
    pem = tls_certs.ca_file.read_text()
    status, body = http(
        "POST", serve.url + PATH, _settings("8.8.8.8", 587, ca_pem=pem), tokens.acme
    )
    assert status == 200, body
    assert "BEGIN CERTIFICATE" in body["ca_pem"] and body["ca_file"] is None
    status, read = http("GET", serve.url + PATH, token=tokens.acme)
    assert read["ca_pem"] == body["ca_pem"]
    for bad in (
        "not a certificate",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
    ):
        status, body = http("POST", serve.url + PATH, {"ca_pem": bad}, tokens.acme)
        assert (status, body["field"]) == (400, "ca_pem"), body
    status, body = http("POST", serve.url + PATH, {"ca_pem": pem * 200}, tokens.acme)
    assert (status, body.get("field")) == (400, "ca_pem") and "64 KB" in body["error"], body


@pytest.mark.parametrize("field", ["password"])
def test_secrets_over_1024_characters_are_400(
    serve: ServeProcess, tokens: Tokens, field: str
) -> None:
    settings = _settings("8.8.8.8", 587, username="alerts@acme.example", auth="LOGIN")
    settings[field] = "x" * 1025
    status, body = http("POST", serve.url + PATH, settings, tokens.acme)
    assert (status, body["field"]) == (400, field), body
    settings[field] = "x" * 1024
    assert http("POST", serve.url + PATH, settings, tokens.acme)[0] == 200


def test_test_email_to_a_fenced_host_is_one_400_for_open_closed_and_not_smtp_ports(
    ctx: Context,
    tokens: Tokens,
    smtp_server: SmtpTestServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from core.models.tenancy import NotificationSettingsUpdate
    from core.services.notifications import update_notification_settings

    not_smtp = _NotSmtp()
    ports = [smtp_server.port, _closed_port(), not_smtp.port]
    # The tenant saved its server while loopback was allowed; then the operator went back to the
    # default networks (or the name now resolves elsewhere): each test email checks again.
    with ctx.session() as session:
        tenant = get_tenant(session=session, slug="acme")
        update_notification_settings(
            session=session,
            box=ctx.box,
            tenant=tenant,
            changes=NotificationSettingsUpdate.parse(
                _settings("127.0.0.1", ports[0], timeout=5), system=False
            ),
            actor=TENANT_TOKEN,
        )
    monkeypatch.setenv("MAILBELL_TENANT_SMTP_NETWORKS", "")
    answers = []
    with ServeProcess("--no-worker", log_path=tmp_path / "serve.log") as serve:
        for port in ports:
            with ctx.session() as session:
                server = session.exec(select(MailServer)).one()
                server.port = port
                session.add(server)
                session.commit()
            status, body = http(
                "POST",
                serve.url + PATH + "/test_email",
                {"recipient": "ops@acme.example", "subject": "t", "content": "c"},
                tokens.acme,
            )
            answers.append((status, body))
    assert answers[0][0] == 400 and answers[0][1]["field"] == "server", answers
    assert all(answer == answers[0] for answer in answers)
    assert smtp_server.connections == 0 and not_smtp.connections == 0
