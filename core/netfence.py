"""Which hosts a tenant-scoped actor may point a mail server at (`MAILBELL_TENANT_SMTP_NETWORKS`).

A tenant token or a tenant's Slack admin must not make mailbell probe the host's own network:
every address a fenced host name resolves to must be allowed, at save time and again at
connect time (DNS can change between the two). The rule:

- `MAILBELL_TENANT_SMTP_NETWORKS` empty (the default): public unicast addresses only. Loopback,
  private (RFC 1918), link-local, CGNAT (100.64/10), unique-local (fc00::/7), multicast,
  unspecified, reserved and documentation ranges are refused, and so are the IPv6 forms that
  embed one of those (IPv4-mapped, IPv4-compatible, NAT64 64:ff9b::/96, 6to4, Teredo);
- a comma-separated list of CIDRs: only addresses inside one of them;
- `any`: no fence.

Name resolution runs on a thread with a short timeout (`RESOLVE_TIMEOUT_S`) so that a slow
resolver holds up neither the event loop nor the API's writer thread for long; answers are kept
for `CACHE_TTL_S` so that an async pre-check before a write lets the in-write check skip DNS.
Connect-time checks never use the cache: they resolve again and connect to an address they
checked (`checked_addresses`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

from core.errors import ValidationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

RESOLVE_TIMEOUT_S = 2.5
CACHE_TTL_S = 30.0
ENVIRONMENT_VARIABLE = "MAILBELL_TENANT_SMTP_NETWORKS"

# Refused by the default rule even where Python's `is_global` would let them through
# (multicast, and ranges whose status differs between Python versions).
_NEVER_PUBLIC: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/96",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4, Teredo)."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64 or int(address) >> 32 == 0:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _is_translation(address: IPAddress) -> bool:
    return isinstance(address, ipaddress.IPv6Address) and (
        address.ipv4_mapped is not None or address in _NAT64
    )


def is_public_unicast(address: IPAddress) -> bool:
    """True for an address the default rule allows: globally routable unicast only."""
    inner = embedded_ipv4(address)
    if inner is not None and not is_public_unicast(inner):
        return False
    if inner is not None and _is_translation(address):
        return True  # an IPv4-mapped or NAT64 form of a public IPv4 address is that address
    if any(address in network for network in _NEVER_PUBLIC if network.version == address.version):
        return False
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
    )


@dataclass(frozen=True)
class NetworkFence:
    """The allowed networks: None is the default rule (public unicast); `allow_all` is `any`."""

    networks: tuple[IPNetwork, ...] | None = None
    allow_all: bool = False

    def allows(self, address: IPAddress) -> bool:
        if self.allow_all:
            return True
        if self.networks is None:
            return is_public_unicast(address)
        # ::ffff:127.0.0.1 is 127.0.0.1: the list is matched against the IPv4 address.
        mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        candidate = mapped or address
        return any(candidate.version == n.version and candidate in n for n in self.networks)

    @property
    def rule(self) -> str:
        """The rule in words, for error messages."""
        if self.allow_all:
            return "any address"
        if self.networks is None:
            return (
                "public unicast addresses only (no loopback, private, link-local, CGNAT, "
                "unique-local, multicast, reserved or unspecified address)"
            )
        return "addresses in " + ", ".join(str(n) for n in self.networks)


@lru_cache(maxsize=16)
def parse_networks(spec: str) -> NetworkFence:
    """`MAILBELL_TENANT_SMTP_NETWORKS` as a fence; a bad entry is refused naming it."""
    text = spec.strip()
    if not text:
        return NetworkFence()
    if text.lower() == "any":
        return NetworkFence(allow_all=True)
    networks: list[IPNetwork] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValidationError(
                ENVIRONMENT_VARIABLE,
                f"{item!r} is not a CIDR network (e.g. 203.0.113.0/24); use CIDRs separated "
                "by commas, or 'any'",
            ) from None
    return NetworkFence(networks=tuple(networks))


def current_fence() -> NetworkFence:
    """The fence of this process's settings (read on each call: tests and operators change it)."""
    from core.config import load_settings

    return parse_networks(load_settings().tenant_smtp_networks)


def ip_literal(host: str) -> IPAddress | None:
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class ResolveFailed(Exception):
    """The name did not resolve (no such name, or no answer within the timeout)."""


def _getaddrinfo(host: str) -> list[IPAddress]:
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]  # a scoped fe80::1%eth0 is fe80::1
        address = ipaddress.ip_address(text)
        if address not in found:
            found.append(address)
    return found


# Resolutions run here, never on the caller's thread: a resolver that hangs occupies one of
# these threads, not the API's writer or the event loop.
_POOL_LOCK = threading.Lock()
_pool: concurrent.futures.ThreadPoolExecutor | None = None
_cache: dict[str, tuple[float, tuple[IPAddress, ...]]] = {}


def _executor() -> concurrent.futures.ThreadPoolExecutor:
    global _pool
    with _POOL_LOCK:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="netfence-dns")
        return _pool


def _remember(host: str, addresses: list[IPAddress]) -> None:
    _cache[host.lower()] = (time.monotonic() + CACHE_TTL_S, tuple(addresses))


def _cached(host: str) -> list[IPAddress] | None:
    entry = _cache.get(host.lower())
    if entry is None or entry[0] < time.monotonic():
        return None
    return list(entry[1])


# Python 3.11: concurrent.futures.TimeoutError is the built-in TimeoutError.
_LOOKUP_ERRORS = (OSError, UnicodeError, ValueError, TimeoutError)


def _known(host: str, *, use_cache: bool) -> list[IPAddress] | None:
    """An IP literal is itself; a name resolved lately is its cached addresses."""
    literal = ip_literal(host)
    if literal is not None:
        return [literal]
    return _cached(host) if use_cache else None


def _found(host: str, addresses: list[IPAddress]) -> list[IPAddress]:
    if not addresses:
        raise ResolveFailed(host)
    _remember(host, addresses)
    return addresses


def resolve_blocking(host: str, *, timeout: float = RESOLVE_TIMEOUT_S) -> list[IPAddress]:
    """Every address of `host` (an IP literal is itself), using the cache; ResolveFailed."""
    known = _known(host, use_cache=True)
    if known is not None:
        return known
    try:
        addresses = _executor().submit(_getaddrinfo, host).result(timeout=timeout)
    except _LOOKUP_ERRORS:
        raise ResolveFailed(host) from None
    return _found(host, addresses)


async def resolve(
    host: str, *, timeout: float = RESOLVE_TIMEOUT_S, use_cache: bool = True
) -> list[IPAddress]:
    """`resolve_blocking` for async code: the loop never waits on DNS itself."""
    known = _known(host, use_cache=use_cache)
    if known is not None:
        return known
    future = asyncio.wrap_future(_executor().submit(_getaddrinfo, host))
    try:
        addresses = await asyncio.wait_for(future, timeout)
    except _LOOKUP_ERRORS:
        raise ResolveFailed(host) from None
    return _found(host, addresses)


def refusal(field: str, host: str, fence: NetworkFence) -> ValidationError:
    """The one answer for a fenced host: the same whatever is (or is not) listening there."""
    return ValidationError(
        field,
        f"{host!r} is not allowed for a tenant's mail server: its addresses must be "
        f"{fence.rule} ({ENVIRONMENT_VARIABLE})",
    )


def unresolvable(field: str, host: str) -> ValidationError:
    return ValidationError(
        field,
        f"{host!r} does not resolve (no address within {RESOLVE_TIMEOUT_S:g} s): a tenant's "
        "mail server must name a host whose addresses can be checked",
    )


def refusal_for_texts(field: str, host: str, texts: list[str]) -> ValidationError | None:
    """For resolver answers given as text (getaddrinfo's): the refusal, or None when the
    current fence allows every one of them."""
    fence = current_fence()
    addresses = [ip_literal(text.split("%", 1)[0]) for text in texts]
    if not texts or any(a is None or not fence.allows(a) for a in addresses):
        return refusal(field, host, fence)
    return None


def judge(field: str, host: str, addresses: list[IPAddress], fence: NetworkFence) -> None:
    if not addresses or not all(fence.allows(address) for address in addresses):
        raise refusal(field, host, fence)


def check_host(field: str, host: str, fence: NetworkFence | None = None) -> list[IPAddress]:
    """Every address of `host` allowed by the fence, or ValidationError naming `field`."""
    fence = fence or current_fence()
    if fence.allow_all:
        return []
    try:
        addresses = resolve_blocking(host)
    except ResolveFailed:
        raise unresolvable(field, host) from None
    judge(field, host, addresses, fence)
    return addresses


async def prefetch(host: str | None) -> None:
    """Resolve `host` ahead of a write so that the in-write check finds it cached."""
    if not host or not isinstance(host, str) or ip_literal(host) is not None:
        return
    if current_fence().allow_all:
        return
    with contextlib.suppress(ResolveFailed):  # the in-write check answers with the error
        await resolve(host)


async def checked_addresses(
    field: str, host: str, fence: NetworkFence | None = None
) -> list[IPAddress]:
    """Connect-time check: resolve afresh (no cache) and return the addresses, all allowed."""
    fence = fence or current_fence()
    try:
        addresses = await resolve(host, use_cache=False)
    except ResolveFailed:
        raise unresolvable(field, host) from None
    judge(field, host, addresses, fence)
    return addresses
