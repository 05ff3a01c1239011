"""Fetching a voicemail recording given as a URL, before the event is prepared.

`fetch_payload_files(event, data, fenced=...)` takes the raw payload (a dict, not yet
validated) of a VOICEMAIL_RECEIVED whose `recording` has a `url` and no `data`, and returns a
copy: with the recording's bytes as base64 (and its type, from the answer, when the payload
gave none), or without the recording and with `recording_error` saying why it could not be
fetched. The mail always goes out; only the file may be missing.

Rules: http and https only; at most `MAX_REDIRECTS` redirects, each checked like the first
URL; the whole fetch within `MAILBELL_ATTACHMENT_FETCH_TIMEOUT_S`; at most
`MAILBELL_ATTACHMENT_MAX_BYTES` (a larger `Content-Length` is refused at once, a body is read
until it goes over). `fenced` (the event came from a tenant-scoped caller): the host's addresses
must be allowed by MAILBELL_TENANT_SMTP_NETWORKS, checked at connect time on a fresh resolution
and connected to as checked (core/netfence.py, as webhook targets are), so DNS cannot be
rebound between the check and the connection.

A URL's query string may carry a token: it is never logged nor shown (reasons name the host).
"""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp

from core import netfence
from core.attachments import checks
from core.channels.webhook.http import FencedResolver, FenceRefused
from core.vocabulary import EventName

log = logging.getLogger("mailbell.attachments")

MAX_REDIRECTS = 3
CHUNK_BYTES = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_UNTYPED = frozenset({"application/octet-stream", "binary/octet-stream"})
# What servers also call the two accepted kinds of recording.
_ALIASES = {
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/mp3": "audio/mpeg",
    "audio/mpeg3": "audio/mpeg",
    "audio/x-mpeg": "audio/mpeg",
}


class FetchFailed(Exception):
    """The file could not be fetched; the message says why, in plain words."""


def wants_fetch(event: str, data: Any) -> bool:
    """Whether `data` (a raw payload) has a recording to fetch: a url and no data."""
    if not isinstance(event, str) or event.strip().upper() != EventName.VOICEMAIL_RECEIVED:
        return False
    if not isinstance(data, dict):
        return False
    recording = data.get("recording")
    return (
        isinstance(recording, dict)
        and isinstance(recording.get("url"), str)
        and recording.get("data") is None
    )


def shown_url(url: str) -> str:
    """The URL without its query string and fragment (they may hold a token): for logs."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{parts.path}"


async def fetch_payload_files(event: str, data: dict[str, Any], *, fenced: bool) -> dict[str, Any]:
    """`data` with its recording fetched (base64 in `recording.data`), or without the recording
    and with `recording_error` when the fetch failed; `data` itself when there is nothing to
    fetch (or the URL is not http(s): the payload's validation refuses it)."""
    if not wants_fetch(event, data):
        return data
    recording: dict[str, Any] = data["recording"]
    url = recording["url"].strip()
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        return data
    from core.config import load_settings

    settings = load_settings()
    try:
        async with asyncio.timeout(settings.attachment_fetch_timeout_s):
            content, answered_type = await _fetch(
                url, limit=settings.attachment_max_bytes, fenced=fenced
            )
        found = _content_type(recording, answered_type, url, content)
    except TimeoutError:
        reason = f"no complete answer within {settings.attachment_fetch_timeout_s:g} s"
        return _failed(data, url, reason)
    except FetchFailed as exc:
        return _failed(data, url, str(exc))
    fetched = {key: value for key, value in recording.items() if key != "url"}
    fetched["data"] = base64.b64encode(content).decode("ascii")
    if found is not None:
        fetched["content_type"] = found
    return {**data, "recording": fetched}


def _failed(data: dict[str, Any], url: str, reason: str) -> dict[str, Any]:
    log.info("recording not fetched from %s: %s", shown_url(url), reason)
    kept = {key: value for key, value in data.items() if key != "recording"}
    kept["recording_error"] = reason  # the templates say what it is the reason of
    return kept


def _content_type(
    recording: dict[str, Any], answered: str | None, url: str, content: bytes
) -> str | None:
    """The payload's type, else the answer's, else what the name or the bytes say; an answer
    that is no audio the voicemail accepts fails the fetch (a login page, say)."""
    given = recording.get("content_type")
    if isinstance(given, str) and given.strip():
        return None  # the payload's own, checked by its validation
    name = recording.get("filename") or urlsplit(url).path.rsplit("/", 1)[-1]
    found = _ALIASES.get(answered or "", answered) if answered not in _UNTYPED else None
    found = found or checks.guess_type(name if isinstance(name, str) else None, content)
    if found is None or found not in (checks.RECORDING.allowed or ()):
        sent = found or "a file of unknown type"
        raise FetchFailed(f"the server sent {sent}, not a WAV or MP3 recording")
    return found


def _session(*, fenced: bool) -> aiohttp.ClientSession:
    if fenced:
        connector = aiohttp.TCPConnector(limit=4, resolver=FencedResolver(), use_dns_cache=False)
    else:
        connector = aiohttp.TCPConnector(limit=4)
    return aiohttp.ClientSession(connector=connector)


def _check_url(url: str, *, fenced: bool) -> None:
    """http(s) only; a fenced IP literal checked here (aiohttp does not resolve literals)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise FetchFailed("a redirect led to an address that is not http or https")
    literal = netfence.ip_literal(parts.hostname)
    if fenced and literal is not None:
        fence = netfence.current_fence()
        if not fence.allow_all and not fence.allows(literal):
            raise FetchFailed(_fence_reason(parts.hostname))


def _fence_reason(host: str) -> str:
    return (
        f"its host {host} is not one mailbell may reach for a tenant "
        f"({netfence.ENVIRONMENT_VARIABLE})"
    )


async def _fetch(url: str, *, limit: int, fenced: bool) -> tuple[bytes, str | None]:
    async with _session(fenced=fenced) as http:
        for _ in range(MAX_REDIRECTS + 1):
            _check_url(url, fenced=fenced)
            host = urlsplit(url).hostname or ""
            try:
                async with http.get(url, allow_redirects=False) as response:
                    if response.status in _REDIRECTS and "Location" in response.headers:
                        url = urljoin(url, response.headers["Location"])
                        continue
                    if response.status >= 400:
                        raise FetchFailed(f"the server answered {response.status}")
                    if response.status != 200:
                        raise FetchFailed(f"the server answered {response.status}, not the file")
                    content = await _read(response, limit)
                    return content, (response.content_type or None)
            except aiohttp.ClientConnectorError as exc:
                if isinstance(exc.os_error, FenceRefused):
                    if "does not resolve" in str(exc.os_error):
                        raise FetchFailed(f"its host {host} does not resolve") from None
                    raise FetchFailed(_fence_reason(host)) from None
                raise FetchFailed(f"cannot connect to {host}") from None
            except aiohttp.ClientError as exc:
                raise FetchFailed(
                    f"the transfer from {host} failed ({type(exc).__name__})"
                ) from None
        raise FetchFailed(f"more than {MAX_REDIRECTS} redirects")


def _too_large(limit: int) -> FetchFailed:
    return FetchFailed(
        f"it is larger than the limit of {limit} bytes (MAILBELL_ATTACHMENT_MAX_BYTES)"
    )


async def _read(response: aiohttp.ClientResponse, limit: int) -> bytes:
    if response.content_length is not None and response.content_length > limit:
        raise _too_large(limit)
    received = bytearray()
    async for chunk in response.content.iter_chunked(CHUNK_BYTES):
        received += chunk
        if len(received) > limit:  # stop reading at once: the rest is never downloaded
            raise _too_large(limit)
    if not received:
        raise FetchFailed("the server sent an empty file")
    return bytes(received)
