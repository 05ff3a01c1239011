"""IMAP sync against a real Dovecot: two syncs of one account at once, the scheduler with a
hanging and a refusing server, and the CLI."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import pytest

from core.context import Context
from core.services.imap_scheduler import ImapScheduler
from core.services.inbound import sync_account
from tests.cli_fixtures import Result
from tests.mail.imap_helpers import AccountFactory, account, make_message, rows
from tests.support.dovecot import DovecotServer, Mailbox, free_port

pytestmark = pytest.mark.usefixtures("trust_test_ca")


async def test_two_syncs_of_one_account_at_once_run_once(
    ctx: Context, mailbox: Mailbox, make_account: AccountFactory
) -> None:
    mailbox.append(*(make_message(f"n{i}") for i in range(10)))
    account_id = make_account(mailbox)
    logins = mailbox.logins()
    progress: list[tuple[int, int]] = []
    first, second = await asyncio.gather(
        sync_account(ctx=ctx, account_id=account_id),
        sync_account(ctx=ctx, account_id=account_id, progress=lambda *p: progress.append(p)),
    )
    assert first is second and first.fetched == 10
    assert progress[-1] == (10, 10)  # the joiner sees the running sync's progress
    assert len(rows(ctx, account_id)) == 10
    await asyncio.sleep(0.05)  # Dovecot writes its log line right after the login
    assert mailbox.logins() - logins == 1


async def test_scheduler_keeps_going_when_one_account_hangs_and_one_fails(
    ctx: Context, mailbox: Mailbox, make_account: AccountFactory, dovecot: DovecotServer
) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)  # accepts, never greets
        writer.close()

    hang_server = await asyncio.start_server(silent, "127.0.0.1", 0)
    hang_port = hang_server.sockets[0].getsockname()[1]
    mailbox.append(make_message("one"))
    good = make_account(mailbox)
    hanging = make_account(mailbox, port=hang_port, tls=False)
    refused = make_account(mailbox, port=free_port())

    # The hanging account's first sync outlives the good account's two syncs: proof that one
    # stuck server does not hold the others up, without timing the good ones on a busy machine.
    scheduler = ImapScheduler(ctx, interval=0.2, account_timeout=6.0, io_timeout=30)
    stop = asyncio.Event()
    runner = asyncio.create_task(scheduler.run(stop))
    try:
        await _until(lambda: account(ctx, good).message_count == 1, 3)
        mailbox.append(make_message("two"))
        await _until(lambda: account(ctx, good).message_count == 2, 3)
        assert account(ctx, hanging).last_sync_at is None  # its first sync is still hanging
        assert "connection refused" in (account(ctx, refused).last_sync_error or "")
        await _until(lambda: account(ctx, hanging).last_sync_error is not None, 8)
        assert (account(ctx, hanging).last_sync_error or "").startswith("timeout")
    finally:
        stop.set()
        await asyncio.wait_for(runner, 5)
        hang_server.close()
    assert scheduler.results[good].ok


async def _until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def test_cli_sync_messages_and_list(
    cli: Callable[..., Result], mailbox: Mailbox, make_account: AccountFactory
) -> None:
    mailbox.append(make_message("via cli", message_id="<cli@example.org>"), make_message("two"))
    account_id = make_account(mailbox)
    result = cli("accounts", "sync", str(account_id), "--tenant", "acme")
    assert result.code == 0, result.err
    assert "fetched 2 / 2" in result.err
    assert "2 new messages" in result.out and "2 stored" in result.out

    listed = cli("accounts", "messages", str(account_id), "--tenant", "acme", "--json")
    assert listed.code == 0, listed.err
    messages = json.loads(listed.out)
    assert [m["subject"] for m in messages] == ["two", "via cli"]  # newest first
    assert messages[1]["message_id"] == "<cli@example.org>"
    assert messages[1]["from"] == "Ann Example <ann@example.org>"
    assert set(messages[1]) >= {"uid", "date", "snippet", "size", "attachments", "flags"}
    limited = cli("accounts", "messages", str(account_id), "--tenant", "acme", "--limit", "1")
    assert limited.code == 0 and "two" in limited.out and "via cli" not in limited.out

    (row,) = json.loads(cli("accounts", "list", "--tenant", "acme", "--json").out)
    assert row["message_count"] == 2 and row["last_sync_at"] and row["last_error"] is None
    assert "fetched 0 / 0" in cli("accounts", "sync", str(account_id), "--tenant", "acme").err


def test_cli_sync_failure_exits_1_with_the_reason(
    cli: Callable[..., Result], mailbox: Mailbox, make_account: AccountFactory
) -> None:
    account_id = make_account(mailbox, password="wrong-password")
    result = cli("accounts", "sync", str(account_id), "--tenant", "acme")
    assert result.code == 1
    assert "authentication failed" in result.err and "wrong-password" not in result.err
    (row,) = json.loads(cli("accounts", "list", "--tenant", "acme", "--json").out)
    assert row["last_error"].startswith("authentication failed")
    assert "wrong-password" not in json.dumps(row)

    other = cli("accounts", "sync", "999", "--tenant", "acme")
    assert other.code == 1 and "999" in other.err

    server_id = json.loads(cli("server", "list", "--tenant", "acme", "--json").out)[0]["id"]
    added = cli(
        "accounts", "add", "--tenant", "acme", "--email", "nohost@example.org",
        "--name", "No IMAP", "--server", str(server_id),
    )  # fmt: skip
    assert added.code == 0, added.err
    no_host_id = json.loads(cli("accounts", "list", "--tenant", "acme", "--json").out)[-1]["id"]
    no_host = cli("accounts", "sync", str(no_host_id), "--tenant", "acme")
    assert no_host.code == 1 and "has no IMAP host" in no_host.err
