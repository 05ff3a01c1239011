"""Health of every mail server that is some owner's effective server (`mail_server:ID`).

Each is walked through the test-connection steps without the MAIL step (core.mail.diagnose:
dns, connect, tls, greeting, ehlo, starttls, auth; nothing is sent), XOAUTH2 servers getting
their token from the server's token provider (refreshed when due). Any failing step is
critical, with the step, what went wrong and the hint; a certificate that expires within
`CERTIFICATE_WARNING_DAYS` is a warning, an expired one critical. A server whose OAuth
authorization was revoked is critical without connecting: no probe can help until an admin
authorizes it again.

The effective servers are the owners' default servers: a tenant's own default, or the system
default (which sends the system's mail, and tenants' mail when applied to all of them). A
tenant that uses the system server adds no subject of its own.
"""

from __future__ import annotations

import asyncio
import math
import ssl
import time
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from core.context import Context
from core.health.runner import CHECKS, CheckScope
from core.health.store import CheckResult
from core.mail.connection_report import ConnectionReport
from core.mail.diagnose import diagnose
from core.mail.smtp_connection import SmtpConfig, build_tls_context
from core.models._common import utcnow
from core.models.mail import MailServer
from core.services.mail_tests import smtp_config_for
from core.vocabulary import HealthKind, HealthState

CERTIFICATE_WARNING_DAYS = 14
# Probes started a second, at most: a pass shares its event loop with the worker and the API,
# and a probe costs about 8 ms of that loop's CPU (mostly the TLS handshake), so a pass is
# spread out instead of run as one burst; faster when needed to end within half its cutoff.
PROBES_PER_S = 10.0
# Probes still waiting for a turn this long before the runner's cutoff are not started: their
# servers are reported "not checked" instead of the whole pass being lost.
_MARGIN_S = 1.0
_DAY_S = 86400.0


def effective_servers(ctx: Context, scope: CheckScope) -> list[MailServer]:
    """The owners' default servers within `scope` (loaded detached, secrets still sealed)."""
    with ctx.session() as session:
        rows = session.exec(
            select(MailServer)
            .where(col(MailServer.is_default).is_(True))
            .order_by(col(MailServer.id))
        ).all()
        servers = [row for row in rows if scope.includes(row.tenant_id)]
        for server in servers:
            session.expunge(server)
    return servers


def _result(
    server: MailServer, state: HealthState, reason: str, action: str, **detail: Any
) -> CheckResult:
    return CheckResult(
        key=f"mail_server:{server.id}",
        kind=HealthKind.MAIL_SERVER,
        tenant_id=server.tenant_id,
        subject=server.name,
        state=state,
        reason=reason,
        detail={"server_id": server.id, **detail, "action": action},
    )


def certificate_days(not_after: datetime, now: datetime) -> int:
    """Whole days left, a part of a day counting as one ("in 5 days"); once expired, minus the
    whole days since (-1 on the first day)."""
    days = (not_after - now).total_seconds() / _DAY_S
    return math.ceil(days) if days > 0 else -max(1, int(-days))


def _certificate(report: ConnectionReport) -> dict[str, Any] | None:
    """The certificate the server presented, as described by the TLS or STARTTLS step."""
    for step in report.steps:
        certificate = step.data.get("certificate")
        if isinstance(certificate, dict) and certificate.get("not_after"):
            return certificate
    return None


def judge(server: MailServer, report: ConnectionReport, now: datetime) -> CheckResult:
    """The state a probe's report means for `server`."""
    test = f"`mailbell server test {server.id}`"
    certificate = _certificate(report)
    extra: dict[str, Any] = {}
    expired_on = None
    if certificate is not None:
        not_after = datetime.fromisoformat(certificate["not_after"])
        extra["certificate_days"] = days = certificate_days(not_after, now)
        if not_after <= now:
            expired_on = f"{not_after:%Y-%m-%d}"
    failed = report.failed
    if expired_on is not None:
        # With tls_verify the handshake itself fails: the step's hint says what to fix.
        why = f" ({failed.step} failed)" if failed is not None else ""
        hint = failed.hint if failed is not None and failed.hint else ""
        return _result(
            server,
            HealthState.CRITICAL,
            f"certificate expired on {expired_on}{why}",
            f"renew the certificate of {report.host}, then {test}. {hint}".strip(),
            **extra,
        )
    if failed is not None:
        action = failed.hint or f"Fix what the {failed.step} step reports."
        return _result(
            server, HealthState.CRITICAL, report.summary(), f"{action} Then run {test}.", **extra
        )
    if certificate is not None and days <= CERTIFICATE_WARNING_DAYS:
        plural = "day" if days == 1 else "days"
        return _result(
            server,
            HealthState.WARNING,
            f"certificate expires in {days} {plural} ({certificate['not_after'][:10]})",
            f"renew the certificate of {report.host} before it expires",
            **extra,
        )
    return _result(server, HealthState.OK, report.summary(), "none", **extra)


def revoked(server: MailServer) -> CheckResult:
    command = f"`mailbell oauth authorize --server {server.id}`"
    cause = f" ({server.auth_revoked_reason})" if server.auth_revoked_reason else ""
    return _result(
        server,
        HealthState.CRITICAL,
        f"authorization revoked{cause}: re-authorize with {command}",
        f"re-authorize with {command}",
    )


class TlsContexts:
    """One TLS context per distinct trust setting for a pass, built on a thread: building one
    loads the system's CA store (tens of milliseconds of CPU), which done for each of many
    servers on the event loop would stall the worker and the API that share it."""

    def __init__(self) -> None:
        self._built: dict[tuple[object, ...], asyncio.Future[ssl.SSLContext]] = {}

    async def get(self, config: SmtpConfig) -> ssl.SSLContext | None:
        if config.security == "none":
            return None
        key = (config.tls_verify, config.ca_file, config.ca_pem)
        future = self._built.get(key)
        if future is None:
            future = asyncio.ensure_future(asyncio.to_thread(build_tls_context, config))
            self._built[key] = future
        try:
            return await asyncio.shield(future)
        except Exception:  # diagnose builds it again and reports what is wrong in its tls step
            return None


async def probe(
    ctx: Context, server: MailServer, timeout: float, contexts: TlsContexts | None = None
) -> CheckResult:
    """One server's result: the walk without MAIL FROM, cut off after `timeout` seconds."""
    if server.auth_revoked_at is not None:
        return revoked(server)
    try:
        config = smtp_config_for(ctx, server)
    except Exception as exc:  # a secret the key ring cannot open: the keys check says which
        return _result(
            server,
            HealthState.CRITICAL,
            f"cannot read the server's settings: {type(exc).__name__}",
            "see the service:keys subject",
        )
    contexts = contexts or TlsContexts()
    try:
        report = await asyncio.wait_for(
            diagnose(config, tls_context=await contexts.get(config)), timeout
        )
    except TimeoutError:
        return _result(
            server,
            HealthState.CRITICAL,
            f"no answer from {config.address} within {timeout:g} s",
            f"check that the server runs and is reachable, then `mailbell server test {server.id}`",
        )
    except Exception as exc:  # one odd server must not cost the others their results
        return _result(
            server,
            HealthState.CRITICAL,
            f"the probe failed: {type(exc).__name__}",
            f"run `mailbell server test {server.id}` for the details",
        )
    return judge(server, report, utcnow())


def _cutoff(ctx: Context) -> float:
    check = next(c for c in CHECKS if c.name == "mail_servers")
    return check.cutoff(ctx)


async def check(ctx: Context, scope: CheckScope) -> list[CheckResult]:
    servers = await asyncio.to_thread(effective_servers, ctx, scope)
    settings = ctx.settings
    timeout = settings.health_check_timeout_s
    gate = asyncio.Semaphore(max(1, settings.health_concurrency))
    cutoff = _cutoff(ctx)
    started = time.monotonic()
    last_start = started + cutoff - timeout - _MARGIN_S
    pace = max(PROBES_PER_S, len(servers) / (cutoff / 2))
    contexts = TlsContexts()

    async def one(number: int, server: MailServer) -> CheckResult:
        await asyncio.sleep(max(0.0, started + number / pace - time.monotonic()))
        async with gate:
            if time.monotonic() > last_start:
                return _result(
                    server,
                    HealthState.UNKNOWN,
                    "not checked: the pass ran out of time (raise MAILBELL_HEALTH_CONCURRENCY)",
                    "raise MAILBELL_HEALTH_CONCURRENCY",
                )
            return await probe(ctx, server, timeout, contexts)

    return list(await asyncio.gather(*(one(n, server) for n, server in enumerate(servers))))
