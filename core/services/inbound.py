"""Inbound mail: sync an email account's IMAP folder into `InboundMessage` rows, list what arrived.

`sync_account` never raises for a fault of the server, the network or the stored credentials: it
records the plain-language reason in `last_sync_error` (and clears it after a good sync), sets
`last_sync_at` (the time of the last attempt) and `message_count`, and returns a `SyncResult`.
It raises only for what the caller must fix first: an unknown account, an account without an
IMAP host.

Every batch is committed with the UID it covers up to, so an interrupted sync keeps what it
stored and the next continues right after it. When the folder's UIDVALIDITY changes (the mailbox
was re-created), rows of the old incarnation are matched by Message-ID and moved to their new UID
instead of being stored twice.

One sync per account at a time in this process: a second `sync_account` for an account that is
syncing joins the running one (it awaits the same task and gets the same result).

A direct call is an admin's "sync now" (`manual=True`, the default): it runs even when scheduled
syncs are stopped or backing off. The scheduler passes `manual=False`: the account is synced only
when due (core.services.sync_policy). Either way a sync that would exceed the day's failed
logins does not connect: a manual one raises `LoginLimitReached`, a scheduled one skips.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from core.context import Context
from core.errors import MailbellError, NotConfigured, NotFound, ValidationError
from core.mail.imap import (
    ImapConfig,
    ImapError,
    LoginRefused,
    Progress,
    SyncLimits,
    TokenProvider,
    security_for,
    sync_mailbox,
)
from core.models.inbound import InboundMessage
from core.models.mail import EmailAccount, MailServer
from core.models.tenancy import Tenant
from core.services import sync_lease, sync_policy
from core.services.accounts import get_email_account
from core.services.inbound_store import MessageStore, count_messages

log = logging.getLogger("mailbell.imap")

IO_TIMEOUT_S = 30.0
ERROR_MAX = 1000
LIST_LIMIT_MAX = 1000


@dataclass
class SyncResult:
    account_id: int
    ok: bool
    fetched: int = 0
    total: int = 0
    quarantined: int = 0
    message_count: int = 0
    error: str | None = None
    error_kind: str | None = None
    rebaselined: bool = False
    duration_s: float = 0.0
    bytes_received: int = 0


@dataclass
class _Run:
    listeners: list[Progress] = field(default_factory=list)
    last: tuple[int, int] | None = None
    task: asyncio.Task[SyncResult] | None = None

    def progress(self, done: int, total: int) -> None:
        self.last = (done, total)
        for listener in list(self.listeners):
            try:
                listener(done, total)
            except Exception:  # a broken progress display must not break the sync
                log.exception("progress callback failed")


_runs: dict[int, _Run] = {}


async def sync_account(
    *,
    ctx: Context,
    account_id: int,
    progress: Progress | None = None,
    token_provider: TokenProvider | None = None,
    limits: SyncLimits | None = None,
    io_timeout: float = IO_TIMEOUT_S,
    timeout: float | None = None,
    manual: bool = True,
    interval: float | None = None,
) -> SyncResult:
    """Sync one account now, or join its sync if one is running (see the module docstring).

    `progress(done, total)` is called as batches are stored; `timeout` bounds the whole sync,
    `io_timeout` each exchange with the server. `token_provider` overrides the XOAUTH2 token
    source (by default: the account's mail server when it uses XOAUTH2 and the account has no
    IMAP password). `interval`: the scheduler's, what a failure's backoff multiplies (default
    MAILBELL_IMAP_SYNC_INTERVAL_S).
    """
    loop = asyncio.get_running_loop()
    run = _runs.get(account_id)
    if (
        run is not None
        and run.task is not None
        and not run.task.done()
        and run.task.get_loop() is loop
    ):
        if progress is not None:
            run.listeners.append(progress)
            if run.last is not None:
                progress(*run.last)
        return await asyncio.shield(run.task)
    run = _Run(listeners=[progress] if progress is not None else [])
    task = loop.create_task(
        _sync(
            ctx,
            account_id,
            run,
            timeout=timeout,
            token_provider=token_provider,
            limits=limits,
            io_timeout=io_timeout,
            manual=manual,
            interval_s=interval if interval is not None else ctx.settings.imap_sync_interval_s,
        )
    )
    run.task = task
    _runs[account_id] = run

    def forget(_: asyncio.Task[SyncResult]) -> None:
        if _runs.get(account_id) is run:
            del _runs[account_id]

    task.add_done_callback(forget)
    return await task


def _config(
    ctx: Context,
    session: Session,
    account: EmailAccount,
    token_provider: TokenProvider | None,
    io_timeout: float,
) -> ImapConfig:
    """Connection settings; raises ImapError (recorded) for a secret that cannot be read."""
    server = session.get(MailServer, account.mail_server_id) if account.mail_server_id else None
    password = None
    if account.imap_password_enc:
        try:
            password = ctx.box.decrypt(account.imap_password_enc)
        except MailbellError as exc:
            raise ImapError(f"the IMAP password cannot be read: {exc}", kind="config") from None
    if token_provider is None and password is None and server and server.auth == "XOAUTH2":
        try:
            token_provider = _oauth_provider(ctx, server)
        except MailbellError as exc:
            raise ImapError(f"no OAuth access token: {exc}", kind="oauth") from None
    return ImapConfig(
        host=account.imap_host or "",
        port=account.imap_port,
        username=account.imap_username or account.email,
        password=password,
        security=security_for(account.imap_tls, account.imap_port),
        folder=account.imap_folder or "INBOX",
        timeout=io_timeout,
        ca_file=server.ca_file if server is not None else None,
        ca_pem=server.ca_pem if server is not None else None,
        token_provider=token_provider,
    )


def _oauth_provider(ctx: Context, server: MailServer) -> TokenProvider:
    """The XOAUTH2 tokens of the account's mail server (core.mail.oauth)."""
    from core.mail.oauth import provider_for_server
    from core.mail.oauth_server import ServerTokenStore

    assert server.id is not None
    store = ServerTokenStore(ctx.session, ctx.box, server.id)
    return provider_for_server(server, settings=ctx.settings, box=ctx.box, store=store)


async def _sync(
    ctx: Context,
    account_id: int,
    run: _Run,
    *,
    timeout: float | None,
    token_provider: TokenProvider | None,
    limits: SyncLimits | None,
    io_timeout: float,
    manual: bool,
    interval_s: float,
) -> SyncResult:
    started = time.monotonic()
    started_at = sync_policy.now()
    result = SyncResult(account_id=account_id, ok=False)
    config: ImapConfig | None = None
    error: ImapError | None = None
    with ctx.session() as session:
        account = session.get(EmailAccount, account_id)
        if account is None:
            raise NotFound(f"email account {account_id} does not exist")
        if not account.imap_host:
            raise NotConfigured(
                f"email account {account_id} has no IMAP host: set one with "
                f"`mailbell accounts edit {account_id} --imap-host HOST`"
            )
        uidvalidity, last_uid = account.imap_uidvalidity, account.imap_last_uid
        # A first sync is a backfill of old mail: stored, not announced in Slack.
        store = MessageStore(
            ctx, account_id, account.imap_folder or "INBOX", mirror=last_uid is not None
        )
        try:
            config = _config(ctx, session, account, token_provider, io_timeout)
        except ImapError as exc:
            error = exc
    limits = limits or SyncLimits(
        backfill_days=ctx.settings.imap_backfill_days,
        backfill_messages=ctx.settings.imap_backfill_messages,
    )
    owner = sync_lease.process_owner()
    lease_s = timeout + 60 if timeout is not None else sync_lease.DEFAULT_LEASE_S
    if not sync_lease.acquire(ctx.engine, account_id, owner=owner, lease_s=lease_s):
        # Another process is syncing this account: its result will be recorded, not ours.
        result.error, result.error_kind = "another process is syncing this account", "busy"
        result.duration_s = time.monotonic() - started
        return result
    try:
        skipped = await asyncio.to_thread(_admit, ctx, account_id, manual=manual, at=started_at)
        if skipped is not None:
            result.error, result.error_kind = skipped
            result.duration_s = time.monotonic() - started
            return result
        return await _sync_leased(
            ctx,
            account_id,
            run,
            config,
            error,
            store,
            limits,
            result,
            uidvalidity=uidvalidity,
            last_uid=last_uid,
            timeout=timeout,
            started=started,
            started_at=started_at,
            interval_s=interval_s,
        )
    finally:
        sync_lease.release(ctx.engine, account_id, owner=owner)


def _admit(ctx: Context, account_id: int, *, manual: bool, at: datetime) -> tuple[str, str] | None:
    """None when the sync may connect; else why a scheduled one does not (message, kind).

    Read under the sync lease, so that another process's result just recorded counts."""
    with ctx.session() as session:
        account = session.get(EmailAccount, account_id)
        if account is None:
            raise NotFound(f"email account {account_id} does not exist")
        if not manual and not sync_policy.is_due(account, at):
            return "not due: scheduled syncs are stopped or backing off", "not_due"
        until = sync_policy.login_allowed_at(account, at)
        if until is None:
            return None
        if manual:
            tenant = session.get(Tenant, account.tenant_id)
            slug = tenant.slug if tenant is not None else "SLUG"
            raise sync_policy.LoginLimitReached(account, until, slug)
        return f"too many failed logins today: no login before {until:%H:%M} UTC", "login_limit"


async def _sync_leased(
    ctx: Context,
    account_id: int,
    run: _Run,
    config: ImapConfig | None,
    error: ImapError | None,
    store: MessageStore,
    limits: SyncLimits,
    result: SyncResult,
    *,
    uidvalidity: int | None,
    last_uid: int | None,
    timeout: float | None,
    started: float,
    started_at: datetime,
    interval_s: float,
) -> SyncResult:
    if config is not None:
        try:
            async with asyncio.timeout(timeout):
                report = await sync_mailbox(
                    config,
                    uidvalidity=uidvalidity,
                    last_uid=last_uid,
                    sink=store,
                    limits=limits,
                    progress=run.progress,
                )
            result.ok = True
            result.total, result.rebaselined = report.total, report.rebaselined
            result.bytes_received = report.bytes_received
        except ImapError as exc:
            error = exc
        except TimeoutError:
            within = f" within {timeout:g} s" if timeout is not None else ""
            error = ImapError(f"timeout: the sync did not finish{within}", kind="timeout")
        except Exception as exc:  # a bug: keep the account's health honest, keep the caller alive
            log.exception("IMAP sync of email account %s failed unexpectedly", account_id)
            error = ImapError(f"internal error during the sync ({type(exc).__name__})", kind="bug")
    result.fetched, result.quarantined = store.stored, store.quarantined
    if error is not None:
        result.error, result.error_kind = error.message, error.kind
        log.warning("IMAP sync of email account %s failed: %s", account_id, error.message)
    result.message_count = await asyncio.to_thread(
        _record, ctx, account_id, error, started_at=started_at, interval_s=interval_s
    )
    result.duration_s = time.monotonic() - started
    return result


def _record(
    ctx: Context,
    account_id: int,
    error: ImapError | None,
    *,
    started_at: datetime,
    interval_s: float,
) -> int:
    with ctx.session() as session:
        account = session.get(EmailAccount, account_id)
        if account is None:  # deleted while syncing
            return 0
        at = sync_policy.now()
        account.last_sync_at = at
        account.last_sync_error = error.message[:ERROR_MAX] if error is not None else None
        if error is None:
            sync_policy.record_success(account)
        else:
            sync_policy.record_failure(
                account,
                started=started_at,
                at=at,
                interval_s=interval_s,
                reason=error.message[:ERROR_MAX],
                credentials=error.kind == "auth",
                login_refused=isinstance(error, LoginRefused),
            )
        account.message_count = count_messages(session, account_id)
        session.add(account)
        session.commit()
        return account.message_count


def list_messages(
    *, session: Session, tenant: Tenant, account_id: int, limit: int = 50
) -> list[InboundMessage]:
    """The account's stored messages, newest (highest UID) first."""
    if not 1 <= limit <= LIST_LIMIT_MAX:
        raise ValidationError("limit", f"{limit} is out of range: 1 to {LIST_LIMIT_MAX}")
    get_email_account(session=session, tenant=tenant, account_id=account_id)
    query = (
        select(InboundMessage)
        .where(InboundMessage.account_id == account_id)
        .order_by(col(InboundMessage.uidvalidity).desc(), col(InboundMessage.uid).desc())
        .limit(limit)
    )
    return list(session.exec(query))


def message_public(row: InboundMessage) -> dict[str, Any]:
    return {
        "id": row.id,
        "folder": row.folder,
        "uid": row.uid,
        "uidvalidity": row.uidvalidity,
        "message_id": row.message_id,
        "from": row.from_addr,
        "to": row.to_addr,
        "subject": row.subject,
        "date": row.date,
        "snippet": row.snippet,
        "size": row.size,
        "attachments": row.attachments,
        "flags": row.flags,
        "quarantined": row.quarantined,
        "quarantine_reason": row.quarantine_reason,
        "fetched_at": row.fetched_at,
    }


def accounts_to_sync(session: Session, at: datetime | None = None) -> list[int]:
    """Ids of the email accounts with an IMAP host whose scheduled sync is due at `at` (now):
    not stopped after an authentication failure, not backing off after failures."""
    at = at or sync_policy.now()
    query = select(EmailAccount.id).where(
        col(EmailAccount.imap_host).is_not(None),
        EmailAccount.imap_host != "",
        col(EmailAccount.sync_stopped_reason).is_(None),
        or_(col(EmailAccount.sync_next_at).is_(None), col(EmailAccount.sync_next_at) <= at),
    )
    return [int(i) for i in session.exec(query.order_by(col(EmailAccount.id))) if i is not None]
