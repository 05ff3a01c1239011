"""Rendering an event never holds up other tenants.

Against a real `mailbell serve`: tenant A's saved template passes validation but takes over
100 ms to render (under the 250 ms budget), A posts events from several clients without pause,
and tenant B's events and /healthz stay fast; every 202 of both tenants is committed.

In-process: events are prepared (token, validation, rendering) off the writer thread and only
written on it, so two requests with one key prepared together still make one event, and a
token's last use is stamped once, by the writer.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from sqlalchemy import event, func, update
from sqlmodel import col, select

from api.db import DATABASE
from core.context import Context
from core.models._common import utcnow
from core.models.auth import ApiToken
from core.models.delivery import EventRecord
from core.services.tenants import get_tenant
from tests.api.conftest import QUEUE_CALL_LOST, ApiClient, Tokens, smtp_settings
from tests.api.serve_process import ServeProcess
from tests.api.test_group_commit import _hold_writer
from tests.support.load import Client, health_probe, p99
from tests.support.smtp_servers import SmtpTestServer

TEMPLATES = "/api/custom_email_templates"

# 100,000 loop iterations, each a filter call and a comparison: about 120 ms a render on the
# machine this was written on (measured in-process), under the 200,000 steps and 250 ms of
# the budget. It prints nothing: the message stays small, only its rendering is slow.
SLOW_BODY = (
    "<p>{{ queue_name }} lost {{ caller }}</p>"
    "{% for i in range(10) %}{% for j in range(10000) %}"
    "{% if caller|length > j %}{% endif %}"
    "{% endfor %}{% endfor %}"
)
A_CLIENTS = 4
SECONDS = 8.0


def _event(prefix: str, counter: Iterator[int]) -> dict[str, object]:
    # itertools.count is one C call under the GIL: A's threads never draw the same key.
    return {"event": "QUEUE_CALL_LOST", "data": QUEUE_CALL_LOST, "key": f"{prefix}-{next(counter)}"}


def _events_of(ctx: Context, slug: str) -> int:
    with ctx.session() as session:
        tenant = get_tenant(session=session, slug=slug)
        query = select(func.count()).select_from(EventRecord)
        return int(session.exec(query.where(EventRecord.tenant_id == tenant.id)).one())


def test_a_tenant_with_a_slow_template_does_not_hold_up_another_tenants_events(
    ctx: Context, tokens: Tokens, smtp_server: SmtpTestServer, tmp_path: Path
) -> None:
    with ServeProcess("--no-worker", log_path=tmp_path / "serve.log") as serve:
        acme, globex, health = (
            Client(serve, tokens.acme),
            Client(serve, tokens.globex),
            Client(serve),
        )
        for client, domain in ((acme, "acme"), (globex, "globex")):
            settings = smtp_settings(
                smtp_server, recipients=f"ops@{domain}.example", notify_queue_call_lost=True
            )
            status, body, _ = client.request("POST", "/api/tenant/notification", settings)
            assert status == 200, body
        template = {"name": "QUEUE_CALL_LOST", "subject": "Lost {{ caller }}", "body": SLOW_BODY}
        status, body, _ = acme.request("POST", TEMPLATES, template)
        assert status == 200, body  # within the budget: saved

        a_keys, b_keys = itertools.count(), itertools.count()
        a_took: list[float] = []
        for _ in range(3):  # warm-up; and a slow render is what this template costs
            status, body, took = acme.request("POST", "/api/events", _event("a", a_keys))
            assert status == 202, body
            a_took.append(took)
        assert min(a_took) >= 0.1, f"A's render is too fast to matter: {a_took}"
        for _ in range(100):
            status, body, _ = globex.request("POST", "/api/events", _event("b", b_keys))
            assert status == 202, body
            assert health.request("GET", "/healthz")[0] == 200

        stop = threading.Event()
        failures: list[BaseException] = []
        a_accepted: list[int] = []
        health_times: list[float] = []

        def post_as_a() -> None:
            client = Client(serve, tokens.acme)
            try:
                while not stop.is_set():
                    status, body, _ = client.request("POST", "/api/events", _event("a", a_keys))
                    assert status == 202, body
                    a_accepted.append(status)
            except BaseException as exc:  # reported by the main thread
                failures.append(exc)
            finally:
                client.close()

        threads = [threading.Thread(target=post_as_a) for _ in range(A_CLIENTS)]
        threads.append(health_probe(health, stop, failures, health_times))
        for thread in threads:
            thread.start()
        b_times: list[float] = []
        try:
            time.sleep(0.5)  # A's clients are all under way
            health_times.clear()
            deadline = time.monotonic() + SECONDS
            while time.monotonic() < deadline:
                status, body, took = globex.request("POST", "/api/events", _event("b", b_keys))
                assert status == 202, body
                b_times.append(took)
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)
        for client in (acme, globex, health):
            client.close()
    assert not failures, failures
    b_p99, health_p99 = p99(b_times), p99(health_times)
    print(
        f"\nA: {len(a_accepted)} events accepted from {A_CLIENTS} clients; B: events p50 "
        f"{statistics.median(b_times) * 1000:.1f} ms p99 {b_p99 * 1000:.1f} ms "
        f"({len(b_times)}); /healthz p50 {statistics.median(health_times) * 1000:.1f} ms "
        f"p99 {health_p99 * 1000:.1f} ms ({len(health_times)})"
    )
    # Held up behind even one of A's renders, a request of B would take as long as A's alone
    # did in the warm-up. On a machine slowed by other work both slow down together: the bound
    # follows A's fastest warm-up request, and is never under 100 ms.
    bound = max(0.100, 0.8 * min(a_took))
    assert b_p99 < bound, (
        f"tenant B's POST /api/events p99 {b_p99 * 1000:.1f} ms "
        f"(A alone {min(a_took) * 1000:.1f} ms, bound {bound * 1000:.1f} ms)"
    )
    assert health_p99 < 0.050, f"/healthz p99 {health_p99 * 1000:.1f} ms"
    assert len(b_times) >= 100 and len(health_times) >= 100, (len(b_times), len(health_times))
    assert len(a_accepted) >= 10, len(a_accepted)
    # Every 202 was committed: the warm-up's and the run's, of both tenants.
    assert _events_of(ctx, "globex") == 100 + len(b_times)
    assert _events_of(ctx, "acme") == 3 + len(a_accepted)


async def _warm_up(api: ApiClient) -> None:
    """One event alone first, so that what a first event sets up is not part of the test."""
    warm_up = {"event": "QUEUE_CALL_LOST", "data": QUEUE_CALL_LOST, "key": "warm-up"}
    assert (await api.post("/api/events", warm_up)).status == 202


async def _posted_while_the_writer_is_held(api: ApiClient, bodies: list[dict[str, object]]):
    """Post `bodies` with the writer busy, so that all are prepared before any is written."""
    database = api.client.server.app[DATABASE]
    release = await _hold_writer(database)
    posts = [asyncio.ensure_future(api.post("/api/events", body)) for body in bodies]
    for _ in range(500):  # until every request was prepared and waits for the writer
        if database._writer._jobs.qsize() == len(bodies):
            break
        await asyncio.sleep(0.01)
    release.set()
    return await asyncio.gather(*posts)


async def test_one_key_prepared_twice_at_once_is_one_event(api: ApiClient, ctx: Context) -> None:
    await _warm_up(api)
    body = {"event": "QUEUE_CALL_LOST", "data": QUEUE_CALL_LOST, "key": "race-1"}
    answers = await _posted_while_the_writer_is_held(api, [body, body, body])
    assert [a.status for a in answers] == [202] * 3
    assert len({a.body["event_id"] for a in answers}) == 1
    assert sorted(a.body["duplicate"] for a in answers) == [False, True, True]
    # the duplicates answer the winner's deliveries
    assert len({str(a.body["deliveries"]) for a in answers}) == 1
    assert _events_of(ctx, "acme") == 2  # and the warm-up's


async def test_a_tokens_last_use_is_stamped_once_by_the_writer(
    api: ApiClient, ctx: Context
) -> None:
    await _warm_up(api)
    long_ago = utcnow() - timedelta(minutes=5)
    with ctx.session() as session:
        session.execute(update(ApiToken).values(last_used_at=long_ago))
        session.commit()
    statements: list[tuple[str, str]] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append((threading.current_thread().name, statement))

    event.listen(ctx.engine, "before_cursor_execute", note)
    try:
        body = {"event": "QUEUE_CALL_LOST", "data": QUEUE_CALL_LOST}
        answers = await _posted_while_the_writer_is_held(api, [body] * 5)
    finally:
        event.remove(ctx.engine, "before_cursor_execute", note)
    assert [a.status for a in answers] == [202] * 5
    stamps = [thread for thread, sql in statements if sql.lstrip().startswith("UPDATE api_token")]
    assert stamps == ["mailbell-api-write"]  # once, on the writer, in the events' transaction
    with ctx.session() as session:
        query = select(ApiToken.last_used_at).where(col(ApiToken.name) == "acme-ci")
        stamped = session.exec(query).one()
    assert stamped is not None and stamped.replace(tzinfo=None) > long_ago.replace(tzinfo=None)
