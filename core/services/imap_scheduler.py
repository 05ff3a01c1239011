"""Scheduled IMAP sync for `mailbell serve`: every account with an IMAP host, every N seconds.

Only due accounts are synced (core.services.sync_policy): one that failed n times in a row waits
interval * 2^(n-1), at most 6 h, and one whose login was refused waits for new credentials or an
admin's "sync now".

Accounts are independent: each has its own task, started when it is due and its previous sync has
finished; a failing account records its error (core.services.inbound) and a hanging one is cut
off by its per-account timeout, without delaying any other account. A manual sync of an account
the scheduler is syncing joins it (the registry in core.services.inbound).

    stop = asyncio.Event()
    await ImapScheduler(ctx).run(stop)   # until stop.set()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from core.context import Context
from core.errors import MailbellError, NotFound
from core.services.inbound import IO_TIMEOUT_S, SyncResult, accounts_to_sync, sync_account

log = logging.getLogger("mailbell.imap")

MIN_ACCOUNT_TIMEOUT_S = 60.0
MAX_CONCURRENT = 32


class ImapScheduler:
    def __init__(
        self,
        ctx: Context,
        *,
        interval: float | None = None,
        account_timeout: float | None = None,
        io_timeout: float = IO_TIMEOUT_S,
        max_concurrent: int = MAX_CONCURRENT,
    ) -> None:
        self.ctx = ctx
        self.interval = float(
            interval if interval is not None else ctx.settings.imap_sync_interval_s
        )
        if self.interval <= 0:
            raise ValueError("the IMAP sync interval must be positive")
        # A sync should be over before the next one is due; slow first syncs get at least a minute.
        self.account_timeout = account_timeout or max(self.interval, MIN_ACCOUNT_TIMEOUT_S)
        self.io_timeout = io_timeout
        # Many accounts: at most this many connections at once (a hanging account holds a slot
        # only until its timeout).
        self._slots = asyncio.Semaphore(max(1, max_concurrent))
        self.results: dict[int, SyncResult] = {}
        self.rounds = 0
        self._tasks: dict[int, asyncio.Task[None]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Start due syncs every `interval` seconds until `stop` is set; then cancel what runs."""
        log.info("IMAP scheduler: every %g s", self.interval)
        try:
            while not stop.is_set():
                self.launch_due()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.interval)
        finally:
            await self._cancel_all()

    async def run_once(self) -> dict[int, SyncResult]:
        """Sync every due account once, concurrently, and wait for all of them."""
        self.launch_due()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        return dict(self.results)

    def launch_due(self) -> list[int]:
        """Start a sync for every due account that is not syncing already; returns their ids."""
        self.rounds += 1
        try:
            with self.ctx.session() as session:
                ids = accounts_to_sync(session)
        except Exception:
            log.exception("IMAP scheduler: cannot list the email accounts")
            return []
        started = []
        for account_id in ids:
            task = self._tasks.get(account_id)
            if task is None or task.done():
                self._tasks[account_id] = asyncio.create_task(
                    self._sync_one(account_id), name=f"imap-sync-{account_id}"
                )
                started.append(account_id)
        for account_id in set(self._tasks) - set(ids):
            if self._tasks[account_id].done():
                del self._tasks[account_id]
        return started

    async def _sync_one(self, account_id: int) -> None:
        try:
            async with self._slots:
                self.results[account_id] = await sync_account(
                    ctx=self.ctx,
                    account_id=account_id,
                    timeout=self.account_timeout,
                    io_timeout=self.io_timeout,
                    manual=False,
                    interval=self.interval,
                )
        except NotFound:
            self.results.pop(account_id, None)  # deleted since it was listed
        except MailbellError as exc:
            log.warning("IMAP sync of email account %s not started: %s", account_id, exc)
        except Exception:
            log.exception("IMAP sync of email account %s failed unexpectedly", account_id)

    async def _cancel_all(self) -> None:
        tasks = [task for task in self._tasks.values() if not task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
