"""Operations: `GET /healthz`, `GET /metrics` (Prometheus text), `GET /api/openapi.yaml`.

None of them needs a token; none shows a tenant name, an address or a secret.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from aiohttp import web

from api.db import DATABASE
from core import metrics

log = logging.getLogger("mailbell.api")

OPENAPI_PATH = Path(__file__).resolve().parent.parent / "openapi.yaml"
HEALTH_TIMEOUT_S = 3.0
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Components `mailbell serve` runs beside the API (worker, IMAP scheduler): name → state.
COMPONENTS = web.AppKey("components", dict[str, str])


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers (within 3 s), else 503."""
    components = dict(request.app.get(COMPONENTS, {}))
    try:
        await asyncio.wait_for(request.app[DATABASE].read(metrics.check_database), HEALTH_TIMEOUT_S)
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
    return web.json_response({"status": "ok", "database": "ok", **components})


async def metrics_text(request: web.Request) -> web.Response:
    gauges = await request.app[DATABASE].read(metrics.outbox_gauges)
    text = metrics.render(gauges, extra={"mailbell_up": ("1 while the process serves.", 1.0)})
    return web.Response(body=text.encode(), headers={"Content-Type": PROMETHEUS_CONTENT_TYPE})


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=OPENAPI_PATH.read_bytes(), content_type="application/yaml")


def setup(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_text)
    app.router.add_get("/api/openapi.yaml", openapi)
