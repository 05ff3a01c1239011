"""Inbound IMAP with aioimaplib: connect, authenticate once, read new messages in bounded batches.

Security: `tls` is implicit TLS (993) with certificate validation against the system store (which
honours SSL_CERT_FILE) plus an optional CA file; `starttls` upgrades a plain connection (143) and
refuses to go on if the server does not offer it; `plain` sends everything in clear and is used
only when TLS is switched off. aioimaplib has no STARTTLS: it is done here with the documented
`loop.start_tls` on the library's own transport, then capabilities are read again.

The folder is opened with EXAMINE (read-only) and bodies are read with BODY.PEEK, so a sync never
changes a flag. Per message only the header (at most `header_bytes`), BODYSTRUCTURE, FLAGS,
RFC822.SIZE and the first `text_bytes` of the text part are transferred: a 5 MB attachment costs
its BODYSTRUCTURE line, not its bytes.

Failures become `ImapError` with a plain-language message (authentication failed, certificate not
trusted, connection refused, timeout, TLS to a plain port…); secrets never appear in it, and the
password and token are scrubbed from aioimaplib's debug log.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import groupby
from types import TracebackType
from typing import Any, Protocol

from core.errors import MailbellError
from core.mail import imap_parse as p
from core.mail.imap_protocol import (
    ImapConfig,
    ImapError,
    LoginRefused,
    Progress,
    TokenProvider,
    _Imap4,
    _reply,
    describe,
    encode_mailbox,
    security_for,
    tls_context,
)
from core.vocabulary import ImapSecurity

__all__ = [
    "FetchedMessage",
    "ImapClient",
    "ImapConfig",
    "ImapError",
    "LoginRefused",
    "Progress",
    "SyncLimits",
    "SyncReport",
    "SyncSink",
    "TokenProvider",
    "plan_uids",
    "security_for",
    "sync_mailbox",
]


@dataclass(frozen=True)
class SyncLimits:
    batch_size: int = 100
    header_bytes: int = 65536
    text_bytes: int = 8192
    snippet_chars: int = 500
    backfill_days: int = 7
    backfill_messages: int = 500


@dataclass
class FetchedMessage:
    uid: int
    flags: list[str] = field(default_factory=list)
    size: int = 0
    internaldate: datetime | None = None
    message_id: str | None = None
    from_addr: str | None = None
    to_addr: str | None = None
    subject: str | None = None
    date: datetime | None = None
    snippet: str = ""
    attachments: list[str] = field(default_factory=list)
    quarantine_reason: str | None = None


class ImapClient:
    """One authenticated connection: `async with ImapClient(config) as client: ...`."""

    def __init__(self, config: ImapConfig, limits: SyncLimits | None = None) -> None:
        if config.security not in tuple(ImapSecurity):
            raise ImapError(f"security must be one of {', '.join(ImapSecurity)}", kind="config")
        self.config = config
        self.limits = limits or SyncLimits()
        self._imap: _Imap4 | None = None
        self._received = 0
        self._lost: asyncio.Future[None] | None = None

    async def __aenter__(self) -> ImapClient:
        try:
            await self.connect()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close(logout=exc is None)

    @property
    def bytes_received(self) -> int:
        """Bytes read from the server on this connection so far (TLS records excluded)."""
        return self._imap.protocol.bytes_received if self._imap is not None else self._received

    @property
    def imap(self) -> _Imap4:
        assert self._imap is not None, "not connected"
        return self._imap

    def _on_lost(self, _exc: Exception | None) -> None:
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)

    async def _call(self, awaitable: Awaitable[Any], step: str, *, timeout: float | None) -> Any:
        """Await one IMAP exchange, but give up at once when the connection drops."""
        assert self._lost is not None
        task = asyncio.ensure_future(awaitable)
        try:
            done, _ = await asyncio.wait(
                {task, self._lost}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        except BaseException:
            task.cancel()
            raise
        if task in done:
            try:
                return task.result()
            except Exception as exc:
                raise describe(exc, self.config, step) from None
        await _drain(task)
        if self._lost.done():
            raise describe(ConnectionResetError(), self.config, step)
        raise describe(TimeoutError(), self.config, step)

    async def connect(self) -> None:
        config = self.config
        context = tls_context(config.ca_file, config.ca_pem) if config.security != "plain" else None
        loop = asyncio.get_running_loop()
        self._lost = loop.create_future()
        try:
            self._imap = _Imap4(
                host=config.host,
                port=config.port,
                timeout=config.timeout,
                conn_lost_cb=self._on_lost,
                ssl_context=context if config.security == "tls" else None,
            )
        except Exception as exc:
            raise describe(exc, config, "connecting") from None
        await self._call(self.imap.wait_hello_from_server(), "connecting", timeout=None)
        protocol = self.imap.protocol
        if config.security == "starttls":
            if "STARTTLS" not in protocol.capabilities:
                raise ImapError(
                    f"{config.where} does not offer STARTTLS: use implicit TLS on port 993",
                    kind="starttls",
                )
            assert context is not None
            response = await self._call(
                protocol.starttls(context, config.host, config.timeout), "starting TLS",
                timeout=config.timeout,
            )  # fmt: skip
            if response.result != "OK":
                raise ImapError(
                    f"{config.where} refused STARTTLS ({_reply(response)}): use port 993 with TLS",
                    kind="starttls",
                )
        await self._authenticate()

    async def _authenticate(self) -> None:
        config, protocol = self.config, self.imap.protocol
        caps = protocol.capabilities
        secret: str | None = None
        if config.token_provider is not None:
            try:
                secret = await config.token_provider()
            except MailbellError as exc:
                raise ImapError(f"no OAuth access token: {exc}", kind="oauth") from None
            except Exception as exc:
                raise ImapError(
                    f"no OAuth access token ({type(exc).__name__})", kind="oauth"
                ) from None
            if "AUTH=XOAUTH2" not in caps:
                raise ImapError(f"{config.where} does not offer XOAUTH2 login", kind="auth")
            sasl = f"user={config.username}\x01auth=Bearer {secret}\x01\x01"
            initial = base64.b64encode(sasl.encode()).decode()
            exchange = protocol.authenticate("XOAUTH2", initial)
        elif not config.password:
            raise ImapError("authentication failed: the account has no IMAP password", kind="auth")
        else:
            secret = config.password
            if "LOGINDISABLED" in caps:
                raise ImapError(
                    f"{config.where} refuses passwords without TLS: switch TLS on (port 993)",
                    kind="auth",
                )
            if "AUTH=PLAIN" in caps and "SASL-IR" in caps:
                initial = base64.b64encode(f"\0{config.username}\0{secret}".encode()).decode()
                exchange = protocol.authenticate("PLAIN", initial)
            else:
                initial = ""
                exchange = protocol.login_once(config.username, secret)
        response = await self._call(exchange, "logging in", timeout=config.timeout)
        if response.result != "OK":
            reply = _reply(response, secret, initial)
            raise LoginRefused(
                f"authentication failed for {config.username!r} on {config.host}: {reply}"
            )

    async def examine(self, folder: str) -> p.MailboxStatus:
        response = await self._call(
            self.imap.protocol.examine(encode_mailbox(folder)), "opening the folder",
            timeout=self.config.timeout,
        )  # fmt: skip
        if response.result != "OK":
            raise ImapError(
                f"folder {folder!r} cannot be opened: {_reply(response)}", kind="folder"
            )
        try:
            return p.parse_select(response.lines)
        except p.MessageUnreadable as exc:
            raise ImapError(f"folder {folder!r}: {exc}", kind="protocol") from None

    async def search(self, *criteria: str) -> list[int]:
        response = await self._call(
            self.imap.uid_search(*criteria, charset=None), "searching", timeout=self.config.timeout
        )
        if response.result != "OK":
            raise ImapError(f"search refused: {_reply(response)}", kind="protocol")
        return p.parse_search(response.lines)

    async def _fetch(self, uids: Sequence[int], items: str, step: str) -> list[list[p.Chunk]]:
        # aioimaplib's FETCH timeout counts from the last byte received, so big batches are fine.
        response = await self._call(
            self.imap.uid("fetch", p.uid_set(uids), items), step, timeout=None
        )
        if response.result != "OK":
            raise ImapError(f"{step}: the server answered {_reply(response)}", kind="protocol")
        return p.split_fetch_responses(response.lines[:-1])

    async def fetch_messages(self, uids: Sequence[int]) -> list[FetchedMessage]:
        """Summaries of `uids` (those still on the server); unreadable ones are quarantined."""
        limits, wanted = self.limits, set(uids)
        items = (
            "(UID FLAGS RFC822.SIZE INTERNALDATE BODYSTRUCTURE "
            f"BODY.PEEK[HEADER]<0.{limits.header_bytes}>)"
        )
        found: dict[int, FetchedMessage] = {}
        text_parts: dict[int, p.BodyPart] = {}
        orphans = False
        for group in await self._fetch(uids, items, "fetching messages"):
            try:
                item = p.parse_fetch_response(group)
            except p.MessageUnreadable as exc:
                uid = p.uid_of_group(group)
                if uid in wanted:
                    found[uid] = FetchedMessage(uid=uid, quarantine_reason=str(exc))
                orphans = orphans or uid is None
                continue
            if item.uid is None or item.uid not in wanted:
                continue  # an unsolicited FLAGS update of another message
            message, part = _summarise(item, limits)
            found[item.uid] = message
            if part is not None:
                text_parts[item.uid] = part
        if orphans:
            for uid in wanted - found.keys():
                found[uid] = FetchedMessage(
                    uid=uid, quarantine_reason="the server's answer was unreadable"
                )
        by_section = sorted(text_parts.items(), key=lambda pair: pair[1].section)
        for section, pairs in groupby(by_section, key=lambda pair: pair[1].section):
            chosen = dict(pairs)
            text_items = f"(UID BODY.PEEK[{section}]<0.{limits.text_bytes}>)"
            for group in await self._fetch(list(chosen), text_items, "fetching message text"):
                try:
                    item = p.parse_fetch_response(group)
                except p.MessageUnreadable:
                    continue
                if item.uid in chosen:
                    data = item.section(f"BODY[{section}]")
                    found[item.uid].snippet = p.snippet_text(
                        data, chosen[item.uid], limits.snippet_chars
                    )
        return [found[uid] for uid in sorted(found)]

    async def close(self, *, logout: bool = False) -> None:
        imap, self._imap = self._imap, None
        if imap is None:
            return
        self._received = imap.protocol.bytes_received
        if logout and self._lost is not None and not self._lost.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(imap.logout(), min(self.config.timeout, 2.0))
        transport = imap.protocol.transport
        if transport is not None:
            transport.close()
        await _drain(imap._client_task)  # the connect task, should we still be connecting


async def _drain(task: asyncio.Future[Any]) -> None:
    """Cancel `task` and wait for it, without swallowing a cancellation of the caller."""
    task.cancel()
    await asyncio.wait({task})
    if not task.cancelled():
        task.exception()  # retrieved: asyncio does not log it as forgotten


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _summarise(item: p.FetchItem, limits: SyncLimits) -> tuple[FetchedMessage, p.BodyPart | None]:
    assert item.uid is not None
    flags = item.items.get("FLAGS")
    size = item.items.get("RFC822.SIZE")
    message = FetchedMessage(
        uid=item.uid,
        # \\Recent belongs to a session, not to the message: not worth keeping.
        flags=[_text(f) for f in flags if f != b"\\Recent"] if isinstance(flags, list) else [],
        size=int(size) if isinstance(size, bytes) and size.isdigit() else 0,
        internaldate=p.parse_internaldate(item.items.get("INTERNALDATE")),
    )
    try:
        parts = p.parse_bodystructure(item.items.get("BODYSTRUCTURE"))
        text_part = p.choose_text_part(parts)
        headers = p.parse_headers(item.section("BODY[HEADER]"))
    except p.MessageUnreadable as exc:
        message.quarantine_reason = str(exc)
        return message, None
    except Exception as exc:  # the stdlib parsers have odd corners: keep going, keep the reason
        message.quarantine_reason = f"unreadable message ({type(exc).__name__})"
        return message, None
    message.attachments = p.attachment_names(parts, text_part)
    message.message_id = headers.message_id
    message.from_addr, message.to_addr = headers.from_addr, headers.to_addr
    message.subject, message.date = headers.subject, headers.date or message.internaldate
    return message, text_part


async def plan_uids(
    client: ImapClient, status: p.MailboxStatus, last_uid: int | None, limits: SyncLimits
) -> tuple[list[int], int | None]:
    """The UIDs to fetch, and the new baseline when the mailbox is new to us (else None).

    Known mailbox: everything above `last_uid`. New mailbox (first sync, or UIDVALIDITY changed):
    the backfill window (received in the last `backfill_days`, at most the newest
    `backfill_messages`) and everything after it; the baseline is the UID just below.
    """
    if last_uid is not None:
        if status.exists == 0 or (status.uidnext is not None and status.uidnext <= last_uid + 1):
            return [], None
        return [uid for uid in await client.search(f"UID {last_uid + 1}:*") if uid > last_uid], None
    if status.exists == 0:
        return [], max((status.uidnext or 1) - 1, 0)
    everything = await client.search("ALL")
    window = everything
    if limits.backfill_days > 0:
        since = datetime.now(UTC) - timedelta(days=limits.backfill_days)
        window = await client.search("SINCE", p.imap_date(since))
    if limits.backfill_messages > 0:
        window = window[-limits.backfill_messages :]
    if not window:
        return [], max(everything[-1] if everything else 0, (status.uidnext or 1) - 1)
    return [uid for uid in everything if uid >= window[0]], window[0] - 1


class SyncSink(Protocol):
    """Where a sync puts its results (core.services.inbound writes them to the database)."""

    def baseline(self, uidvalidity: int, last_uid: int) -> None: ...

    def store(self, uidvalidity: int, messages: list[FetchedMessage], last_uid: int) -> None: ...


@dataclass
class SyncReport:
    fetched: int = 0
    total: int = 0
    quarantined: int = 0
    rebaselined: bool = False
    uidvalidity: int | None = None
    bytes_received: int = 0


async def sync_mailbox(
    config: ImapConfig,
    *,
    uidvalidity: int | None,
    last_uid: int | None,
    sink: SyncSink,
    limits: SyncLimits | None = None,
    progress: Progress | None = None,
) -> SyncReport:
    """Fetch what is new in `config.folder` since (`uidvalidity`, `last_uid`) into `sink`.

    Each batch is handed to `sink.store` with the UID it covers up to, so an interrupted sync
    keeps what it stored and the next one continues after it: no gaps, no duplicates.
    """
    limits = limits or SyncLimits()
    report = SyncReport()
    async with ImapClient(config, limits) as client:
        status = await client.examine(config.folder)
        report.uidvalidity = status.uidvalidity
        known = last_uid if uidvalidity == status.uidvalidity else None
        uids, baseline = await plan_uids(client, status, known, limits)
        if baseline is not None:
            report.rebaselined = True
            sink.baseline(status.uidvalidity, baseline)
        report.total = len(uids)
        if progress is not None:
            progress(0, report.total)
        size = max(1, limits.batch_size)
        for start in range(0, len(uids), size):
            batch = uids[start : start + size]
            messages = await client.fetch_messages(batch)
            sink.store(status.uidvalidity, messages, batch[-1])
            report.fetched += len(messages)
            report.quarantined += sum(1 for m in messages if m.quarantine_reason)
            if progress is not None:
                progress(start + len(batch), report.total)
    report.bytes_received = client.bytes_received
    return report
