"""Scheduled IMAP syncs back off and stop, against a real Dovecot behind a counting relay
(tests/support/imap_proxy.py), on a fake clock (core.services.sync_policy.now): a wrong password
costs at most 3 failed logins in a simulated day, scheduled or "sync now"; new credentials
resume the syncs; network failures back off interval * 2^(n-1) up to 6 h and a success resets."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest

from core.context import Context
from core.health.checks.accounts import check as account_check
from core.health.runner import CheckScope
from core.models.mail import EmailAccount, EmailAccountCreate, EmailAccountUpdate
from core.services import sync_policy
from core.services.accounts import create_email_account, update_email_account
from core.services.audit import Actor
from core.services.imap_scheduler import ImapScheduler
from core.services.inbound import accounts_to_sync, sync_account
from core.services.sync_policy import LoginLimitReached
from core.services.tenants import get_tenant
from core.vocabulary import HealthState
from tests.cli_fixtures import Result
from tests.mail.imap_helpers import make_message
from tests.support import dovecot as dovecot_support
from tests.support.dovecot import DovecotServer, Mailbox
from tests.support.factories import make_mail_server, make_tenant
from tests.support.imap_proxy import ImapLoginCounter, dovecot_failed_logins

dovecot_server = dovecot_support.dovecot_server
dovecot = dovecot_support.dovecot
imap_mailbox = dovecot_support.imap_mailbox

T0 = datetime(2026, 12, 1, tzinfo=UTC)
INTERVAL = 300.0  # 288 scheduled rounds a day
ROUNDS_A_DAY = 288


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock(T0)
    monkeypatch.setattr(sync_policy, "now", fake)
    return fake


@pytest.fixture
async def relay(dovecot: DovecotServer) -> AsyncIterator[ImapLoginCounter]:
    counter = ImapLoginCounter(dovecot.host, dovecot.plain_port)
    await counter.start()
    yield counter
    await counter.close()


@pytest.fixture
def acme(ctx: Context, actor: Actor) -> str:
    with ctx.session() as session:
        return make_tenant(session, actor=actor).slug


def add_account(ctx: Context, actor: Actor, mailbox: Mailbox, *, port: int, password: str) -> int:
    """An account of acme reading `mailbox` in plain IMAP on 127.0.0.1:`port`."""
    with ctx.session() as session:
        tenant = get_tenant(session=session, slug="acme")
        server = make_mail_server(session, ctx.box, tenant, actor=actor)
        account = create_email_account(
            session=session,
            box=ctx.box,
            tenant=tenant,
            data=EmailAccountCreate.from_fields(
                {
                    "email": mailbox.address,
                    "display_name": "Support",
                    "mail_server_id": server.id,
                    "imap_host": "127.0.0.1",
                    "imap_port": port,
                    "imap_username": mailbox.user,
                    "imap_password": password,
                    "imap_tls": False,
                }
            ),
            actor=actor,
        )
    assert account.id is not None
    return account.id


def edit(ctx: Context, actor: Actor, account_id: int, **fields: Any) -> None:
    with ctx.session() as session:
        update_email_account(
            session=session,
            box=ctx.box,
            tenant=get_tenant(session=session, slug="acme"),
            account_id=account_id,
            changes=EmailAccountUpdate.from_fields(fields),
            actor=actor,
        )


def row(ctx: Context, account_id: int) -> EmailAccount:
    with ctx.session() as session:
        found = session.get(EmailAccount, account_id)
        assert found is not None
        return found


async def health(ctx: Context, account_id: int) -> tuple[HealthState, str]:
    (result,) = [
        r for r in await account_check(ctx, CheckScope()) if r.detail["account_id"] == account_id
    ]
    return result.state, result.reason


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_wrong_password_costs_at_most_three_failed_logins_in_a_simulated_day(
    ctx: Context,
    actor: Actor,
    acme: str,
    clock: Clock,
    relay: ImapLoginCounter,
    imap_mailbox: Mailbox,
    dovecot: DovecotServer,
) -> None:
    imap_mailbox.append(make_message("waiting"))
    account_id = add_account(
        ctx, actor, imap_mailbox, port=relay.port, password="not-" + imap_mailbox.password
    )
    scheduler = ImapScheduler(ctx, interval=INTERVAL, io_timeout=10)
    sync_now_rounds = {12, 24, 36, 48}  # an admin presses "sync now" four times, an hour apart
    refused: dict[int, LoginLimitReached] = {}
    for round_ in range(1, ROUNDS_A_DAY + 1):
        clock.advance(INTERVAL)
        await scheduler.run_once()
        if round_ == 1:
            assert row(ctx, account_id).sync_stopped_reason  # the first refusal stops the rounds
        if round_ in sync_now_rounds:
            try:
                result = await sync_account(ctx=ctx, account_id=account_id, manual=True)
            except LoginLimitReached as exc:
                refused[round_] = exc
            else:
                assert not result.ok and result.error_kind == "auth"

    # Round 1 (scheduled), sync now at rounds 12 and 24: three refused logins, then no more.
    assert (relay.attempts, relay.refused, relay.accepted) == (3, 3, 0)
    assert relay.connections == 3  # the refused "sync now" did not even connect
    assert sorted(refused) == [36, 48]
    first_failure = T0 + timedelta(seconds=INTERVAL)
    message = str(refused[36])
    assert f"allowed again at {first_failure + timedelta(days=1):%Y-%m-%d %H:%M} UTC" in message
    assert "credentials change" in message and "--imap-password" in message
    assert "not-" + imap_mailbox.password not in message

    # Dovecot's own log agrees once it has written its lines (at each hang-up).
    def logged() -> int:
        return dovecot_failed_logins(dovecot.log_tail(10**8), imap_mailbox.user)

    await until(lambda: logged() >= 3)
    assert logged() == 3

    stopped = row(ctx, account_id)
    assert (stopped.sync_stopped_reason or "").startswith("authentication failed")
    assert len(stopped.login_failures) == 3 and stopped.sync_failures == 3
    assert accounts_to_sync_now(ctx, clock) == []
    state, reason = await health(ctx, account_id)
    assert state == HealthState.CRITICAL and "sync now" in reason

    # The same wrong password typed again is no change: still stopped, still refused.
    edit(ctx, actor, account_id, imap_password="not-" + imap_mailbox.password)
    assert row(ctx, account_id).sync_stopped_reason and len(row(ctx, account_id).login_failures)
    with pytest.raises(LoginLimitReached):
        await sync_account(ctx=ctx, account_id=account_id)
    assert relay.attempts == 3

    # The right password: the stop and the day's count are gone, the next round syncs.
    edit(ctx, actor, account_id, imap_password=imap_mailbox.password)
    fixed = row(ctx, account_id)
    assert fixed.sync_stopped_reason is None and fixed.login_failures == []
    assert fixed.sync_failures == 0 and fixed.sync_next_at is None
    clock.advance(INTERVAL)
    await scheduler.run_once()
    synced = row(ctx, account_id)
    assert (relay.accepted, synced.message_count, synced.sync_failures) == (1, 1, 0)
    assert synced.last_sync_error is None
    clock.advance(INTERVAL)
    await scheduler.run_once()
    assert relay.accepted == 2  # every round again
    assert (await health(ctx, account_id))[0] == HealthState.OK


def accounts_to_sync_now(ctx: Context, clock: Clock) -> list[int]:
    with ctx.session() as session:
        return accounts_to_sync(session, clock.at)


async def test_network_failures_back_off_doubling_up_to_six_hours_and_a_success_resets(
    ctx: Context,
    actor: Actor,
    acme: str,
    clock: Clock,
    relay: ImapLoginCounter,
    imap_mailbox: Mailbox,
) -> None:
    account_id = add_account(
        ctx, actor, imap_mailbox, port=relay.port, password=imap_mailbox.password
    )
    relay.down = True  # every connection is hung up at once
    scheduler = ImapScheduler(ctx, interval=INTERVAL, io_timeout=10)
    tried: list[datetime] = []
    warned_after: int | None = None
    for _ in range(2 * ROUNDS_A_DAY):
        clock.advance(INTERVAL)
        before = relay.connections
        await scheduler.run_once()
        if relay.connections > before:
            tried.append(clock.at)
            state, _reason = await health(ctx, account_id)
            if state == HealthState.WARNING and warned_after is None:
                warned_after = len(tried)

    gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(tried)]
    assert gaps[:8] == [300, 600, 1200, 2400, 4800, 9600, 19200, 21600]
    assert set(gaps[8:]) == {21600.0}  # capped at 6 h
    assert warned_after == 3  # a warning from the third failure in a row
    failing = row(ctx, account_id)
    assert failing.sync_failures == len(tried)
    assert (failing.last_sync_error or "").startswith("connection lost")
    assert failing.sync_stopped_reason is None and failing.login_failures == []
    assert relay.attempts == 0  # no login ever reached the server

    relay.down = False
    assert failing.sync_next_at is not None
    clock.at = failing.sync_next_at
    await scheduler.run_once()
    recovered = row(ctx, account_id)
    assert relay.accepted == 1
    assert (recovered.sync_failures, recovered.sync_next_at) == (0, None)
    clock.advance(INTERVAL)
    await scheduler.run_once()
    assert relay.accepted == 2  # back to every interval
    assert (await health(ctx, account_id))[0] == HealthState.OK


async def test_sync_now_lifts_the_stop_and_a_network_failure_then_only_backs_off(
    ctx: Context,
    actor: Actor,
    acme: str,
    clock: Clock,
    relay: ImapLoginCounter,
    imap_mailbox: Mailbox,
) -> None:
    account_id = add_account(ctx, actor, imap_mailbox, port=relay.port, password="wrong")
    result = await sync_account(ctx=ctx, account_id=account_id)
    assert result.error_kind == "auth" and row(ctx, account_id).sync_stopped_reason
    # A scheduled sync that got past the listing (another process's list) still skips.
    skipped = await sync_account(ctx=ctx, account_id=account_id, manual=False)
    assert skipped.error_kind == "not_due" and relay.attempts == 1

    relay.down = True  # the admin's "sync now" meets a network fault: not a credentials answer
    clock.advance(60)
    result = await sync_account(ctx=ctx, account_id=account_id, manual=True)
    assert result.error_kind == "connection_lost"
    after = row(ctx, account_id)
    assert after.sync_stopped_reason is None and after.sync_failures == 2
    assert after.sync_next_at == clock.at + timedelta(seconds=2 * 300)  # default interval 300 s
    assert len(after.login_failures) == 1 and relay.attempts == 1


def test_only_credential_changes_lift_the_stop(
    ctx: Context, actor: Actor, acme: str, clock: Clock, imap_mailbox: Mailbox
) -> None:
    account_id = add_account(ctx, actor, imap_mailbox, port=143, password="secret-1")
    with ctx.session() as session:
        server_id = make_mail_server(
            session, ctx.box, get_tenant(session=session, slug="acme"), actor=actor, name="Other"
        ).id

    def stop() -> None:
        with ctx.session() as session:
            account = session.get(EmailAccount, account_id)
            assert account is not None
            account.sync_stopped_reason = "authentication failed"
            account.sync_failures, account.sync_next_at = 4, clock.at + timedelta(hours=1)
            account.login_failures = [clock.at.isoformat()] * 3
            session.add(account)
            session.commit()

    for harmless in ({"display_name": "Renamed"}, {"imap_folder": "Archive"}):
        stop()
        edit(ctx, actor, account_id, **harmless)
        assert row(ctx, account_id).sync_stopped_reason, harmless
    for change in (
        {"imap_password": "secret-2"},
        {"imap_username": "someone-else"},
        {"imap_host": "localhost"},
        {"imap_port": 1143},
        {"imap_tls": True},
        {"mail_server_id": server_id},
    ):
        stop()
        edit(ctx, actor, account_id, **change)
        cleared = row(ctx, account_id)
        assert cleared.sync_stopped_reason is None, change
        assert (cleared.login_failures, cleared.sync_failures, cleared.sync_next_at) == (
            [],
            0,
            None,
        )


def test_backoff_is_interval_times_two_to_the_failures_capped() -> None:
    assert [sync_policy.backoff(300, n).total_seconds() for n in range(1, 10)] == [
        300, 600, 1200, 2400, 4800, 9600, 19200, 21600, 21600,
    ]  # fmt: skip
    assert sync_policy.backoff(300, 10_000) == timedelta(hours=6)
    assert sync_policy.backoff(8 * 3600, 3) == timedelta(hours=8)  # never below the interval


def test_cli_sync_now_is_refused_after_three_failed_logins_and_says_when_and_how(
    cli: Callable[..., Result],
    ctx: Context,
    actor: Actor,
    acme: str,
    clock: Clock,
    imap_mailbox: Mailbox,
    dovecot: DovecotServer,
) -> None:
    account_id = add_account(
        ctx, actor, imap_mailbox, port=dovecot.plain_port, password="bad-password"
    )
    args = ("accounts", "sync", str(account_id), "--tenant", "acme")
    for _ in range(3):
        clock.advance(600)
        failed = cli(*args)
        assert failed.code == 1 and "authentication failed" in failed.err
    fourth = cli(*args)
    assert fourth.code == 1
    allowed = T0 + timedelta(seconds=600) + timedelta(days=1)
    assert f"allowed again at {allowed:%Y-%m-%d %H:%M} UTC" in fourth.err
    assert f"mailbell accounts edit {account_id} --tenant acme --imap-password -" in fourth.err
    assert "Traceback" not in fourth.err and "bad-password" not in fourth.err

    listed = cli("accounts", "list", "--tenant", "acme")
    assert "sync stopped: authentication failed — fix the password" in listed.out
    assert f"mailbell accounts sync {account_id} --tenant acme" in listed.out
    (data,) = json.loads(cli("accounts", "list", "--tenant", "acme", "--json").out)
    assert data["sync_state"] == "stopped" and data["sync_failures"] == 3
    assert data["sync_stopped_reason"].startswith("authentication failed")
    assert "login_failures" not in data and "bad-password" not in json.dumps(data)

    fixed = cli(
        "accounts", "edit", str(account_id), "--tenant", "acme",
        "--imap-password", imap_mailbox.password,
    )  # fmt: skip
    assert fixed.code == 0, fixed.err
    synced = cli(*args)
    assert synced.code == 0, synced.err
    (data,) = json.loads(cli("accounts", "list", "--tenant", "acme", "--json").out)
    assert data["sync_state"] == "ok" and data["sync_stopped_reason"] is None
