"""Test connection: every step reported, and the right hint for each common failure."""

from __future__ import annotations

import json
import socket

import pytest

from core.errors import RetryableError
from core.mail.diagnose import diagnose
from core.mail.smtp import SmtpConfig
from core.mail.smtp_hints import hint_for_error
from tests.support import fixtures
from tests.support.certs import make_test_certs
from tests.support.smtp_servers import FaultHandler

smtp_servers = fixtures.smtp_servers
tls_certs = fixtures.tls_certs

PASSWORD = "correct-horse"
SENDER = "user@example.com"


def steps(report) -> list[tuple[str, bool]]:
    return [(step.step, step.ok) for step in report.steps]


async def test_every_step_of_a_working_server(smtp_servers) -> None:
    server = smtp_servers(mode="starttls", auth=True)
    report = await diagnose(server.smtp_config(), mail_from=SENDER)
    assert report.ok, report.summary()
    assert steps(report) == [
        ("dns", True),
        ("connect", True),
        ("greeting", True),
        ("ehlo", True),
        ("starttls", True),
        ("ehlo", True),
        ("auth", True),
        ("mail", True),
    ]
    by_step = {step.step: step for step in report.steps}
    assert "STARTTLS" in report.steps[3].data["extensions"]
    assert any(e.startswith("AUTH") for e in report.steps[5].data["extensions"])
    assert "TLS" in by_step["starttls"].detail and "mailbell test CA" in by_step["starttls"].detail
    assert by_step["auth"].detail == "PLAIN as 'user@example.com' accepted"
    assert server.messages == []  # nothing was sent
    text = json.dumps(report.as_dict())
    assert PASSWORD not in text and report.summary().startswith("connection to 127.0.0.1")


async def test_implicit_tls_reports_the_handshake(smtp_servers) -> None:
    server = smtp_servers(mode="tls")
    seen: list[str] = []
    report = await diagnose(server.smtp_config(), on_step=lambda step: seen.append(step.step))
    assert seen == [step.step for step in report.steps]
    assert steps(report)[:4] == [
        ("dns", True),
        ("connect", True),
        ("tls", True),
        ("greeting", True),
    ]
    assert "CN=mailbell test CA" in report.steps[2].data["certificate"]["issuer"]


@pytest.mark.parametrize("mode", ["starttls", "tls"])
async def test_certificate_not_trusted(smtp_servers, mode: str) -> None:
    server = smtp_servers(mode=mode)
    report = await diagnose(server.smtp_config(ca_file=None))
    failed = report.failed
    assert failed is not None and failed.step == mode
    assert "not trusted" in failed.detail
    assert "the server presented CN=localhost issued by mailbell test CA" in failed.detail
    assert "ca_file" in failed.hint
    assert failed.data["certificate"]["self_signed"] is False
    assert not report.ok and report.steps[-1] is failed


async def test_certificate_for_another_name_and_expired(smtp_servers, tmp_path) -> None:
    other = make_test_certs(tmp_path / "other", hostnames=("mail.example.org",), ips=())
    server = smtp_servers(mode="tls", certs=other)
    report = await diagnose(server.smtp_config(ca_file=str(other.ca_file)))
    assert "mail.example.org" in report.failed.hint and "127.0.0.1" in report.failed.hint

    expired = make_test_certs(tmp_path / "expired", expired=True)
    server = smtp_servers(mode="starttls", certs=expired)
    report = await diagnose(server.smtp_config(ca_file=str(expired.ca_file)))
    assert report.failed.step == "starttls"
    assert "expired" in report.failed.hint and "EXPIRED" in report.failed.detail


async def test_unverified_tls_is_flagged(smtp_servers) -> None:
    server = smtp_servers(mode="starttls")
    report = await diagnose(server.smtp_config(ca_file=None, tls_verify=False))
    assert report.ok
    starttls = next(step for step in report.steps if step.step == "starttls")
    assert "NOT verified" in starttls.detail


async def test_starttls_required_by_the_server(smtp_servers) -> None:
    server = smtp_servers(mode="starttls", require_starttls=True)
    report = await diagnose(server.smtp_config(security="none"), mail_from=SENDER)
    failed = report.failed
    assert failed.step == "mail" and failed.reply.startswith("530 5.7.0")
    assert "requires STARTTLS" in failed.hint
    ehlo = next(step for step in report.steps if step.step == "ehlo")
    assert "offers STARTTLS" in ehlo.hint


async def test_starttls_required_but_not_offered(smtp_servers) -> None:
    server = smtp_servers()
    report = await diagnose(server.smtp_config(security="starttls"))
    assert report.failed.step == "starttls"
    assert "never falls back to plain text" in report.failed.hint
    auto = await diagnose(server.smtp_config(security="starttls-auto"))
    assert auto.ok and "plain text" in auto.steps[-2].detail


@pytest.mark.parametrize(("reply", "hint"), [
    ("535 5.7.139 Authentication unsuccessful, basic authentication is disabled.",
     "basic (password) authentication disabled"),
    ("535 5.7.3 Authentication unsuccessful", "only from authenticated clients"),
    ("535 5.7.8 Username and Password not accepted.", "username or password was refused"),
    ("534 5.7.9 Application-specific password required.", "app password"),
])  # fmt: skip
async def test_auth_failures(smtp_servers, reply: str, hint: str) -> None:
    server = smtp_servers(mode="tls", auth=True, auth_failure_reply=reply)
    report = await diagnose(server.smtp_config(password="not-the-password"))
    failed = report.failed
    assert (failed.step, failed.reply) == ("auth", reply)
    assert hint in failed.hint
    assert "not-the-password" not in json.dumps(report.as_dict())
    assert len(server.auth_attempts) == 1


async def test_client_not_authenticated_at_mail_from(smtp_servers) -> None:
    handler = FaultHandler(mail="530 5.7.57 Client not authenticated to send mail.")
    server = smtp_servers(handler=handler)
    report = await diagnose(server.smtp_config(), mail_from=SENDER)
    assert report.failed.step == "mail" and "5.7.57" in report.failed.reply
    assert "Authenticated SMTP" in report.failed.hint


async def test_wrong_port_for_the_security_mode(smtp_servers) -> None:
    plain = smtp_servers()
    report = await diagnose(plain.smtp_config(security="tls", timeout=2))  # TLS to a plain port
    assert report.failed.step == "tls"
    assert "does not speak implicit TLS" in report.failed.hint

    implicit = smtp_servers(mode="tls")
    report = await diagnose(implicit.smtp_config(security="none", timeout=0.5))  # plain to 465
    assert report.failed.step == "greeting"
    assert "expect implicit TLS" in report.failed.hint


async def test_connection_refused_dns_and_silence(smtp_servers) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    report = await diagnose(SmtpConfig("127.0.0.1", port, "starttls", "DISABLE", timeout=2))
    assert steps(report) == [("dns", True), ("connect", False)]
    assert "Nothing accepts connections" in report.failed.hint

    report = await diagnose(SmtpConfig("nonexistent.invalid", 587, "starttls", "DISABLE"))
    assert steps(report) == [("dns", False)]
    assert "spelling" in report.failed.hint

    silent = smtp_servers(mode="silent")
    report = await diagnose(silent.smtp_config(security="none", timeout=0.3))
    assert report.failed.step == "greeting" and "no SMTP greeting" in report.failed.detail


def test_hints_for_transport_errors() -> None:
    config = SmtpConfig("smtp.example.org", 25, "none", "DISABLE", timeout=5)
    timeout = RetryableError("timed out after 5 s during connecting", step="connect")
    assert "firewall" in hint_for_error(timeout, config)
    oauth = RetryableError("OAuth refresh_token request refused: invalid_grant", step="oauth")
    assert "oauth authorize" in hint_for_error(oauth, config)


async def test_unreadable_ca_file(smtp_servers, tmp_path) -> None:
    server = smtp_servers(mode="starttls")
    report = await diagnose(server.smtp_config(ca_file=str(tmp_path / "missing.pem")))
    assert steps(report) == [("tls", False)]
    assert "ca_file" in report.failed.detail and "ca_file" in report.failed.hint
