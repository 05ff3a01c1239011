"""The service itself: `service:database` (the database takes a committed write) and
`service:keys` (the key ring opens the canary secret, `system_settings.key_canary_enc`).

Both are system subjects, checked in a pass over everything or over the system. The canary is
made on the first check, sealed under the ring's first key; `mailbell keys rotate` re-seals it
with every other secret, so a ring that no longer opens it no longer opens what is stored.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from core.context import Context
from core.crypto import ENV_VAR
from core.errors import SecretKeyError, StorageError
from core.health.runner import CheckScope
from core.health.store import CheckResult
from core.models.audit import AuditEntry
from core.models.tenancy import SystemSettings
from core.vocabulary import HealthKind, HealthState
from core.write_probe import write_nothing

log = logging.getLogger("mailbell.health")

DATABASE_KEY, KEYS_KEY = "service:database", "service:keys"
CANARY = "mailbell key canary"


def _result(
    key: str, subject: str, state: HealthState, reason: str, **detail: object
) -> CheckResult:
    return CheckResult(key, HealthKind.SERVICE, None, subject, state, reason, dict(detail))


def _storage_reason(exc: StorageError) -> str:
    return exc.message.removesuffix("; nothing was recorded")


def check_database(ctx: Context) -> CheckResult:
    """Blocking: one write that changes nothing, committed."""
    try:
        write_nothing(ctx)
    except StorageError as exc:
        return _result(
            DATABASE_KEY,
            "database",
            HealthState.CRITICAL,
            f"the database refuses writes: {_storage_reason(exc)}",
            action="free space or make the database writable again; nothing is recorded until then",
        )
    except Exception as exc:  # locked or unreachable: nothing learnt about the storage
        return _result(
            DATABASE_KEY,
            "database",
            HealthState.UNKNOWN,
            f"the database did not answer a write ({type(exc).__name__})",
        )
    return _result(DATABASE_KEY, "database", HealthState.OK, "the database takes writes")


def _canary(ctx: Context) -> tuple[str, datetime | None]:
    """The stored canary (made now when there is none) and when a `keys rotate` last ran."""
    with ctx.session() as session:
        row = session.get(SystemSettings, 1)
        if row is None or not row.key_canary_enc:
            row = row or SystemSettings(id=1)
            row.key_canary_enc = ctx.box.encrypt(CANARY)
            session.add(row)
            try:
                session.commit()
            except IntegrityError:  # another process made the row first: use its canary
                session.rollback()
                row = session.get(SystemSettings, 1)
        token = row.key_canary_enc if row is not None else None
        if not token:
            raise RuntimeError("the system settings row has no key canary")
        rotated = session.exec(
            select(AuditEntry.at)
            .where(AuditEntry.action == "keys.rotate")
            .order_by(col(AuditEntry.at).desc())
            .limit(1)
        ).first()
    return token, rotated


def _sealed_at(token: str) -> datetime | None:
    """A Fernet token's time (not secret: bytes 1-8, big-endian seconds); `rotate` keeps it."""
    try:
        raw = base64.urlsafe_b64decode(token.encode())
    except (binascii.Error, ValueError):
        return None
    if len(raw) < 9:
        return None
    return datetime.fromtimestamp(int.from_bytes(raw[1:9], "big"), UTC)


def _which_key(ctx: Context, token: str, rotated: datetime | None) -> str:
    """Which key to restore, and where: the ring's first key when the canary was last sealed
    (made, or re-sealed by `keys rotate`, whichever is later)."""
    where = ctx.box.source.description
    times = [at for at in (_sealed_at(token), rotated) if at is not None]
    when = max(at if at.tzinfo else at.replace(tzinfo=UTC) for at in times) if times else None
    moment = f"on {when:%Y-%m-%d %H:%M} UTC" if when else "when the canary was last sealed"
    reason = (
        f"the key canary does not open with the {ctx.box.key_count} key(s) in {where}: restore "
        f"the key that was first in {where} {moment} (add it back to {where})"
    )
    if ctx.box.source.env_keys:
        reason += f"; a running process reads {ENV_VAR} only when it starts: restart it after"
    return reason


def check_keys(ctx: Context) -> CheckResult:
    """Blocking: open the canary with the key ring (a rotated key file is reloaded first)."""
    subject = "key ring"
    try:
        ctx.box.refresh()  # a key file that went missing or does not load is named here
    except SecretKeyError as exc:
        return _result(KEYS_KEY, subject, HealthState.CRITICAL, exc.message)
    try:
        token, rotated = _canary(ctx)
    except StorageError as exc:
        return _result(
            KEYS_KEY,
            subject,
            HealthState.UNKNOWN,
            f"the key canary cannot be read or stored: {_storage_reason(exc)}",
        )
    except SecretKeyError as exc:  # the first key cannot be made (key file not writable)
        return _result(KEYS_KEY, subject, HealthState.CRITICAL, exc.message)
    try:
        opened = ctx.box.decrypt(token)
    except SecretKeyError:
        return _result(
            KEYS_KEY,
            subject,
            HealthState.CRITICAL,
            _which_key(ctx, token, rotated),
            action="restore the key, then check again",
        )
    if opened != CANARY:
        return _result(KEYS_KEY, subject, HealthState.CRITICAL, "the key canary was altered")
    return _result(
        KEYS_KEY,
        subject,
        HealthState.OK,
        f"the {ctx.box.key_count} key(s) in {ctx.box.source.description} open the canary",
    )


async def check(ctx: Context, scope: CheckScope) -> list[CheckResult]:
    if not (scope.everything or scope.system):
        return []
    results = []
    for key, subject, probe in (
        (DATABASE_KEY, "database", check_database),
        (KEYS_KEY, "key ring", check_keys),
    ):
        try:
            results.append(await asyncio.to_thread(probe, ctx))
        except Exception as exc:  # one subject unjudged must not make the other forgotten
            log.exception("health check %s failed", key)
            results.append(
                _result(key, subject, HealthState.UNKNOWN, f"not checked ({type(exc).__name__})")
            )
    return results
