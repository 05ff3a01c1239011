"""Run the health checks: now (`run_checks`, for `mailbell health check` and "check now"), or
every interval inside `mailbell serve` (`HealthWatch`, one process at a time across a cluster
through the `health` service lease).

    reads = await run_checks(ctx, tenant=acme)         # or system=True, or everything
    await HealthWatch(ctx).run(stop)                   # until stop.set()

Each check (core/health/checks/) is an async function `(ctx, scope) -> list[CheckResult]` with
its own interval; several run at once, each cut off by its timeout. Results are recorded in one
transaction (core.health.store) and the notices that come out of them go to
core.health.alerts. Database work runs on a thread: the loop also serves the API and the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import Session, col

from core.context import Context
from core.health.store import CheckResult, Notice, list_health, prune_missing, record_results
from core.models._common import utcnow
from core.models.health import HealthRead, ServiceLease
from core.models.tenancy import Tenant
from core.services.sync_lease import process_owner

log = logging.getLogger("mailbell.health")

LEASE_NAME = "health"
# Cheap checks that read the database only run this often, whatever the interval.
FAST_INTERVAL_S = 60.0
# The slow checks (network probes) first run this long after the watch starts.
FIRST_PROBE_DELAY_S = 60.0


@dataclass(frozen=True)
class CheckScope:
    """Whose subjects a pass checks: one tenant's, the system's, or (neither) everything."""

    tenant_id: int | None = None
    system: bool = False

    @property
    def everything(self) -> bool:
        return self.tenant_id is None and not self.system

    def includes(self, tenant_id: int | None) -> bool:
        if self.everything:
            return True
        return tenant_id is None if self.system else tenant_id == self.tenant_id


CheckFunction = Callable[[Context, CheckScope], Awaitable[list[CheckResult]]]


@dataclass(frozen=True)
class Check:
    """A check's module (core/health/checks/NAME.py with `async def check(ctx, scope)`), the
    key prefixes of the subjects it reports (a subject of those it no longer reports is
    forgotten) and how often it runs."""

    name: str
    prefixes: tuple[str, ...]
    fast: bool = False

    def function(self) -> CheckFunction:
        module = importlib.import_module(f"core.health.checks.{self.name}")
        check: CheckFunction = module.check
        return check

    def interval(self, ctx: Context) -> float:
        slow = ctx.settings.health_interval_s
        return min(FAST_INTERVAL_S, slow) if self.fast else slow

    def cutoff(self, ctx: Context) -> float:
        """How long one run may take. A check covers many subjects, each probe bounded by the
        per-check timeout: a pass of the mail servers where a few dozen do not answer takes
        several timeouts, and cutting it off would lose every result, so a check may use its
        whole interval."""
        return max(ctx.settings.health_check_timeout_s * 4, self.interval(ctx))


CHECKS: tuple[Check, ...] = (
    Check("mail_servers", ("mail_server:",)),
    Check("accounts", ("email_account:",), fast=True),
    Check("deliveries", ("backlog:", "deliveries:"), fast=True),
    Check("slack", ("slack:",)),
    # Exact keys, not "service:": each check's pass forgets only the subjects of its own.
    Check("service", ("service:database", "service:keys"), fast=True),
    Check("workers", ("service:workers",), fast=True),
)


async def _run_one(ctx: Context, check: Check, scope: CheckScope) -> list[CheckResult] | None:
    """The check's results, or None when it failed or timed out (its subjects keep their state)."""
    timeout = check.cutoff(ctx)
    try:
        return await asyncio.wait_for(check.function()(ctx, scope), timeout)
    except TimeoutError:
        log.warning("health check %s did not finish in %.0f s", check.name, timeout)
    except Exception:
        log.exception("health check %s failed", check.name)
    return None


def _record(
    ctx: Context, scope: CheckScope, done: dict[Check, list[CheckResult]], now: datetime
) -> list[Notice]:
    with ctx.session() as session:
        results = [r for results in done.values() for r in results if scope.includes(r.tenant_id)]
        notices = record_results(session, results, now=now, remind_s=ctx.settings.health_remind_s)
        seen = {r.key for r in results}
        for check in done:
            prune_missing(
                session,
                seen=seen,
                prefixes=check.prefixes,
                tenant_id=scope.tenant_id,
                system=scope.system,
            )
        session.commit()
    return notices


async def run_pass(
    ctx: Context, checks: tuple[Check, ...] = CHECKS, scope: CheckScope | None = None
) -> list[Notice]:
    """Run `checks` at once, record their results, send the notices; returns the notices."""
    scope = scope or CheckScope()
    outcomes = await asyncio.gather(*(_run_one(ctx, check, scope) for check in checks))
    done = {
        check: results
        for check, results in zip(checks, outcomes, strict=True)
        if results is not None
    }
    notices = await asyncio.to_thread(_record, ctx, scope, done, utcnow())
    if notices:
        from core.health.alerts import send_notices

        try:
            await send_notices(ctx, notices)
        except Exception:
            log.exception("health: %d notice(s) could not be sent", len(notices))
    return notices


async def run_checks(
    ctx: Context, *, tenant: Tenant | None = None, system: bool = False
) -> list[HealthRead]:
    """Every check now for the scope, then the scope's states (`mailbell health check`)."""
    scope = CheckScope(tenant_id=tenant.id if tenant is not None else None, system=system)
    await run_pass(ctx, CHECKS, scope)

    def read() -> list[HealthRead]:
        with ctx.session() as session:
            return list_health(session, tenant=tenant, system=system)

    return await asyncio.to_thread(read)


# -- the lease: one process at a time runs the scheduled checks --------------------------------


def acquire_lease(ctx: Context, *, owner: str, lease_s: float) -> bool:
    """Take the `health` lease if it is free, expired or ours; True when this owner holds it."""
    now = utcnow()
    with Session(ctx.engine) as session:
        if session.get(ServiceLease, LEASE_NAME) is None:
            with contextlib.suppress(Exception):
                session.add(ServiceLease(name=LEASE_NAME))
                session.commit()
            session.rollback()
        result = session.execute(
            update(ServiceLease)
            .where(
                col(ServiceLease.name) == LEASE_NAME,
                or_(
                    col(ServiceLease.until).is_(None),
                    col(ServiceLease.until) < now,
                    col(ServiceLease.owner) == owner,
                ),
            )
            .values(owner=owner, until=now + timedelta(seconds=lease_s))
        )
        session.commit()
        return bool(getattr(result, "rowcount", 0))


def release_lease(ctx: Context, *, owner: str) -> None:
    with Session(ctx.engine) as session:
        session.execute(
            update(ServiceLease)
            .where(col(ServiceLease.name) == LEASE_NAME, col(ServiceLease.owner) == owner)
            .values(owner=None, until=None)
        )
        session.commit()


@dataclass
class HealthWatch:
    """The scheduled checks of `mailbell serve`: each check when its interval has passed, while
    this process holds the lease (renewed every tick). Each check runs as a task of its own, so
    a long pass (a thousand mail servers, paced) does not hold back the fast checks; a check is
    not started again while it still runs. A pass that fails (it cannot record) ends `run`
    with its error, as the caller restarts the watch."""

    ctx: Context
    tick_s: float = 5.0
    owner: str = field(default_factory=process_owner)
    passes: int = 0
    _last_run: dict[str, float] = field(default_factory=dict)
    _started: float | None = None
    _running: dict[str, asyncio.Task[list[Notice]]] = field(default_factory=dict)

    def due(self, now: float) -> tuple[Check, ...]:
        if self._started is None:
            self._started = now
        return tuple(
            check
            for check in CHECKS
            if check.name not in self._running and now >= self._next_run(check)
        )

    def _next_run(self, check: Check) -> float:
        last = self._last_run.get(check.name)
        if last is not None:
            return last + check.interval(self.ctx)
        assert self._started is not None
        # The probes that go out to servers wait a little after start: the API and the worker
        # come up first, and a fleet restarted at once does not probe every server together.
        first = 0.0 if check.fast else min(FIRST_PROBE_DELAY_S, check.interval(self.ctx))
        return self._started + first

    async def run(self, stop: asyncio.Event) -> None:
        lease_s = max(self.ctx.settings.health_interval_s, FAST_INTERVAL_S) * 2
        log.info("health watch: every %g s", self.ctx.settings.health_interval_s)
        try:
            while not stop.is_set():
                await self.tick(lease_s, wait=False)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.tick_s)
                self._reap()
        finally:
            running = list(self._running.values())
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            self._running.clear()
            with contextlib.suppress(Exception):
                await asyncio.to_thread(release_lease, self.ctx, owner=self.owner)

    def _reap(self) -> None:
        """Forget the passes that ended; raise the error of one that failed."""
        for name, task in list(self._running.items()):
            if task.done():
                del self._running[name]
                error = None if task.cancelled() else task.exception()
                if error is not None:
                    raise error

    async def tick(self, lease_s: float, *, wait: bool = True) -> list[Notice]:
        """Start the due checks if this process holds the lease; with `wait`, wait for them
        and return their notices."""
        try:
            held = await asyncio.to_thread(
                acquire_lease, self.ctx, owner=self.owner, lease_s=lease_s
            )
        except Exception:
            log.exception("health watch: cannot take the lease")
            return []
        if not held:
            return []
        now = time.monotonic()
        checks = self.due(now)
        if not checks:
            return []
        started = {}
        for check in checks:
            self._last_run[check.name] = now
            started[check.name] = asyncio.create_task(
                run_pass(self.ctx, (check,)), name=f"health-{check.name}"
            )
        self._running.update(started)
        self.passes += 1
        if not wait:
            return []
        try:
            outcomes = await asyncio.gather(*started.values())
        finally:
            for name in started:
                self._running.pop(name, None)
        return [notice for notices in outcomes for notice in notices]
