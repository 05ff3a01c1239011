"""Signed webhook POSTs: the signature, the HTTP client and how answers are classified.

Signature: `X-Mailbell-Timestamp` (Unix seconds) and `X-Mailbell-Signature: sha256=HEX` with
HEX = HMAC-SHA256(secret, TIMESTAMP + "." + raw body). A target without a secret gets no
signature header (the timestamp still comes: it tells the receiver when the POST was made).

Answers: 2xx sent; 408, 429 and 5xx retryable, honouring `Retry-After` (seconds or an HTTP
date); any other status (3xx included: redirects are not followed, so a target cannot bounce
mailbell to another host) permanent; connection errors and timeouts retryable. At most
`BODY_PREVIEW` bytes of an answer are read, for the delivery log.

Fenced targets (added by a tenant-scoped actor) connect through `FencedResolver`: every
address of the host is checked against MAILBELL_TENANT_SMTP_NETWORKS afresh at each connection
(core/netfence.py), as tenant SMTP hosts are.
"""

from __future__ import annotations

import hashlib
import hmac
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from core import netfence
from core.errors import PermanentError, RetryableError, ValidationError

TIMESTAMP_HEADER = "X-Mailbell-Timestamp"
SIGNATURE_HEADER = "X-Mailbell-Signature"
BODY_PREVIEW = 512
DEFAULT_RETRY_AFTER_S = 1.0
MAX_RETRY_AFTER_S = 3600.0
RETRYABLE_STATUSES = frozenset({408, 429})
TIMEOUT = aiohttp.ClientTimeout(total=10.0, sock_connect=5.0)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Mailbell-Signature` value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(secret: str | None, body: bytes, *, now: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if now is None else now))
    headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp}
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, timestamp, body)
    return headers


def retry_after(value: str | None) -> float:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date)."""
    seconds = DEFAULT_RETRY_AFTER_S
    if value:
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                when = None
            if when is not None:
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def url_host(url: str) -> str:
    return urlsplit(url).hostname or ""


class FenceRefused(OSError):
    """A fenced target's host resolved to an address the fence refuses (carries the reason)."""


class FencedResolver(AbstractResolver):
    """Resolves afresh at every connection and hands aiohttp only addresses the fence allows."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            addresses = await netfence.checked_addresses("url", host)
        except ValidationError as exc:
            raise FenceRefused(exc.message) from None
        return [
            ResolveResult(
                hostname=host,
                host=str(address),
                port=port,
                family=socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        pass


def new_session(*, fenced: bool) -> aiohttp.ClientSession:
    """A client session for webhook POSTs; a fenced one resolves through the fence, uncached."""
    if fenced:
        connector = aiohttp.TCPConnector(limit=64, resolver=FencedResolver(), use_dns_cache=False)
    else:
        connector = aiohttp.TCPConnector(limit=64)
    return aiohttp.ClientSession(timeout=TIMEOUT, connector=connector, auto_decompress=False)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    text: str  # the start of the body, for the delivery log

    @property
    def reply(self) -> str:
        return f"HTTP {self.status}" + (f" {self.text}" if self.text else "")


async def post(
    http: aiohttp.ClientSession, url: str, body: bytes, *, secret: str | None, fenced: bool
) -> Answer:
    """POST `body` signed with `secret`; the answer if 2xx, else the classified error."""
    if fenced:
        literal = netfence.ip_literal(url_host(url))
        if literal is not None:  # aiohttp connects to literals without asking the resolver
            fence = netfence.current_fence()
            if not fence.allow_all and not fence.allows(literal):
                raise PermanentError(
                    netfence.refusal("url", url_host(url), fence).message, step="connect"
                )
    headers = signed_headers(secret, body)
    try:
        async with http.post(url, data=body, headers=headers, allow_redirects=False) as resp:
            preview = await resp.content.read(BODY_PREVIEW)
            answer = Answer(resp.status, preview.decode("utf-8", "replace").strip())
            wait = resp.headers.get("Retry-After")
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, FenceRefused):
            raise PermanentError(str(exc.os_error), step="connect") from None
        raise RetryableError(f"POST: cannot connect: {exc.os_error}", step="connect") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        reason = type(exc).__name__ if isinstance(exc, TimeoutError) else str(exc)
        raise RetryableError(f"POST: {reason or type(exc).__name__}", step="connect") from None
    if 200 <= answer.status < 300:
        return answer
    message = f"POST: {answer.reply}"
    if answer.status in RETRYABLE_STATUSES or answer.status >= 500:
        delay = retry_after(wait) if wait is not None or answer.status == 429 else None
        raise RetryableError(
            message, step="webhook", code=answer.status, reply=answer.reply, retry_after=delay
        )
    raise PermanentError(message, step="webhook", code=answer.status, reply=answer.reply)
