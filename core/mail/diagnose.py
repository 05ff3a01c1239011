"""Test connection: walk through an SMTP session step by step without sending a message.

    report = await diagnose(config, mail_from="ops@example.com")
    report.ok, report.failed, report.summary(), report.as_dict()
    for step in report.steps: step.step, step.ok, step.detail, step.reply, step.hint

Steps: dns → connect (TCP) → tls (implicit TLS only) → greeting → ehlo (extensions) →
starttls (+ ehlo again) → auth (one attempt, as when sending) → mail (MAIL FROM with the From
address, then RSET: checks the server lets this account send; no message is transferred).
The first failure ends the walk. Each failed step carries the server's reply when there was
one and a plain-language hint for the common causes (certificate not trusted, STARTTLS
required, 535 / 5.7.139 basic auth disabled, 5.7.57 / 5.7.3 not authenticated, wrong port for
the security mode, connection refused, timeout). Certificate problems also describe the
certificate the server presented (subject, issuer, expiry). No secret appears in a report.
Through a proxy, one step `proxy` (core/mail/proxy.py: "connected through … to …") takes the
place of dns and connect.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from typing import Any

from aiosmtplib import SMTP
from aiosmtplib import errors as smtp_errors

from core.errors import DeliveryError
from core.mail.connection_report import ConnectionReport, StepCallback, StepResult
from core.mail.smtp_auth import authenticate, choose_mechanism
from core.mail.smtp_connection import (
    SmtpConfig,
    build_tls_context,
    local_hostname,
    quit_quietly,
    warn_unverified,
)
from core.mail.smtp_errors import classify, ssl_error_of
from core.mail.smtp_hints import (
    certificate_hint,
    describe_certificate,
    hint_for_error,
    hint_for_reply,
    peer_certificate,
)

__all__ = ["diagnose"]


class _Stop(Exception):
    """A step failed: the walk ends here."""


class _Walk:
    def __init__(
        self, config: SmtpConfig, mail_from: str | None, on_step: StepCallback | None
    ) -> None:
        self.config = config
        self.mail_from = mail_from
        self.on_step = on_step
        self.report = ConnectionReport(config.host, config.port, config.security, config.auth)
        self.smtp: SMTP | None = None
        self.context: ssl.SSLContext | None = None
        self.loop = asyncio.get_running_loop()

    def add(self, result: StepResult) -> None:
        self.report.steps.append(result)
        if self.on_step is not None:
            self.on_step(result)

    def ok(self, step: str, detail: str, **kw: Any) -> None:
        self.add(StepResult(step, True, self.config.scrub(detail), **kw))

    def fail(
        self,
        step: str,
        detail: str,
        *,
        reply: str | None = None,
        hint: str | None = None,
        **data: Any,
    ) -> _Stop:
        scrub = self.config.scrub
        self.add(StepResult(step, False, scrub(detail), reply and scrub(reply), hint, dict(data)))
        return _Stop()

    def fail_with(self, exc: BaseException, step: str) -> _Stop:
        error = classify(exc, step=step, config=self.config)
        return self.fail(
            error.step or step,
            error.message,
            reply=error.reply,
            hint=hint_for_error(error, self.config),
        )

    async def run(self) -> None:
        try:
            self.context = self.context or self.tls_context()
            if self.config.proxy is not None:
                sock = await self.tunnel()
            else:
                sock = await self.connect(await self.dns())
            await self.greet(sock)
            await self.ehlo("ehlo")
            await self.starttls()
            await self.auth()
            await self.mail()
        except _Stop:
            pass
        finally:
            if self.smtp is not None:
                await quit_quietly(self.smtp)

    def tls_context(self) -> ssl.SSLContext | None:
        if self.config.security == "none":
            return None
        try:
            return build_tls_context(self.config)
        except DeliveryError as exc:
            raise self.fail(
                "tls",
                exc.message,
                hint="Point ca_file at a readable PEM file holding the CA certificate(s).",
            ) from None

    async def dns(self) -> list[tuple[Any, ...]]:
        config = self.config
        try:
            infos = await asyncio.wait_for(
                self.loop.getaddrinfo(config.host, config.port, type=socket.SOCK_STREAM),
                config.timeout,
            )
        except (OSError, TimeoutError) as exc:
            reason = getattr(exc, "strerror", None) or "no answer in time"
            raise self.fail(
                "dns",
                f"cannot resolve {config.host!r}: {reason}",
                hint=f"Check the spelling of the host name {config.host!r} and this machine's "
                "DNS settings.",
            ) from None
        shown = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if config.fenced:  # a tenant's host: only addresses MAILBELL_TENANT_SMTP_NETWORKS allows
            from core import netfence

            refused = netfence.refusal_for_texts("server", config.host, shown)
            if refused is not None:
                raise self.fail("dns", refused.message)
        self.ok("dns", f"{config.host} → {', '.join(shown[:4])}", data={"addresses": shown})
        return infos

    async def connect(self, infos: list[tuple[Any, ...]]) -> socket.socket:
        config = self.config
        last: BaseException | None = None
        for family, kind, proto, _, address in infos[:4]:
            sock = socket.socket(family, kind, proto)
            sock.setblocking(False)
            started = time.perf_counter()
            try:
                await asyncio.wait_for(self.loop.sock_connect(sock, address), config.timeout)
            except (OSError, TimeoutError) as exc:
                sock.close()
                last = exc
                continue
            took = (time.perf_counter() - started) * 1000
            self.ok("connect", f"TCP connection to {address[0]}:{address[1]} in {took:.0f} ms")
            return sock
        if isinstance(last, TimeoutError):
            raise self.fail(
                "connect",
                f"no answer from {config.address} within {config.timeout:g} s",
                hint="A firewall may drop the traffic (many networks block port 25) or the host "
                "is down; check the host, the port and outbound firewall rules.",
            )
        if isinstance(last, ConnectionRefusedError):
            raise self.fail(
                "connect",
                f"connection refused by {config.address}",
                hint="Nothing accepts connections on this port: check the host and the port "
                "(587 for STARTTLS, 465 for TLS, 25 for plain) and that the server runs.",
            )
        reason = getattr(last, "strerror", None) or last
        raise self.fail("connect", f"cannot connect to {config.address}: {reason}")

    async def tunnel(self) -> socket.socket:
        from core.mail.proxy import hint_for, tunnel_step

        try:
            sock, detail = await tunnel_step(self.config)
        except DeliveryError as exc:
            raise self.fail("proxy", exc.message, reply=exc.reply, hint=hint_for(exc)) from None
        self.ok("proxy", detail)
        return sock

    async def greet(self, sock: socket.socket) -> None:
        config = self.config
        implicit = config.security == "tls"
        self.smtp = SMTP(
            hostname=config.host,
            sock=sock,
            timeout=config.timeout,
            use_tls=implicit,
            start_tls=False,
            tls_context=self.context,
            local_hostname=await local_hostname(),
        )
        try:
            response = await self.smtp.connect()
        except smtp_errors.SMTPConnectResponseError as exc:
            if implicit:
                self.tls_ok()
            raise self.fail(
                "greeting",
                f"the server greeted with a refusal: {exc.code} {exc.message}",
                reply=f"{exc.code} {exc.message}",
                hint=hint_for_reply(exc.code, exc.message, "greeting", config),
            ) from None
        except Exception as exc:
            self.smtp = None
            timed_out = isinstance(exc, TimeoutError)
            after_handshake = isinstance(
                exc.__cause__, smtp_errors.SMTPTimeoutError | smtp_errors.SMTPServerDisconnected
            )
            if implicit and not after_handshake:
                if ssl_error_of(exc) is not None:
                    raise await self.tls_failed(exc, "tls") from None
                if timed_out:
                    raise self.fail(
                        "tls",
                        f"no TLS handshake answer from {config.address} within "
                        f"{config.timeout:g} s",
                        hint=f"Port {config.port} does not seem to speak implicit TLS: use "
                        "security starttls on port 587 (or none on port 25), or port 465 for tls.",
                    ) from None
                raise self.fail_with(exc, "tls") from None
            if implicit:
                self.tls_ok(sock_only=True)
            if timed_out:
                hint = (
                    "The server completed TLS but sent no greeting: check the port."
                    if implicit
                    else f"No greeting within {config.timeout:g} s: port {config.port} seems to "
                    "expect implicit TLS; use security tls (port 465)."
                )
                raise self.fail(
                    "greeting", f"no SMTP greeting from {config.address}", hint=hint
                ) from None
            if after_handshake:
                raise self.fail(
                    "greeting",
                    f"{config.address} closed the connection without a greeting",
                    hint="The server may refuse this client, or the port expects another "
                    "security mode.",
                ) from None
            raise self.fail_with(exc, "greeting") from None
        if implicit:
            self.tls_ok()
        banner = f"{response.code} {response.message}"
        self.ok("greeting", banner, reply=banner)

    def tls_ok(self, *, sock_only: bool = False) -> None:
        detail = "TLS handshake completed"
        data: dict[str, Any] = {}
        if self.smtp is not None and not sock_only and self.smtp.is_connected:
            detail, data = self.tls_details()
        if not self.config.tls_verify:
            detail += " (certificate NOT verified: tls_verify is false)"
        self.ok("tls", detail, data=data)

    def tls_details(self) -> tuple[str, dict[str, Any]]:
        assert self.smtp is not None
        ssl_object = self.smtp.get_transport_info("ssl_object")
        if ssl_object is None:
            return "TLS handshake completed", {}
        certificate = describe_certificate(ssl_object.getpeercert(binary_form=True))
        version = ssl_object.version() or "TLS"
        return f"{version}, certificate {certificate['summary']}", {"certificate": certificate}

    async def tls_failed(self, exc: BaseException, step: str) -> _Stop:
        config = self.config
        error = classify(exc, step=step, config=config)
        certificate = await peer_certificate(config, starttls=step == "starttls")
        detail = error.message
        if certificate:
            detail += f"; the server presented {certificate['summary']}"
        tls_error = ssl_error_of(exc)
        hint = (
            certificate_hint(tls_error, certificate, config)
            if isinstance(tls_error, ssl.SSLCertVerificationError)
            else hint_for_error(error, config)
        )
        return self.fail(error.step or step, detail, hint=hint, certificate=certificate)

    async def ehlo(self, step: str, *, after: str = "") -> None:
        assert self.smtp is not None
        try:
            response = await self.smtp.ehlo()
        except Exception as exc:
            raise self.fail_with(exc, "ehlo") from None
        extensions = [
            f"{name.upper()} {value}".strip() for name, value in self.smtp.esmtp_extensions.items()
        ]
        hint = None
        if self.config.security == "none" and self.smtp.supports_extension("starttls"):
            hint = "The server offers STARTTLS: set security to starttls to encrypt the mail."
        self.ok(
            step,
            f"{after}{response.message.splitlines()[0]}; extensions: {', '.join(extensions)}",
            hint=hint,
            data={"extensions": extensions},
        )

    async def starttls(self) -> None:
        config, smtp = self.config, self.smtp
        assert smtp is not None
        if config.security not in ("starttls", "starttls-auto"):
            return
        if not smtp.supports_extension("starttls"):
            if config.security == "starttls":
                raise self.fail(
                    "starttls",
                    f"{config.address} does not offer STARTTLS; security 'starttls' requires it",
                    hint=f"Port {config.port} offers no STARTTLS: use security tls on port 465 if "
                    "the server has implicit TLS. mailbell never falls back to plain text here.",
                )
            self.ok(
                "starttls",
                "not offered: with starttls-auto the mail would go in plain text",
                hint="Use security starttls or tls to require encryption.",
            )
            return
        try:
            await smtp.starttls()
        except Exception as exc:
            if ssl_error_of(exc) is not None:
                raise await self.tls_failed(exc, "starttls") from None
            raise self.fail_with(exc, "starttls") from None
        detail, data = self.tls_details()
        if not config.tls_verify:
            detail += " (certificate NOT verified: tls_verify is false)"
        self.ok("starttls", detail, data=data)
        await self.ehlo("ehlo", after="after STARTTLS: ")

    async def auth(self) -> None:
        config, smtp = self.config, self.smtp
        assert smtp is not None
        if config.auth == "DISABLE":
            self.ok("auth", "disabled: no AUTH sent")
            return
        try:
            mechanism = choose_mechanism(config, smtp.server_auth_methods)
            reply = await authenticate(smtp, config)
        except DeliveryError as exc:
            raise self.fail(
                exc.step or "auth",
                exc.message,
                reply=exc.reply,
                hint=hint_for_error(exc, config),
            ) from None
        except Exception as exc:
            raise self.fail_with(exc, "auth") from None
        self.ok(
            "auth",
            f"{mechanism.upper()} as {config.username!r} accepted",
            reply=str(reply) if reply else None,
        )

    async def mail(self) -> None:
        smtp = self.smtp
        assert smtp is not None
        if not self.mail_from:
            return
        try:
            response = await smtp.mail(self.mail_from)
        except smtp_errors.SMTPResponseException as exc:
            raise self.fail(
                "mail",
                f"MAIL FROM:<{self.mail_from}> refused: {exc.code} {exc.message}",
                reply=f"{exc.code} {exc.message}",
                hint=hint_for_reply(exc.code, exc.message, "mail", self.config),
            ) from None
        except Exception as exc:
            raise self.fail_with(exc, "mail") from None
        with contextlib.suppress(Exception):
            await smtp.rset()
        self.ok(
            "mail",
            f"MAIL FROM:<{self.mail_from}> accepted (then RSET: nothing sent)",
            reply=f"{response.code} {response.message}",
        )


async def diagnose(
    config: SmtpConfig,
    *,
    mail_from: str | None = None,
    on_step: StepCallback | None = None,
    tls_context: ssl.SSLContext | None = None,
) -> ConnectionReport:
    """Run the steps against `config` (saved or not); never raises for a server failure.

    `on_step(step)` is called as each step ends (a TUI shows progress with it). Without
    `mail_from` the walk ends after AUTH. `tls_context`: the context `build_tls_context(config)`
    makes, built beforehand (loading the system's CA store takes tens of milliseconds of CPU:
    the health check builds one per distinct setting, off the event loop, for many servers)."""
    started = time.perf_counter()
    warn_unverified(config)
    walk = _Walk(config, mail_from, on_step)
    walk.context = tls_context if config.security != "none" else None
    await walk.run()
    walk.report.elapsed_ms = (time.perf_counter() - started) * 1000
    return walk.report
