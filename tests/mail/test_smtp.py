"""The SMTP transport against real aiosmtpd servers: security modes, auth, faults, the pool."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from core.errors import PermanentError, RetryableError
from core.mail.smtp import (
    RecipientsRefused,
    RecipientsRefusedTemporarily,
    SmtpConfig,
    SmtpPool,
    SmtpReply,
)
from tests.support import fixtures
from tests.support.smtp_servers import CaptureHandler, FaultHandler, SmtpTestServer

smtp_server = fixtures.smtp_server
smtp_servers = fixtures.smtp_servers
tls_certs = fixtures.tls_certs

PASSWORD = "correct-horse"
SENDER = "ops@example.com"


def message(n: int = 1, to: str = "a@example.org") -> bytes:
    return (
        f"From: {SENDER}\r\nTo: {to}\r\nSubject: note {n}\r\n"
        f"Message-ID: <m{n}@example.com>\r\n\r\nbody {n}\r\n"
    ).encode()


async def send(pool: SmtpPool, n: int = 1, recipients: list[str] | None = None):
    return await pool.send(
        sender=SENDER, recipients=recipients or ["a@example.org"], message=message(n)
    )


async def test_send_and_reuse_one_connection(smtp_server: SmtpTestServer) -> None:
    pool = SmtpPool(smtp_server.smtp_config(), size=2)
    for n in range(10):
        result = await send(pool, n)
        assert result.accepted == ["a@example.org"] and result.refused == {}
        assert result.reply is not None and result.reply.code == 250
    await pool.close()
    assert smtp_server.connections == 1
    received = smtp_server.messages
    assert [r.message_id for r in received] == [f"<m{n}@example.com>" for n in range(10)]
    assert received[0].data == message(0)
    assert received[0].mail_from == SENDER


class _InFlight(CaptureHandler):
    def __init__(self) -> None:
        super().__init__()
        self.now = self.peak = 0

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.now += 1
        self.peak = max(self.peak, self.now)
        await asyncio.sleep(0.02)
        self.now -= 1
        return await super().handle_DATA(server, session, envelope)


async def test_concurrency_is_bounded_by_size(smtp_servers) -> None:
    handler = _InFlight()
    server = smtp_servers(handler=handler)
    pool = SmtpPool(server.smtp_config(), size=3)
    results = await asyncio.gather(*(send(pool, n) for n in range(30)))
    assert all(r.reply and r.reply.code == 250 for r in results)
    assert len(server.messages) == 30
    assert handler.peak == 3
    assert server.connections == 3 == pool.connections_opened
    await pool.close()
    assert pool.idle_connections == 0


async def test_wrong_password_is_tried_once(smtp_servers, caplog) -> None:
    server = smtp_servers(mode="starttls", auth=True)
    pool = SmtpPool(server.smtp_config(password="wrong-pass-123"), size=2)
    with caplog.at_level(logging.DEBUG, logger="mailbell"), pytest.raises(PermanentError) as caught:
        await send(pool)
    assert "wrong-pass-123" not in caplog.text
    error = caught.value
    assert (error.step, error.code) == ("auth", 535)
    assert "authentication (PLAIN) as 'user@example.com' refused" in error.message
    assert "535" in (error.reply or "")
    assert len(server.auth_attempts) == 1
    assert "wrong-pass-123" not in f"{error} {error!r} {error.reply} {pool.config!r}"
    assert server.messages == []


@pytest.mark.parametrize(("auth", "offered", "used"), [
    ("AUTO", ("LOGIN",), "LOGIN"),
    ("AUTO", ("PLAIN", "LOGIN"), "PLAIN"),
    ("LOGIN", ("PLAIN", "LOGIN"), "LOGIN"),
    ("PLAIN", ("PLAIN",), "PLAIN"),
])  # fmt: skip
async def test_auth_modes(smtp_servers, auth: str, offered: tuple, used: str) -> None:
    server = smtp_servers(mode="tls", auth=True, auth_mechanisms=offered)
    pool = SmtpPool(server.smtp_config(auth=auth), size=1)
    await send(pool)
    await pool.close()
    assert [(a.mechanism, a.success) for a in server.auth_attempts] == [(used, True)]
    assert server.messages[0].auth_user == "user@example.com"


async def test_auth_not_offered_in_plain_text_is_refused_before_sending_the_password(
    smtp_servers,
) -> None:
    # A STARTTLS server hides AUTH until TLS: with security none nothing is sent.
    server = smtp_servers(mode="starttls", auth=True)
    with pytest.raises(PermanentError) as caught:
        await send(SmtpPool(server.smtp_config(security="none")))
    assert caught.value.step == "auth"
    assert "does not offer AUTH" in caught.value.message
    assert server.auth_attempts == []


async def test_starttls_required_but_not_offered_sends_nothing(smtp_servers) -> None:
    plain = smtp_servers()
    pool = SmtpPool(plain.smtp_config(security="starttls"))
    with pytest.raises(PermanentError) as caught:
        await send(pool)
    assert caught.value.step == "starttls"
    assert "does not offer STARTTLS" in caught.value.message
    assert plain.messages == []

    stripped = smtp_servers(mode="starttls", hide_starttls=True)  # as a downgrade attack would
    with pytest.raises(PermanentError):
        await send(SmtpPool(stripped.smtp_config()))
    assert stripped.messages == []


async def test_starttls_auto(smtp_servers) -> None:
    plain = smtp_servers()
    await send(SmtpPool(plain.smtp_config(security="starttls-auto")))
    assert plain.messages[0].tls is False
    secure = smtp_servers(mode="starttls")
    await send(SmtpPool(secure.smtp_config(security="starttls-auto")))
    assert secure.messages[0].tls is True


@pytest.mark.parametrize("mode", ["starttls", "tls"])
async def test_certificate_checks(smtp_servers, mode: str, caplog) -> None:
    server = smtp_servers(mode=mode, auth=True)
    with pytest.raises(PermanentError) as caught:
        await send(SmtpPool(server.smtp_config(ca_file=None)))
    assert caught.value.step == mode
    assert "certificate" in caught.value.message and "not trusted" in caught.value.message
    assert server.messages == [] and server.auth_attempts == []

    await send(SmtpPool(server.smtp_config()))  # with the test CA
    assert server.messages[-1].tls

    with caplog.at_level(logging.WARNING, logger="mailbell.smtp"):
        await send(SmtpPool(server.smtp_config(ca_file=None, tls_verify=False)))
    assert "verification is OFF" in caplog.text
    assert PASSWORD not in caplog.text
    assert len(server.messages) == 2


async def test_system_store_honours_ssl_cert_file(
    smtp_servers,
    tls_certs,
    monkeypatch,
) -> None:
    server = smtp_servers(mode="tls")
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_certs.ca_file))
    await send(SmtpPool(server.smtp_config(ca_file=None)))
    assert len(server.messages) == 1


async def test_unreadable_ca_file(smtp_servers, tmp_path) -> None:
    server = smtp_servers(mode="tls")
    with pytest.raises(PermanentError, match="ca_file"):
        await send(SmtpPool(server.smtp_config(ca_file=str(tmp_path / "missing.pem"))))


@pytest.mark.parametrize(("fault", "step", "code"), [
    ({"mail": "421 4.3.2 Service shutting down"}, "mail", 421),
    ({"mail": "451 4.3.0 Try again later"}, "mail", 451),
    ({"data": "451 4.3.0 Local error"}, "data", 451),
    ({"data": "421 4.4.2 Closing"}, "data", 421),
])  # fmt: skip
async def test_temporary_replies_are_retryable(smtp_servers, fault, step, code) -> None:
    server = smtp_servers(handler=FaultHandler(times=1, **fault))
    pool = SmtpPool(server.smtp_config())
    with pytest.raises(RetryableError) as caught:
        await send(pool)
    assert (caught.value.step, caught.value.code) == (step, code)
    assert str(code) in (caught.value.reply or "")
    result = await send(pool, 2)  # the fault was once: the next send goes through
    assert result.reply and result.reply.code == 250
    assert [r.message_id for r in server.messages] == ["<m2@example.com>"]


async def test_554_at_data_is_permanent(smtp_servers) -> None:
    server = smtp_servers(handler=FaultHandler(data="554 5.7.1 Message rejected as spam"))
    pool = SmtpPool(server.smtp_config())
    with pytest.raises(PermanentError) as caught:
        await send(pool)
    assert (caught.value.step, caught.value.code) == ("data", 554)
    assert caught.value.reply == "554 5.7.1 Message rejected as spam"
    assert pool.idle_connections == 1  # still usable after RSET


async def test_one_of_three_recipients_refused(smtp_servers) -> None:
    handler = FaultHandler(rcpt={"b@example.org": "550 5.1.1 No such user"})
    server = smtp_servers(handler=handler)
    recipients = ["a@example.org", "b@example.org", "c@example.org"]
    result = await send(SmtpPool(server.smtp_config()), recipients=recipients)
    assert result.accepted == ["a@example.org", "c@example.org"]
    assert result.refused == {"b@example.org": SmtpReply(550, "5.1.1 No such user")}
    assert server.messages[0].rcpt_tos == ["a@example.org", "c@example.org"]


async def test_every_recipient_refused(smtp_servers) -> None:
    handler = FaultHandler(
        rcpt={
            "a@example.org": "550 5.1.1 No such user",
            "b@example.org": "550 5.1.1 No such user",
            "c@example.org": "450 4.2.1 Mailbox busy",
        }
    )
    pool = SmtpPool(smtp_servers(handler=handler).smtp_config())
    with pytest.raises(RecipientsRefused) as permanent:
        await send(pool, recipients=["a@example.org", "b@example.org"])
    assert permanent.value.code == 550 and permanent.value.step == "rcpt"
    assert set(permanent.value.refused) == {"a@example.org", "b@example.org"}
    with pytest.raises(RecipientsRefusedTemporarily) as temporary:
        await send(pool, recipients=["a@example.org", "c@example.org"])
    assert temporary.value.code == 450
    assert temporary.value.refused["c@example.org"] == SmtpReply(450, "4.2.1 Mailbox busy")
    assert isinstance(temporary.value, RetryableError)
    assert handler.messages == []


async def test_stall_past_the_timeout_is_retryable(smtp_servers) -> None:
    server = smtp_servers(handler=FaultHandler(stall=3.0, stall_at="data", times=1))
    pool = SmtpPool(server.smtp_config(timeout=0.5))
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(RetryableError) as caught:
        await send(pool)
    assert loop.time() - started < 2.0
    assert caught.value.step == "data" and "timed out after 0.5 s" in caught.value.message
    assert pool.idle_connections == 0  # a timed-out connection is never reused
    assert (await send(pool, 2)).reply is not None


async def test_restarted_server_is_reconnected(smtp_server: SmtpTestServer) -> None:
    pool = SmtpPool(smtp_server.smtp_config(), size=1)
    await send(pool, 1)
    smtp_server.restart()  # the idle connection dies; the client has not noticed yet
    await send(pool, 2)
    assert smtp_server.connections == 2
    assert [r.message_id for r in smtp_server.messages] == ["<m1@example.com>", "<m2@example.com>"]

    smtp_server.stop()
    with pytest.raises(RetryableError) as caught:
        await send(pool, 3)
    assert caught.value.step == "connect" and "refused" in caught.value.message
    smtp_server.start()
    await send(pool, 3)
    assert len(smtp_server.messages) == 3


async def test_server_goes_away_mid_burst_and_comes_back(smtp_servers) -> None:
    handler = _InFlight()  # slows each DATA a little so the burst is still running
    server = smtp_servers(handler=handler)
    pool = SmtpPool(server.smtp_config(timeout=2.0), size=4)

    async def attempt(n: int) -> bool:
        try:
            await send(pool, n)
        except RetryableError:
            return False
        return True

    burst = [asyncio.create_task(attempt(n)) for n in range(40)]
    while len(server.messages) < 8:
        await asyncio.sleep(0.005)
    await asyncio.to_thread(server.stop)
    outcomes = await asyncio.gather(*burst)
    failed = [n for n, ok in enumerate(outcomes) if not ok]
    assert failed, "the outage should have failed some sends"
    await asyncio.to_thread(server.start)
    for n in failed:
        await send(pool, n)
    delivered = {r.message_id for r in server.messages}
    assert delivered == {f"<m{n}@example.com>" for n in range(40)}


async def test_connection_refused_and_dns_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(RetryableError) as refused:
        await send(SmtpPool(SmtpConfig("127.0.0.1", port, "none", "DISABLE", timeout=2)))
    assert refused.value.step == "connect" and "refused" in refused.value.message
    with pytest.raises(RetryableError) as dns:
        await send(SmtpPool(SmtpConfig("nonexistent.invalid", 25, "none", "DISABLE", timeout=2)))
    assert dns.value.step == "dns"


async def test_silent_server_times_out(smtp_servers) -> None:
    silent = smtp_servers(mode="silent")
    with pytest.raises(RetryableError) as caught:
        await send(SmtpPool(silent.smtp_config(timeout=0.3)))
    assert "timed out" in caught.value.message


async def test_non_ascii_address_uses_smtputf8(smtp_server: SmtpTestServer) -> None:
    result = await send(SmtpPool(smtp_server.smtp_config()), recipients=["jörg@example.org"])
    assert result.accepted == ["jörg@example.org"]
    assert smtp_server.messages[0].rcpt_tos == ["jörg@example.org"]


async def test_closed_pool_refuses_and_quits(smtp_server: SmtpTestServer) -> None:
    pool = SmtpPool(smtp_server.smtp_config())
    await send(pool)
    await pool.close()
    with pytest.raises(RuntimeError):
        await send(pool)


def test_config_repr_and_validation() -> None:
    config = SmtpConfig("h", 25, "none", "PLAIN", username="u", password="s3cret-pw")
    assert "s3cret-pw" not in repr(config)
    with pytest.raises(ValueError):
        SmtpConfig("h", 25, "ssl", "PLAIN")
