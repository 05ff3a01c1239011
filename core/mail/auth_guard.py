"""SMTP authentication refusals: the same credentials are refused at most twice an hour.

A server that refuses a password (535, 5.7.8) keeps refusing it, and each refusal counts
toward the provider's lockout and fail2ban thresholds. So each refusal is recorded on the
server (`mail_server.auth_refusals`, ISO times within the last hour); once two are recorded,
deliveries through the server do not connect: they are deferred (`CredentialsPaused`, with
`retry_after`) until the older refusal is an hour old, or until the credentials change
(core/services/mail_server_fields.py clears the list and makes the waiting deliveries due).
A successful AUTH (an admin's test after the password was fixed at the server) does both too.

Concurrent senders cannot overshoot: an AUTH attempt first takes a lease (a `service_lease`
row `auth:ID:…`) under the server row's lock (an UPDATE: a row lock on PostgreSQL, the write
lock on SQLite), and refusals plus attempts in flight never exceed two, across every process.
Within a process a semaphore keeps the third sender waiting without asking the database.

An explicit admin action (`server test`, `test-email`) uses a guard with `enforce=False`: it
is never held back, but its refusal counts like any other. The health watch's probe enforces
(core/services/mail_tests.py `smtp_config_for`): past the limit it reports the pause instead
of logging in.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from core.errors import CredentialsPaused, DeliveryError, RetryableError
from core.mail.auth_refusals import (
    MAX_REFUSALS,
    is_credentials_refusal,
    paused_message,
    paused_until,
    recent_refusals,
)
from core.models._common import utcnow
from core.models.delivery import Delivery
from core.models.health import ServiceLease
from core.models.mail import MailServer
from core.vocabulary import DeliveryStatus

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session as OrmSession

log = logging.getLogger("mailbell.smtp")

LEASE_PREFIX = "auth:"
BUSY_POLL_S = 0.05
_OWNER = f"{socket.gethostname()}:{os.getpid()}"[:100]


def wake_waiting_deliveries(session: OrmSession, server_id: int, now: datetime) -> None:
    """The deliveries queued for the server and waiting (paused after refusals, or backing off)
    are due now: its credentials changed or were just accepted. No commit."""
    session.execute(
        update(Delivery)
        .where(
            col(Delivery.mail_server_id) == server_id,
            col(Delivery.status) == DeliveryStatus.QUEUED,
            col(Delivery.next_attempt_at) > now,
        )
        .values(next_attempt_at=now)
    )


def _lease_names(server_id: int) -> ColumnElement[bool]:
    return col(ServiceLease.name).like(f"{LEASE_PREFIX}{server_id}:%")


def _lock_row(session: Session, server_id: int) -> list[str] | None:
    """Lock the server's row; its refusal list (None when the server is gone)."""
    session.execute(
        update(MailServer)
        .where(col(MailServer.id) == server_id)
        .values(rate_limit_per_minute=MailServer.rate_limit_per_minute)
    )
    row = session.execute(
        select(MailServer.auth_refusals).where(col(MailServer.id) == server_id)
    ).one_or_none()
    return None if row is None else list(row[0] or [])


def _write(session: Session, server_id: int, stamps: list[str]) -> None:
    # A Core UPDATE: the configuration generation stays put (no server re-read by every worker).
    session.execute(
        update(MailServer).where(col(MailServer.id) == server_id).values(auth_refusals=stamps)
    )


@dataclass(frozen=True)
class Admission:
    lease: str | None = None  # the lease taken: the attempt may go ahead
    paused_until: datetime | None = None  # refused too often: not before then
    had_refusals: bool = False


def admit(engine: Engine, server_id: int, *, hold_s: float, now: datetime) -> Admission | None:
    """Take an attempt lease (an Admission with `lease`), or say the credentials are paused
    (`paused_until`), or None when attempts in flight fill the allowance (try again soon)."""
    with Session(engine) as session:
        stamps = _lock_row(session, server_id)
        if stamps is None:
            session.rollback()
            return Admission()
        recent = recent_refusals(stamps, now)
        kept = [at.isoformat() for at in recent]
        if kept != stamps:
            _write(session, server_id, kept)
        session.execute(
            delete(ServiceLease).where(_lease_names(server_id), col(ServiceLease.until) < now)
        )
        until = paused_until(kept, now)
        if until is not None:
            session.commit()
            return Admission(paused_until=until)
        in_flight = session.execute(
            select(func.count()).select_from(ServiceLease).where(_lease_names(server_id))
        ).scalar_one()
        if len(recent) + in_flight >= MAX_REFUSALS:
            session.commit()
            return None
        name = f"{LEASE_PREFIX}{server_id}:{secrets.token_hex(4)}"
        session.add(ServiceLease(name=name, owner=_OWNER, until=now + timedelta(seconds=hold_s)))
        session.commit()
        return Admission(lease=name, had_refusals=bool(recent))


def settle(
    engine: Engine,
    server_id: int,
    *,
    outcome: str,
    now: datetime,
    lease: str | None = None,
    had_refusals: bool = True,
) -> None:
    """Record an attempt's outcome ("refused", "accepted", or "other": neither) and give its
    lease back."""
    if lease is None and (outcome == "other" or (outcome == "accepted" and not had_refusals)):
        return
    with Session(engine) as session:
        stamps = _lock_row(session, server_id)
        if stamps is not None:
            if outcome == "refused":
                kept = [at.isoformat() for at in recent_refusals(stamps, now)]
                _write(session, server_id, [*kept, now.isoformat()])
            elif outcome == "accepted" and stamps:
                _write(session, server_id, [])
                wake_waiting_deliveries(session, server_id, now)
        if lease is not None:
            session.execute(delete(ServiceLease).where(col(ServiceLease.name) == lease))
        session.commit()


class AuthGuard:
    """The refusal rule for one saved server, shared by every connection to it in a process."""

    def __init__(self, engine: Engine, server_id: int, *, enforce: bool = True) -> None:
        self.engine = engine
        self.server_id = server_id
        self.enforce = enforce
        self._slots: asyncio.Semaphore | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        if self._slots is None:
            self._slots = asyncio.Semaphore(MAX_REFUSALS)
        return self._slots

    async def attempt(self, *, address: str, username: str | None, timeout: float) -> Ticket:
        """Wait for the right to try the credentials; `CredentialsPaused` when they were
        refused too often (nothing connects then)."""
        if not self.enforce:
            return Ticket(self, None, had_refusals=True, slot=False)
        slots = self._semaphore()
        await slots.acquire()
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + max(timeout, 1.0)
            while True:
                admission = await asyncio.to_thread(
                    admit, self.engine, self.server_id, hold_s=4 * timeout + 10, now=utcnow()
                )
                if admission is not None:
                    break
                if loop.time() > deadline:
                    raise RetryableError(
                        f"another connection to {address} is logging in with these "
                        "credentials: trying again shortly",
                        step="auth",
                    )
                await asyncio.sleep(BUSY_POLL_S)
            if admission.paused_until is not None:
                wait = (admission.paused_until - utcnow()).total_seconds()
                raise CredentialsPaused(
                    paused_message(address, username, admission.paused_until, self.server_id),
                    step="auth",
                    retry_after=max(wait, 1.0),
                )
        except BaseException:
            slots.release()
            raise
        return Ticket(self, admission.lease, had_refusals=admission.had_refusals, slot=True)


class Ticket:
    """One attempt's right to AUTH: `refused()` or `accepted()` after it, `close()` always."""

    def __init__(
        self, guard: AuthGuard, lease: str | None, *, had_refusals: bool, slot: bool
    ) -> None:
        self.guard = guard
        self.lease = lease
        self.had_refusals = had_refusals
        self._slot = slot
        self._outcome = "other"

    def failed(self, error: DeliveryError) -> None:
        if is_credentials_refusal(error):
            self._outcome = "refused"

    def accepted(self) -> None:
        self._outcome = "accepted"

    async def close(self) -> None:
        guard = self.guard
        try:
            await asyncio.to_thread(
                settle,
                guard.engine,
                guard.server_id,
                outcome=self._outcome,
                now=utcnow(),
                lease=self.lease,
                had_refusals=self.had_refusals,
            )
        except Exception as exc:  # the send's own outcome matters more; the lease expires
            log.error(
                "cannot record the AUTH outcome of mail server %s: %s",
                guard.server_id,
                type(exc).__name__,
            )
        finally:
            if self._slot:
                self._slot = False
                guard._semaphore().release()
