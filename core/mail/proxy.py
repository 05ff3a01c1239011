"""SMTP through a proxy: a TCP tunnel to the mail server through SOCKS5 or HTTP CONNECT, handed
to aiosmtplib as a connected socket (implicit TLS and STARTTLS then run over the tunnel, with
the SMTP host's name for SNI and certificate checks).

    sock = await open_tunnel(config)            # config.proxy: a ProxyUrl with its password
    sock, detail = await tunnel_step(config)    # the same, and the test report's line

Who resolves the SMTP host: `socks5` — mailbell, and the proxy is given an address; `socks5h`
and `http` — the proxy, given the name. A `fenced` config (a host set by a tenant-scoped actor,
core/netfence.py) is stricter, so that a tenant reaches no internal host through a proxy either:
the proxy's host is resolved afresh and every address must be allowed, and so must every
address of the SMTP host, which mailbell resolves itself whatever the scheme; the proxy is then
asked for an address that was checked, never for a name (a name only the proxy can resolve is
refused for tenants).

SOCKS5 is python-socks's. HTTP CONNECT is done here: python-socks reads the proxy's answer with
one receive of up to 64 KiB, and SMTP servers speak first, so the server's greeting, arriving
right behind the `200`, could be swallowed with it. Here the answer is read up to its blank
line and not one byte further.

Failures have step `proxy` and never contain the proxy password: proxy unreachable, timed out,
or unable to reach the mail server → RetryableError; credentials refused or missing, a
connection the proxy's rules forbid, an answer that is not the proxy protocol → PermanentError.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import time
from typing import TYPE_CHECKING

from core import netfence
from core.errors import PermanentError, RetryableError
from core.mail.proxy_url import ProxyUrl

if TYPE_CHECKING:
    from core.mail.smtp_connection import SmtpConfig

__all__ = ["ProxyPermanent", "ProxyRetryable", "hint_for", "open_tunnel", "tunnel_step"]

HEAD_MAX_BYTES = 8192
_END = b"\r\n\r\n"
# SOCKS5 reply codes (RFC 1928): the proxy could not reach the destination; worth another try.
_SOCKS_UNREACHABLE = {1, 3, 4, 5, 6}


class ProxyRetryable(RetryableError):
    def __init__(self, message: str, *, kind: str, reply: str | None = None) -> None:
        super().__init__(message, step="proxy", reply=reply)
        self.kind = kind


class ProxyPermanent(PermanentError):
    def __init__(self, message: str, *, kind: str, reply: str | None = None) -> None:
        super().__init__(message, step="proxy", reply=reply)
        self.kind = kind


class _Unreachable(Exception):
    """The proxy did not take the TCP connection at this address: try its next address."""

    def __init__(self, error: ProxyRetryable) -> None:
        self.error = error


class _TargetFailed(Exception):
    """The proxy could not reach this address of the mail server: try the next one."""

    def __init__(self, error: ProxyRetryable) -> None:
        self.error = error


HINTS = {
    "unreachable": "Check the proxy's host and port (1080 is usual for SOCKS5, 3128 or 8080 "
    "for HTTP proxies) and that this machine may reach it.",
    "timeout": "The proxy did not answer in time: check that it runs and that a firewall does "
    "not drop the traffic.",
    "credentials": "Check the proxy's user name and password: give them in the proxy URL "
    "(scheme://user:password@host:port) or as proxy_password.",
    "forbidden": "The proxy's rules do not allow this destination: ask its administrator to "
    "allow the SMTP host and port.",
    "target": "The proxy is reachable but could not connect to the SMTP server: check the host "
    "and port as seen from the proxy.",
    "protocol": "The proxy did not speak the protocol of the URL's scheme: check socks5:// "
    "against http://, and the port.",
    "fence": "A tenant's proxy and SMTP host must resolve to addresses "
    "MAILBELL_TENANT_SMTP_NETWORKS allows.",
}


def hint_for(error: BaseException) -> str | None:
    return HINTS.get(getattr(error, "kind", ""))


def _label(proxy: ProxyUrl) -> str:
    return f"proxy {proxy.url}"


def _scrub(proxy: ProxyUrl, text: str) -> str:
    if proxy.password and len(proxy.password) >= 3:
        text = text.replace(proxy.password, "***")
    return " ".join(text.split())[:200]


async def _addresses(
    host: str, *, role: str, fence: netfence.NetworkFence | None, timeout: float
) -> list[str]:
    """Every address of `host`, resolved now; with a fence, all of them must be allowed."""
    try:
        found = await netfence.resolve(host, timeout=timeout, use_cache=False)
    except netfence.ResolveFailed:
        raise ProxyRetryable(
            f"cannot resolve the {role} host {host!r}", kind="unreachable"
        ) from None
    if fence is not None and not all(fence.allows(address) for address in found):
        field = "proxy" if role == "proxy" else "server"
        raise ProxyPermanent(netfence.refusal(field, host, fence).message, kind="fence")
    return [str(address) for address in found]


async def _destinations(config: SmtpConfig, fence: netfence.NetworkFence | None) -> list[str]:
    """What the proxy is asked to connect to: checked addresses, or the name it resolves."""
    assert config.proxy is not None
    if fence is None and config.proxy.scheme != "socks5":
        return [config.host]
    return await _addresses(config.host, role="SMTP", fence=fence, timeout=config.timeout)


async def _open(config: SmtpConfig) -> tuple[socket.socket, str]:
    proxy = config.proxy
    assert proxy is not None
    fence = netfence.current_fence() if config.fenced else None
    if fence is not None and fence.allow_all:
        fence = None
    hops = await _addresses(proxy.host, role="proxy", fence=fence, timeout=config.timeout)
    targets = await _destinations(config, fence)
    last: ProxyRetryable | None = None
    for hop in hops[:4]:
        for target in targets[:4]:
            try:
                sock = await _through(proxy, hop, target, config)
            except _Unreachable as exc:
                last = exc.error
                break
            except _TargetFailed as exc:
                last = exc.error
                continue
            return sock, target
        else:
            break  # the proxy answered and could reach no address: another hop would not help
    assert last is not None
    raise last


async def open_tunnel(config: SmtpConfig) -> socket.socket:
    """A socket connected through `config.proxy` to the SMTP server, ready for its greeting."""
    sock, _target = await _open(config)
    return sock


async def tunnel_step(config: SmtpConfig) -> tuple[socket.socket, str]:
    """`open_tunnel`, and the line the test report shows for it."""
    assert config.proxy is not None
    started = time.perf_counter()
    sock, target = await _open(config)
    took = (time.perf_counter() - started) * 1000
    where = config.address if target == config.host else f"{config.host} ({target}):{config.port}"
    return sock, f"connected through {config.proxy.url} to {where} in {took:.0f} ms"


async def _through(proxy: ProxyUrl, hop: str, target: str, config: SmtpConfig) -> socket.socket:
    try:
        if proxy.socks:
            return await _socks(proxy, hop, target, config)
        return await asyncio.wait_for(_http(proxy, hop, target, config), config.timeout)
    except TimeoutError:
        raise ProxyRetryable(
            f"no answer from {_label(proxy)} within {config.timeout:g} s", kind="timeout"
        ) from None


# --- SOCKS5 (python-socks) --------------------------------------------------------------------


async def _socks(proxy: ProxyUrl, hop: str, target: str, config: SmtpConfig) -> socket.socket:
    from python_socks import ProxyConnectionError, ProxyError, ProxyTimeoutError, ProxyType
    from python_socks.async_.asyncio import Proxy

    client = Proxy(
        ProxyType.SOCKS5,
        host=hop,
        port=proxy.port,
        username=proxy.username,
        password=proxy.password,
        rdns=True,  # a name is passed only when the proxy is to resolve it
    )
    try:
        return await client.connect(target, config.port, timeout=config.timeout)
    except ProxyTimeoutError:
        raise TimeoutError from None
    except ProxyConnectionError as exc:
        raise _Unreachable(_unreachable(proxy, exc)) from None
    except ProxyError as exc:
        raise _socks_refusal(proxy, str(exc), exc.error_code, config) from None


def _socks_refusal(proxy: ProxyUrl, reason: str, code: int | None, config: SmtpConfig) -> Exception:
    reason = _scrub(proxy, reason)
    label = _label(proxy)
    if "authentication" in reason.lower():
        return _credentials(proxy)
    if code in _SOCKS_UNREACHABLE:
        return _TargetFailed(
            ProxyRetryable(
                f"{label} could not connect to {config.address}: {reason}", kind="target"
            )
        )
    if code == 2:
        return ProxyPermanent(
            f"{label} does not allow a connection to {config.address}: {reason}",
            kind="forbidden",
        )
    if "closed unexpectedly" in reason.lower():
        return ProxyRetryable(
            f"{label} closed the connection during the SOCKS5 handshake", kind="unreachable"
        )
    return ProxyPermanent(f"{label} did not answer as a SOCKS5 proxy: {reason}", kind="protocol")


def _credentials(proxy: ProxyUrl, reply: str | None = None) -> ProxyPermanent:
    if proxy.username and proxy.password:
        text = f"{_label(proxy)} refused the user name and password of {proxy.username!r}"
    else:
        text = f"{_label(proxy)} requires a user name and password, and none was given"
    return ProxyPermanent(text, kind="credentials", reply=reply)


def _unreachable(proxy: ProxyUrl, exc: OSError) -> ProxyRetryable:
    cause = exc.__cause__ if isinstance(exc.__cause__, OSError) else exc
    if isinstance(cause, ConnectionRefusedError):
        why = "connection refused"
    else:
        why = getattr(cause, "strerror", None) or type(cause).__name__
    return ProxyRetryable(f"cannot connect to {_label(proxy)}: {why}", kind="unreachable")


# --- HTTP CONNECT -----------------------------------------------------------------------------


async def _tcp(proxy: ProxyUrl, hop: str) -> socket.socket:
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in hop else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, (hop, proxy.port))
    except OSError as exc:
        sock.close()
        raise _Unreachable(_unreachable(proxy, exc)) from None
    except BaseException:
        sock.close()
        raise
    return sock


def _connect_request(proxy: ProxyUrl, target: str, port: int) -> bytes:
    authority = f"[{target}]:{port}" if ":" in target else f"{target}:{port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if proxy.username:
        token = f"{proxy.username}:{proxy.password or ''}".encode()
        lines.append("Proxy-Authorization: Basic " + base64.b64encode(token).decode("ascii"))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


async def _read_head(sock: socket.socket) -> bytes:
    """The proxy's answer up to its blank line, and nothing after it (the SMTP greeting may
    follow at once). Each read asks for no more bytes than could still end the head."""
    loop = asyncio.get_running_loop()
    head = bytearray()
    while not head.endswith(_END):
        if len(head) > HEAD_MAX_BYTES:
            raise ValueError("answer too long")
        matched = next((k for k in (3, 2, 1) if head.endswith(_END[:k])), 0)
        chunk = await loop.sock_recv(sock, len(_END) - matched)
        if not chunk:
            raise ConnectionResetError("closed")
        head += chunk
    return bytes(head)


async def _http(proxy: ProxyUrl, hop: str, target: str, config: SmtpConfig) -> socket.socket:
    loop = asyncio.get_running_loop()
    sock = await _tcp(proxy, hop)
    label = _label(proxy)
    try:
        await loop.sock_sendall(sock, _connect_request(proxy, target, config.port))
        try:
            head = await _read_head(sock)
        except (ConnectionError, OSError):
            raise ProxyRetryable(
                f"{label} closed the connection before answering CONNECT", kind="unreachable"
            ) from None
        except ValueError:
            raise ProxyPermanent(
                f"{label} did not answer as an HTTP proxy", kind="protocol"
            ) from None
        status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ProxyPermanent(f"{label} did not answer as an HTTP proxy", kind="protocol")
        status = int(parts[1])
        reply = _scrub(proxy, " ".join(parts[1:]))
        if 200 <= status < 300:
            return sock
        raise _http_refusal(proxy, status, reply, config)
    except BaseException:
        sock.close()
        raise


def _http_refusal(proxy: ProxyUrl, status: int, reply: str, config: SmtpConfig) -> Exception:
    label = _label(proxy)
    if status == 407:
        return _credentials(proxy, reply)
    if status in (502, 503, 504):
        return _TargetFailed(
            ProxyRetryable(
                f"{label} could not connect to {config.address}: {reply}",
                kind="target",
                reply=reply,
            )
        )
    if 500 <= status < 600:
        return ProxyRetryable(f"{label} failed: {reply}", kind="target", reply=reply)
    return ProxyPermanent(
        f"{label} refused to connect to {config.address}: {reply}", kind="forbidden", reply=reply
    )
