"""When an email account's scheduled IMAP sync may run, and how many failed logins it may cost.

- Consecutive failures back off: after the n-th failure in a row the next scheduled sync is due
  `interval * 2^(n-1)` after that sync started, at most `BACKOFF_CAP` later; a success resets.
- A login the server refused (or an account without credentials) stops scheduled syncs
  (`sync_stopped_reason`) until the credentials change or an admin asks for a sync now: the
  credentials will not fix themselves, and every retry is a failed login on the server.
- Whatever asks, at most `LOGINS_PER_DAY` failed logins per account within `LOGIN_WINDOW`
  (`login_failures`, the times of the day's failures): mail servers lock accounts out and
  fail2ban bans addresses for less. Changing the credentials clears the count.

`now()` is the clock of all of it (tests replace it to run a day in a second).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.errors import Conflict
from core.models._common import utcnow
from core.models.mail import EmailAccount

BACKOFF_CAP = timedelta(hours=6)
LOGINS_PER_DAY = 3
LOGIN_WINDOW = timedelta(days=1)
# Changing one of these may fix a refused login: the stop and the day's count are lifted.
CREDENTIAL_FIELDS = frozenset(
    {"imap_host", "imap_port", "imap_tls", "imap_username", "imap_password", "mail_server_id"}
)


def now() -> datetime:
    return utcnow()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class LoginLimitReached(Conflict):
    """An account's failed logins of the day are used up: no sync may log in before `until`."""

    def __init__(self, account: EmailAccount, until: datetime, tenant_slug: str) -> None:
        super().__init__(
            f"email account {account.id} ({account.email}): {LOGINS_PER_DAY} failed logins "
            f"within 24 hours, the most mailbell lets the mail server refuse in a day; a sync "
            f"is allowed again at {until:%Y-%m-%d %H:%M} UTC, or at once after its credentials "
            f"change (`mailbell accounts edit {account.id} --tenant {tenant_slug} "
            f"--imap-password -`)"
        )
        self.until = until


def backoff(interval_s: float, failures: int) -> timedelta:
    """How long after a sync that was the `failures`-th failure in a row the next one is due."""
    interval = timedelta(seconds=interval_s)
    if failures <= 1:
        return interval
    # An interval longer than the cap is never shortened by failing.
    cap = max(BACKOFF_CAP, interval)
    if failures - 1 >= 20:  # 2^20 intervals are beyond any cap; keeps the float small
        return cap
    return min(interval * 2 ** (failures - 1), cap)


def recent_login_failures(account: EmailAccount, at: datetime) -> list[datetime]:
    """The account's failed logins within the window before `at`, oldest first."""
    since = at - LOGIN_WINDOW
    times = []
    for text in account.login_failures or []:
        try:
            when = _aware(datetime.fromisoformat(text))
        except (TypeError, ValueError):
            continue  # not ours: ignore rather than refuse every sync
        if when > since:
            times.append(when)
    return sorted(times)


def login_allowed_at(account: EmailAccount, at: datetime) -> datetime | None:
    """None when a sync may log in at `at`; otherwise when the day's count falls below the cap."""
    recent = recent_login_failures(account, at)
    if len(recent) < LOGINS_PER_DAY:
        return None
    return recent[len(recent) - LOGINS_PER_DAY] + LOGIN_WINDOW


def is_due(account: EmailAccount, at: datetime) -> bool:
    """Whether the scheduler may sync the account at `at` (a manual sync always may)."""
    if account.sync_stopped_reason:
        return False
    return account.sync_next_at is None or _aware(account.sync_next_at) <= at


def record_success(account: EmailAccount) -> None:
    account.sync_failures = 0
    account.sync_next_at = None
    account.sync_stopped_reason = None


def record_failure(
    account: EmailAccount,
    *,
    started: datetime,
    at: datetime,
    interval_s: float,
    reason: str,
    credentials: bool,
    login_refused: bool,
) -> None:
    """One more failure in a row. `credentials`: the failure is one of the credentials (stops
    scheduled syncs); `login_refused`: the server refused a login (counts against the day)."""
    account.sync_failures = (account.sync_failures or 0) + 1
    account.sync_next_at = started + backoff(interval_s, account.sync_failures)
    # A manual sync lifted the stop; only another credentials failure puts it back.
    account.sync_stopped_reason = reason if credentials else None
    if login_refused:
        recent = recent_login_failures(account, at)
        account.login_failures = [t.isoformat() for t in [*recent, at]]


def clear_for_new_credentials(account: EmailAccount) -> None:
    """New credentials: whatever the old ones earned (stop, backoff, the day's count) is gone."""
    account.sync_failures = 0
    account.sync_next_at = None
    account.sync_stopped_reason = None
    account.login_failures = []
