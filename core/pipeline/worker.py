"""The delivery worker: claim → send → record, with retries, backoff and per-server pacing.

Channels come from core/channels/registry.py; the worker uses only the `Channel` interface
(core/channels/base.py), whose optional capabilities have neutral defaults.

Database work runs on one dedicated thread (SQLite likes one writer), sends run concurrently on
the event loop, outcomes are written in batches. A crash loses nothing: leases expire and the
rows come due again (at-least-once delivery).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from core import metrics
from core.channels.base import Channel, ClaimedDelivery
from core.channels.registry import adopt, build_channels
from core.context import Context
from core.errors import DeliveryError, PermanentError, RetryableError
from core.models.workers import HEARTBEAT_S as HEARTBEAT_PERIOD_S
from core.pipeline import outbox, retention
from core.pipeline.alert_edits import note_for, queue_edits, resolve_edits
from core.pipeline.bursts import BurstThreads
from core.pipeline.digest_close import close_claimed
from core.pipeline.outbox import Outcome
from core.pipeline.outcomes import OutcomeRules, WorkerStats
from core.pipeline.shared_limit import reserve_slot
from core.services import workers as heartbeat
from core.vocabulary import WorkerKind

log = logging.getLogger(__name__)
# A database that restarts or fails over must not end the worker: it waits and tries again.
DATABASE_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError, sqlite3.Error, OSError)
PACING_WAIT_MAX_S = 2.0  # wait this long for a rate-limit slot; longer: reschedule the row
# Retention passes (core/pipeline/retention.py): the first a little after start, so a restart
# loop does not prune before sending; then at most one every RETENTION_INTERVAL_S.
RETENTION_FIRST_S = 30.0
RETENTION_INTERVAL_S = 300.0
# How often a running loop says it is alive (core/models/workers.py: 3 missed beats is gone).
HEARTBEAT_S = HEARTBEAT_PERIOD_S


def _error_text(exc: DeliveryError) -> str:
    parts = [str(exc)]
    if exc.step:
        parts.insert(0, f"[{exc.step}]")
    return " ".join(parts)


class Worker:
    def __init__(
        self,
        ctx: Context,
        *,
        channels: dict[str, Channel] | None = None,
        owner: str | None = None,
        max_in_flight: int = 64,
        pool_size: int = 4,
        lease_s: float = 120.0,
        poll_interval_s: float = 0.05,
        flush_every: int = 100,
        kind: WorkerKind = WorkerKind.WORKER,
    ) -> None:
        self.ctx = ctx
        self.kind = kind
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.max_in_flight = max_in_flight
        self.lease_s = lease_s
        self.poll_interval_s = poll_interval_s
        self.flush_every = flush_every
        if channels is None:
            self.channels = build_channels(ctx, pool_size=pool_size)
        else:
            self.channels = {name: adopt(channel) for name, channel in channels.items()}
        self.stats = WorkerStats()
        self.rules = OutcomeRules(
            self.stats,
            retry_base_s=ctx.settings.retry_base_s,
            retry_max_age_s=ctx.settings.retry_max_age_s,
        )
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailbell-db")
        self._outcomes: list[Outcome] = []
        self._last_flush = time.monotonic()
        self.bursts = BurstThreads(ctx.settings.slack_thread_window_s)
        # Emails that end after retries, or fail, have their event's posted alerts edited.
        self._queue_edits = partial(queue_edits, box=ctx.box)

    async def _run_db(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db, lambda: fn(*args, **kwargs))

    # -- claiming -------------------------------------------------------------------------------

    def _claim_sync(self, limit: int) -> list[ClaimedDelivery]:
        claimed = outbox.claim(self.ctx.engine, owner=self.owner, limit=limit, lease_s=self.lease_s)
        # Digests whose window is over are rendered now; one that cannot be is recorded here.
        claimed, ended = close_claimed(self.ctx.engine, self.ctx.box, claimed)
        # Edits whose message is still on its way wait for it (core/pipeline/alert_edits.py).
        claimed, waiting = resolve_edits(self.ctx.engine, claimed, self.rules.deferred)
        if ended or waiting:
            outbox.record(self.ctx.engine, [*ended, *waiting], owner=self.owner)
        by_channel: dict[str, list[ClaimedDelivery]] = {}
        for delivery in claimed:
            by_channel.setdefault(delivery.channel, []).append(delivery)
        for name, batch in by_channel.items():
            channel = self.channels.get(name)
            if channel is not None:
                channel.prepare(batch)
        return claimed

    # -- one delivery ----------------------------------------------------------------------------

    async def _server_slot(self, channel: Channel | None, delivery: ClaimedDelivery) -> float:
        """0 once a send slot of the server's rate limit is ours (shared by every worker process);
        otherwise how long until one frees up, when that is too long to wait here."""
        if channel is None or delivery.mail_server_id is None:
            return 0.0
        limit = channel.rate_limit(delivery)
        if limit <= 0:
            return 0.0
        while True:
            wait: float = await self._run_db(
                reserve_slot, self.ctx.engine, delivery.mail_server_id, limit
            )
            if wait == 0 or wait > PACING_WAIT_MAX_S:
                return wait
            await asyncio.sleep(wait)

    async def _deliver(self, delivery: ClaimedDelivery) -> None:
        channel = self.channels.get(delivery.channel)
        try:
            wait = await self._server_slot(channel, delivery)
        except DATABASE_ERRORS as exc:
            await self._database_unavailable(exc)
            wait = 1.0
        if wait > 0:
            self._outcomes.append(self.rules.deferred(delivery, wait))
            return
        # Channels that pace per target (Slack: per channel) hand out send slots.
        slot = channel.reserve_slot(delivery.target, PACING_WAIT_MAX_S) if channel else 0.0
        if slot < 0:  # no slot soon: back in the queue, not an attempt
            self._outcomes.append(self.rules.deferred(delivery, -slot))
            return
        if slot > 0:
            await asyncio.sleep(slot)
        threads = (
            self.bursts
            if channel is not None and channel.threads_bursts and delivery.edit_of is None
            else None
        )
        if threads is not None:
            delivery.thread_under = await threads.thread_for(delivery)
        posted: str | None = None
        try:
            if channel is None:
                raise PermanentError(f"no {delivery.channel} channel is configured", step="send")
            with metrics.observe_send(delivery.channel):
                result = await channel.send(delivery)
            posted = result.message_ref
        except RetryableError as exc:
            outcome = self.rules.retry(delivery, _error_text(exc), exc.reply, delay=exc.retry_after)
        except PermanentError as exc:
            outcome = self.rules.fail(delivery, _error_text(exc), exc.reply)
        except Exception as exc:  # a bug must not lose the delivery: retry it, loudly
            log.exception("delivery %s: unexpected error", delivery.id)
            outcome = self.rules.retry(delivery, f"internal error: {type(exc).__name__}")
        else:
            outcome = self.rules.after_send(delivery, result)
        finally:
            if threads is not None:
                threads.done(delivery, delivery.thread_under, posted)
        outcome.note = note_for(delivery, outcome)
        self._outcomes.append(outcome)

    # -- the loop ------------------------------------------------------------------------------

    async def _flush(self, force: bool = False) -> None:
        if not self._outcomes:
            return
        stale = time.monotonic() - self._last_flush > 0.05
        if not (force or stale or len(self._outcomes) >= self.flush_every):
            return
        batch, self._outcomes = self._outcomes, []
        self._last_flush = time.monotonic()
        try:
            await self._run_db(
                outbox.record, self.ctx.engine, batch, owner=self.owner, noted=self._queue_edits
            )
        except DATABASE_ERRORS as exc:
            # The database is away (restart, failover): keep the outcomes and write them later.
            self._outcomes[:0] = batch
            await self._database_unavailable(exc)

    async def _database_unavailable(self, exc: Exception) -> None:
        self.stats.database_errors += 1
        cause = getattr(exc, "orig", None) or exc
        log.warning("database unavailable, retrying in 1 s: %s", type(cause).__name__)
        await asyncio.sleep(1.0)

    async def _claim(self, room: int) -> list[ClaimedDelivery]:
        try:
            claimed: list[ClaimedDelivery] = await self._run_db(self._claim_sync, room)
        except DATABASE_ERRORS as exc:
            await self._database_unavailable(exc)
            return []
        return claimed

    async def _drain(self, *, until_idle: bool, stop: asyncio.Event | None) -> WorkerStats:
        in_flight: set[asyncio.Task[None]] = set()
        while not (stop is not None and stop.is_set()):
            room = self.max_in_flight - len(in_flight)
            # Claim in chunks, not one row per finished send: a claim is a database round trip.
            worth_claiming = room >= max(1, self.max_in_flight // 2) or not in_flight
            batch = await self._claim(room) if worth_claiming else []
            self.stats.claimed += len(batch)
            for delivery in batch:
                task = asyncio.create_task(self._deliver(delivery))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            await self._flush()
            # Idle only if a claim found nothing: sends may finish during the flush above.
            if not batch and not in_flight and worth_claiming:
                if until_idle:
                    break
                await self._idle(stop)
                continue
            if in_flight:
                await asyncio.wait(
                    in_flight, timeout=self.poll_interval_s, return_when=asyncio.FIRST_COMPLETED
                )
        if in_flight:
            await asyncio.gather(*in_flight, return_exceptions=True)
        for _ in range(30):  # on the way out, give a restarting database half a minute
            await self._flush(force=True)
            if not self._outcomes:
                break
        return self.stats

    async def _idle(self, stop: asyncio.Event | None) -> None:
        if stop is None:
            await asyncio.sleep(self.poll_interval_s)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=self.poll_interval_s)

    async def prune(self) -> None:
        """One retention pass, batch by batch on the database thread between claims."""
        try:
            counts = await retention.prune_pass(self._run_db, self.ctx.engine, self.ctx.settings)
        except DATABASE_ERRORS as exc:
            cause = getattr(exc, "orig", None) or exc
            log.warning("retention pass skipped, database unavailable: %s", type(cause).__name__)
            return
        self.stats.pruned_deliveries += counts.deliveries
        self.stats.pruned_audit_entries += counts.audit_entries

    async def _prune_periodically(self, stop: asyncio.Event) -> None:
        delay = RETENTION_FIRST_S
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
                return
            try:
                await self.prune()
            except Exception:  # a bug in pruning must not stop the sends: try again later
                log.exception("retention pass failed")
            delay = RETENTION_INTERVAL_S

    async def _beat_periodically(self, stop: asyncio.Event) -> None:
        """The heartbeat row, renewed every HEARTBEAT_S on the database thread; a database away
        only skips beats (the row goes stale, and comes back with the next beat that works)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=HEARTBEAT_S)
                return
            try:
                await self._run_db(
                    heartbeat.beat, self.ctx.engine, owner=self.owner, kind=self.kind
                )
            except DATABASE_ERRORS as exc:
                cause = getattr(exc, "orig", None) or exc
                log.warning("heartbeat skipped, database unavailable: %s", type(cause).__name__)

    async def run_once(self) -> WorkerStats:
        """Deliver everything due now (and retries that come due meanwhile), prune what is past
        retention, then return."""
        stats = await self._drain(until_idle=True, stop=None)
        await self.prune()
        return stats

    async def run(self, stop: asyncio.Event) -> WorkerStats:
        """Deliver until `stop` is set; in-flight sends finish, any lease left is given back.
        The loop announces itself (a heartbeat row, core/services/workers.py) while it runs."""
        try:
            await self._run_db(
                heartbeat.announce, self.ctx.engine, owner=self.owner, kind=self.kind
            )
        except DATABASE_ERRORS as exc:  # the first beat that works writes the row
            log.warning("cannot announce the worker yet: %s", type(exc).__name__)
        background = [
            asyncio.create_task(self._prune_periodically(stop), name="mailbell-retention"),
            asyncio.create_task(self._beat_periodically(stop), name="mailbell-heartbeat"),
        ]
        try:
            return await self._drain(until_idle=False, stop=stop)
        finally:
            for task in background:
                task.cancel()
            for task in background:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            try:
                await self._run_db(heartbeat.leave, self.ctx.engine, owner=self.owner)
            except DATABASE_ERRORS:
                log.warning("could not remove the heartbeat on the way out: it goes stale")
            try:
                await self._run_db(outbox.release, self.ctx.engine, owner=self.owner)
            except DATABASE_ERRORS:
                log.warning("could not release leases on the way out: they expire by themselves")

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()
        self._db.shutdown(wait=True)
