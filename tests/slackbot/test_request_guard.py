"""The guard before bolt: malformed timestamps and signatures are 401 without a traceback,
a signed request sent twice is refused the second time (in one process and across two
`mailbell serve` processes on one database), and a locked database answers "busy"."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import create_engine, text
from sqlmodel import select

from core.models.slack import SlackRequestSeen
from core.models.tenancy import NotificationSettingsUpdate
from core.services.audit import Actor
from core.services.notifications import get_notification_settings, update_notification_settings
from core.services.slack_replay import REPLAY_WINDOW_S, SeenSlackRequests
from core.services.tenants import get_tenant
from tests.api.serve_process import ServeProcess
from tests.slackbot.conftest import ACME_ADMIN, ACME_CHANNEL, SECRET, SYSTEM_ADMIN, TOKEN
from tests.support.slack_api import SignedRequest, signature

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _signed_with(timestamp: str, body: str) -> SignedRequest:
    """Correctly signed for whatever the timestamp header says (only the timestamp is bad)."""
    return SignedRequest(
        body,
        {
            **FORM,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature(SECRET, timestamp, body),
        },
    )


def _with_signature(value: str, body: str) -> SignedRequest:
    return SignedRequest(
        body,
        {**FORM, "X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": value},
    )


MALFORMED = [
    pytest.param(lambda b: _signed_with("abc", b), id="timestamp-abc"),
    pytest.param(lambda b: _signed_with("", b), id="timestamp-empty"),
    pytest.param(lambda b: _signed_with("1e10", b), id="timestamp-1e10"),
    pytest.param(lambda b: _signed_with("-5", b), id="timestamp-negative"),
    pytest.param(lambda b: _signed_with("9" * 40, b), id="timestamp-huge"),
    pytest.param(lambda b: _signed_with(f"{int(time.time()):_}", b), id="timestamp-underscores"),
    pytest.param(
        lambda b: SignedRequest(b, {**FORM, "X-Slack-Signature": signature(SECRET, "0", b)}),
        id="timestamp-missing",
    ),
    pytest.param(lambda b: _with_signature("v0=zz", b), id="signature-short"),
    pytest.param(lambda b: _with_signature("v0=\u00e9" * 3, b), id="signature-non-ascii"),
    pytest.param(lambda b: _with_signature("", b), id="signature-empty"),
    pytest.param(
        lambda b: _with_signature("v1=" + signature(SECRET, str(int(time.time())), b)[3:], b),
        id="signature-wrong-version",
    ),
]


def _seen(ctx) -> list[str]:
    with ctx.session() as session:
        return list(session.exec(select(SlackRequestSeen.signature)).all())


def _enable_body(bot) -> str:
    return bot.requests.command_body(
        "enable queue_call_lost", user=SYSTEM_ADMIN, channel=ACME_CHANNEL
    )


@pytest.mark.parametrize("forge", MALFORMED)
async def test_malformed_timestamp_or_signature_is_401_without_a_traceback(
    bot, tenants, slack_api, state, audit, caplog, forge
) -> None:
    before, entries = state(), len(audit())
    caplog.set_level(logging.DEBUG)
    answer = await bot.send(forge(_enable_body(bot)))
    assert answer.status == 401
    assert "Traceback" not in answer.text and "went wrong" not in answer.text
    assert state() == before and len(audit()) == entries
    assert _seen(tenants) == []  # unsigned junk does not fill the table
    assert slack_api.calls == []
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert "Traceback" not in caplog.text


async def test_a_request_sent_twice_is_refused_the_second_time(
    bot, tenants, slack_api, state, audit
) -> None:
    body = bot.requests.command_body("status", user=ACME_ADMIN, channel=ACME_CHANNEL)
    now = int(time.time())
    request = bot.requests.sign(body, timestamp=now - 1)
    first = await bot.send(request)
    assert first.status == 200
    before, entries = state(), len(audit())
    again = await bot.send(request)
    assert again.status == 401
    assert state() == before and len(audit()) == entries
    # What Slack does when it retries: the same body, a new timestamp, so a new signature.
    retry = bot.requests.sign(body, timestamp=now)
    retry.headers["X-Slack-Retry-Num"] = "1"
    assert (await bot.send(retry)).status == 200


@contextmanager
def _write_locked(ctx) -> Iterator[None]:
    """Another connection holds the database's write lock (SQLite) or the table's (PostgreSQL)."""
    url = ctx.engine.url
    if url.get_backend_name() == "sqlite":
        holder = sqlite3.connect(url.database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    engine = create_engine(url)
    with engine.connect() as connection, connection.begin():
        connection.execute(text("LOCK TABLE slack_request_seen IN EXCLUSIVE MODE"))
        yield
    engine.dispose()


async def test_a_locked_database_answers_busy_quickly_and_runs_nothing(
    bot, tenants, slack_api, state, audit, caplog
) -> None:
    before, entries = state(), len(audit())
    request = bot.requests.sign(_enable_body(bot))
    with _write_locked(tenants):
        started = time.perf_counter()
        answer = await bot.send(request)
        took = time.perf_counter() - started
    assert answer.status == 200 and "busy" in answer.json["text"]
    assert answer.json["response_type"] == "ephemeral"
    assert took < 3.0, took  # Slack's deadline for an answer
    assert state() == before and len(audit()) == entries
    assert "Traceback" not in caplog.text


def test_rows_older_than_the_window_are_pruned(ctx) -> None:
    seen = SeenSlackRequests(ctx.engine, prune_interval_s=0)
    now = time.time()
    old = int(now) - REPLAY_WINDOW_S - 120
    assert seen.remember("a" * 64, old, now=now - REPLAY_WINDOW_S - 120)
    assert seen.remember("b" * 64, int(now), now=now)
    assert not seen.remember("b" * 64, int(now), now=now)
    assert _seen(ctx) == ["b" * 64]


# -- through real `mailbell serve` processes --------------------------------------------------


def _enabled(ctx) -> bool:
    with ctx.session() as session:
        tenant = get_tenant(session=session, slug="acme")
        return bool(
            get_notification_settings(session=session, tenant=tenant).toggles[
                "notify_queue_call_lost"
            ]
        )


@pytest.fixture
def slack_env(tenants, slack_api, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("MAILBELL_SLACK_API_URL", slack_api.url)
    monkeypatch.setenv("MAILBELL_SLACK_ADMINS", SYSTEM_ADMIN)
    with tenants.session() as session:
        update_notification_settings(
            session=session,
            box=tenants.box,
            tenant=get_tenant(session=session, slug="acme"),
            changes=NotificationSettingsUpdate.parse({"recipients": "ops@acme.org"}, system=False),
            actor=Actor("setup", "cli"),
        )
    return tenants


async def _start(tmp_path: Path, name: str) -> ServeProcess:
    serve = ServeProcess("--no-worker", log_path=tmp_path / f"{name}.log")
    try:
        await asyncio.to_thread(serve.wait_ready)  # the Slack stand-in runs on this loop
    except BaseException:
        serve.close()
        raise
    return serve


async def _post(http: aiohttp.ClientSession, url: str, request: SignedRequest) -> tuple[int, str]:
    async with http.post(f"{url}/slack/events", data=request.body, headers=request.headers) as resp:
        return resp.status, await resp.text()


async def test_a_replay_to_either_of_two_serve_processes_is_refused(
    slack_env, bot, audit, tmp_path
) -> None:
    ctx = slack_env
    first = await _start(tmp_path, "first")
    second = await _start(tmp_path, "second")
    try:
        async with aiohttp.ClientSession() as http:
            body = bot.requests.command_body(
                "enable queue_call_lost", user=ACME_ADMIN, channel=ACME_CHANNEL
            )
            enable = bot.requests.sign(body)
            status, answer = await _post(http, first.url, enable)
            assert status == 200 and "Enabled" in answer, answer
            assert _enabled(ctx)
            disable = bot.requests.sign(
                bot.requests.command_body(
                    "disable queue_call_lost", user=ACME_ADMIN, channel=ACME_CHANNEL
                )
            )
            status, answer = await _post(http, second.url, disable)
            assert status == 200 and "Disabled" in answer, answer
            assert not _enabled(ctx)
            updates = len(audit("notification_settings.update"))

            # the enable again: had it run, the event would be on again
            for serve in (first, second):
                status, _ = await _post(http, serve.url, enable)
                assert status == 401
            for bad in ("abc", "", "1e10"):
                status, answer = await _post(http, first.url, _signed_with(bad, body))
                assert status == 401 and "Traceback" not in answer
        assert not _enabled(ctx)
        assert len(audit("notification_settings.update")) == updates
        for serve in (first, second):
            assert "Traceback" not in serve.logs
    finally:
        first.close()
        second.close()
