"""Health of every email account with an IMAP host (`email_account:ID`), from the database only.

What the syncs recorded (core.services.inbound, core.services.sync_policy) is the state:
- scheduled syncs stopped after a refused login: critical, until the credentials change or an
  admin presses "sync now";
- `FAILURES_WARNING` or more failures in a row (backing off): warning, with the last error and
  when the next try is due;
- synced, and fewer failures since: ok; never synced yet: unknown.
No connection is made: the syncs themselves are the probe, and logging in to check would spend
the failed logins an account is allowed in a day.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlmodel import col, select

from core.context import Context
from core.health.runner import CheckScope
from core.health.store import CheckResult
from core.models.mail import EmailAccount
from core.models.tenancy import Tenant
from core.vocabulary import HealthKind, HealthState

FAILURES_WARNING = 3


def _result(account: EmailAccount, state: HealthState, reason: str, action: str) -> CheckResult:
    return CheckResult(
        key=f"email_account:{account.id}",
        kind=HealthKind.EMAIL_ACCOUNT,
        tenant_id=account.tenant_id,
        subject=account.email,
        state=state,
        reason=reason,
        detail={"account_id": account.id, "action": action},
    )


def judge(account: EmailAccount, slug: str) -> CheckResult:
    """The state the account's recorded sync results mean."""
    where = f"{account.id} --tenant {slug}"
    sync_now = f"`mailbell accounts sync {where}`"
    if account.sync_stopped_reason:
        return _result(
            account,
            HealthState.CRITICAL,
            f"scheduled syncs stopped: {account.sync_stopped_reason.rstrip('. ')} — "
            'fix the credentials or press "sync now"',
            f"fix the password (`mailbell accounts edit {where} --imap-password -`), "
            f"or sync now: {sync_now}",
        )
    failures = account.sync_failures or 0
    error = account.last_sync_error or "unknown error"
    if failures >= FAILURES_WARNING:
        due = ""
        if account.sync_next_at is not None:
            due = f"; next try at {account.sync_next_at:%Y-%m-%d %H:%M} UTC"
        return _result(
            account,
            HealthState.WARNING,
            f"{failures} syncs failed in a row: {error}{due}",
            f"check the account's IMAP host, port and TLS, then {sync_now}",
        )
    if account.imap_last_uid is None:
        # No sync ever got as far as the mailbox.
        reason = "not synced yet" if not failures else f"not synced yet: {error}"
        return _result(account, HealthState.UNKNOWN, reason, f"sync now: {sync_now}")
    if failures:
        plural = "sync" if failures == 1 else "syncs"
        return _result(
            account, HealthState.OK, f"{failures} {plural} failed, retrying: {error}", "none"
        )
    return _result(account, HealthState.OK, "synced", "none")


def _read(ctx: Context, scope: CheckScope) -> list[CheckResult]:
    if scope.system:
        return []  # accounts belong to tenants
    query: Any = (
        select(EmailAccount, Tenant.slug)
        .join(Tenant, col(Tenant.id) == col(EmailAccount.tenant_id))
        .where(col(EmailAccount.imap_host).is_not(None), EmailAccount.imap_host != "")
        .order_by(col(EmailAccount.id))
    )
    if scope.tenant_id is not None:
        query = query.where(EmailAccount.tenant_id == scope.tenant_id)
    with ctx.session() as session:
        return [judge(account, slug) for account, slug in session.exec(query)]


async def check(ctx: Context, scope: CheckScope) -> list[CheckResult]:
    return await asyncio.to_thread(_read, ctx, scope)
