"""Health of what mailbell watches: every subject's state, one subject's history, and the actions
the Health page offers (check now, mute, sync an account, re-authorize a server).

A session sees and acts on the subjects its role covers (core/access.py): a system admin all.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from core.vocabulary import HealthKind, HealthState
from tui.data.wording import for_tui
from tui.runtime import actor, grant, owner, require_system_admin

if TYPE_CHECKING:
    from core.context import Context
    from core.models.health import HealthChangeRead, HealthRead

MUTE_HOURS = 24.0
HISTORY_LIMIT = 50

KIND_LABELS: dict[str, str] = {
    HealthKind.MAIL_SERVER: "mail server",
    HealthKind.EMAIL_ACCOUNT: "email account",
    HealthKind.SLACK: "Slack",
    HealthKind.BACKLOG: "queue",
    HealthKind.SERVICE: "service",
}


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


def load(ctx: Context) -> list[HealthRead]:
    """Every subject this session's role may see (a system admin: all of them, system first)."""
    from core.services.health import get_health

    allowed = grant()
    with ctx.session() as session:
        reads = get_health(session=session)
    return [_worded(read) for read in reads if allowed.may_read(read.tenant)]


def _worded(read: HealthRead) -> HealthRead:
    """The reason and the advice in the TUI's words (its pages and keys, not CLI commands)."""
    detail = dict(read.detail)
    if isinstance(detail.get("action"), str):
        detail["action"] = for_tui(detail["action"])
    return read.model_copy(update={"reason": for_tui(read.reason), "detail": detail})


def muted(read: HealthRead) -> bool:
    """Its alerts are silenced for now (the state is still checked and shown)."""
    until = read.muted_until
    if until is None:
        return False
    return until.replace(tzinfo=until.tzinfo or UTC) > datetime.now(UTC)


def critical(reads: list[HealthRead]) -> list[HealthRead]:
    return [r for r in reads if r.state == HealthState.CRITICAL]


def detail(ctx: Context, key: str) -> tuple[HealthRead, list[HealthChangeRead]]:
    """The subject and its state changes, newest first."""
    from core.access import require_read
    from core.services.health import subject_detail

    with ctx.session() as session:
        read, changes = subject_detail(session=session, key=key, limit=HISTORY_LIMIT)
    require_read(grant(), read.tenant)
    return _worded(read), [
        change.model_copy(update={"reason": for_tui(change.reason)}) for change in changes
    ]


def mute(ctx: Context, key: str, hours: float = MUTE_HOURS) -> HealthRead:
    """Silence the subject's alerts and reminders for `hours` (0: unmute); audited."""
    from core.access import require_write
    from core.services.health import mute_subject, subject_detail

    with ctx.session() as session:
        subject, _ = subject_detail(session=session, key=key, limit=0)
        require_write(grant(), subject.tenant)
        return _worded(mute_subject(session=session, key=key, hours=hours, actor=actor()))


async def check(ctx: Context, tenant: str | None = None, *, system: bool = False) -> list[Any]:
    """Run the checks now: one tenant's (`tenant`), the system's (`system`) or, with neither,
    every owner's; the states of that scope afterwards."""
    from core.services.health import check_now

    def resolve() -> Any:
        with ctx.session() as session:
            return owner(session, tenant)

    if tenant is None:
        require_system_admin("checking the system's and every tenant's subjects")
    found = await asyncio.to_thread(resolve) if tenant is not None else None
    return [_worded(read) for read in await check_now(ctx, tenant=found, system=system)]


async def sync(ctx: Context, account_id: int, progress: Any) -> Any:
    """Sync an email account now (the Accounts page's own "sync now")."""
    from tui.data.accounts import sync as sync_account

    return await sync_account(ctx, account_id, progress)


@dataclass(frozen=True)
class Actions:
    """What fits a subject: `check` always (named "Test now" for a mail server), the account
    to sync, the server to re-authorize and the command that does it from a shell."""

    check_label: str
    account_id: int | None = None
    server_id: int | None = None
    authorize_command: str | None = None


def _id_at_end(key: str) -> int | None:
    tail = key.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


def needs_authorization(read: HealthRead) -> bool:
    """The check says the server's OAuth authorization is gone (its `action`, else its reason)."""
    said = f"{read.detail.get('action') or ''} {read.reason}".lower()
    return "authoriz" in said and read.state != HealthState.OK


def actions(read: HealthRead) -> Actions:
    if read.kind == HealthKind.EMAIL_ACCOUNT:
        return Actions("Check now", account_id=_id_at_end(read.key))
    if read.kind != HealthKind.MAIL_SERVER:
        return Actions("Check now")
    server_id = read.detail.get("server_id")
    if not isinstance(server_id, int):
        server_id = _id_at_end(read.key)
    if server_id is None or not needs_authorization(read):
        return Actions("Test now")
    owner_option = f"--tenant {read.tenant}" if read.tenant else "--system"
    command = f"mailbell oauth authorize --server {server_id} {owner_option}"
    return Actions("Test now", server_id=server_id, authorize_command=command)
