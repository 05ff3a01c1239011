"""Operations: `GET /healthz`, `GET /metrics` (Prometheus text), `GET /api/openapi.yaml` and
`GET /api/openapi.json` (the same document as JSON).

`/healthz` reads the database (`SELECT 1`, and how many delivery workers run: `workers`) and
reports the background write probe's verdict;
`/metrics` serves the outbox and health gauges from caches refreshed at most every 5 s
(`GaugeCache`).

None of them needs a token; none shows a tenant name, an address or a secret.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from functools import cache

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from api import openapi_document
from api.db import CONTEXT, DATABASE, Database
from core import metrics, write_probe
from core.errors import StorageFullError, StorageReadOnlyError
from core.services.workers import running_workers
from core.write_probe import FULL, READ_ONLY

log = logging.getLogger("mailbell.api")

OPENAPI_PATH = openapi_document.OPENAPI_PATH
HEALTH_TIMEOUT_S = 3.0
READ_CHECK_MAX_AGE_S = 1.0
PAGE_MAX_AGE_S = 1.0
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Components `mailbell serve` runs beside the API (worker, IMAP scheduler): name → state.
COMPONENTS = web.AppKey("components", dict[str, str])
WRITE_PROBE = web.AppKey("write_probe", write_probe.WriteProbe)
PROBE_TASK = web.AppKey("write_probe_task", asyncio.Task[None])
GAUGES = web.AppKey("outbox_gauges", metrics.GaugeCache[metrics.OutboxGauges])
HEALTH_GAUGES = web.AppKey("health_gauges", metrics.GaugeCache[metrics.HealthGauges])


class ReadCheck:
    """`SELECT 1` on a reader thread, at most once per READ_CHECK_MAX_AGE_S, one at a time.

    A health checker polled hard (or a load balancer's many probes) would otherwise cost a
    thread hop each, and a hop waits for the event loop twice: under load that alone can
    take tens of milliseconds. The first caller past the age starts the check, and callers
    meanwhile answer with the last outcome; only the very first check is waited for.
    """

    def __init__(self) -> None:
        self._outcome: BaseException | None = None
        self._at: float | None = None
        # Delivery workers seen running by the last check (None: not known yet).
        self.workers: int | None = None
        self._pending: asyncio.Task[None] | None = None

    async def _check(self, database: Database) -> None:
        try:
            self.workers = await asyncio.wait_for(database.read(_read), HEALTH_TIMEOUT_S)
            self._outcome = None
        except Exception as exc:
            self._outcome = exc
        finally:
            self._at, self._pending = time.monotonic(), None

    async def get(self, database: Database) -> None:
        """Raise the last check's error, if it failed."""
        stale = self._at is None or time.monotonic() - self._at >= READ_CHECK_MAX_AGE_S
        if stale and self._pending is None:
            self._pending = asyncio.create_task(self._check(database))
        if self._at is None and self._pending is not None:
            await asyncio.shield(self._pending)
        if self._outcome is not None:
            raise self._outcome


READ_CHECK = web.AppKey("read_check", ReadCheck)


def _read(session: Session) -> int | None:
    """`SELECT 1`, then the running workers (one read, same thread hop). A count that fails is
    None, not a 503: the database answered."""
    metrics.check_database(session)
    try:
        return len(running_workers(session=session))
    except SQLAlchemyError:
        log.warning("health check: cannot count the running workers")
        return None


def _refusing_writes(state: str, components: dict[str, str]) -> web.Response:
    # No path or URL: /healthz needs no token.
    return web.json_response(
        {
            "status": "unavailable",
            "database": state,
            "error": f"the database refuses writes: it is {state}",
            **components,
        },
        status=503,
    )


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers (within 3 s) and takes writes, else 503.

    Whether it takes writes is the verdict of the background write probe
    (`core.write_probe`, every 2 s), so this check never writes nor waits for a lock.
    """
    found: dict[str, str] | None = request.app.get(COMPONENTS)
    components = dict(found or {})
    try:
        await request.app[READ_CHECK].get(request.app[DATABASE])
    except StorageFullError:
        return _refusing_writes(FULL, components)
    except StorageReadOnlyError:
        return _refusing_writes(READ_ONLY, components)
    except Exception as exc:
        log.warning("health check: the database does not answer: %s", type(exc).__name__)
        return web.json_response(
            {
                "status": "unavailable",
                "database": "unavailable",
                "error": f"the database does not answer ({type(exc).__name__})",
                **components,
            },
            status=503,
        )
    verdict = request.app[WRITE_PROBE].verdict
    if verdict.refused:
        return _refusing_writes(verdict.state, components)
    # No worker is still a 200: load balancers send API traffic by this answer, and an API
    # node without a worker (`serve --no-worker`) serves events well; they are queued, and
    # `service:workers` (the health watch) is what says that nothing delivers them.
    workers = request.app[READ_CHECK].workers
    return web.json_response({"status": "ok", "database": "ok", **components, "workers": workers})


class MetricsPage:
    """The rendered page, kept for PAGE_MAX_AGE_S: scrapers read every 15 s or so, while a
    client hammering `/metrics` would otherwise have the event loop render every counter and
    histogram each time, and `/healthz` wait behind those renders."""

    def __init__(self) -> None:
        self.body = b""
        self.at: float | None = None

    def fresh(self) -> bool:
        return self.at is not None and time.monotonic() - self.at < PAGE_MAX_AGE_S


METRICS_PAGE = web.AppKey("metrics_page", MetricsPage)


async def metrics_text(request: web.Request) -> web.Response:
    page = request.app[METRICS_PAGE]
    if not page.fresh():
        database = request.app[DATABASE]
        gauges, health = await asyncio.gather(
            request.app[GAUGES].get(lambda: database.read(metrics.outbox_gauges)),
            request.app[HEALTH_GAUGES].get(lambda: database.read(metrics.health_gauges)),
        )
        text = metrics.render(
            gauges, health=health, extra={"mailbell_up": ("1 while the process serves.", 1.0)}
        )
        page.body, page.at = text.encode(), time.monotonic()
    return web.Response(body=page.body, headers={"Content-Type": PROMETHEUS_CONTENT_TYPE})


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=openapi_document.document(), content_type="application/yaml")


@cache
def _openapi_json() -> bytes:
    """The served YAML parsed once: both documents say the same by construction."""
    import yaml

    return json.dumps(yaml.safe_load(openapi_document.document())).encode()


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=_openapi_json(), content_type="application/json")


async def _start_probe(app: web.Application) -> None:
    app[PROBE_TASK] = asyncio.create_task(app[WRITE_PROBE].run(), name="mailbell-write-probe")


async def _stop_probe(app: web.Application) -> None:
    task = app.get(PROBE_TASK)
    if task is not None:
        await write_probe.stop(task)


def setup(app: web.Application) -> None:
    app[WRITE_PROBE] = write_probe.WriteProbe(app[CONTEXT])
    app[GAUGES] = metrics.GaugeCache()
    app[HEALTH_GAUGES] = metrics.GaugeCache(counter=None)
    app[READ_CHECK] = ReadCheck()
    app[METRICS_PAGE] = MetricsPage()
    app.on_startup.append(_start_probe)
    app.on_cleanup.append(_stop_probe)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_text)
    app.router.add_get("/api/openapi.yaml", openapi)
    app.router.add_get("/api/openapi.json", openapi_json)
