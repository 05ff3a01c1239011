"""The aiohttp application: PortSIP-compatible API, event ingest, health, metrics, OpenAPI.

    app = create_api_app(ctx)          # nothing is built at import time

Middlewares, outermost first: errors (JSON answers, request ids, the 1 MiB limit, access log,
request counts), then bearer-token auth for `/api/…`. The routes live in `api.routes.*` and
call the core services through `api.db.Database` (writes on one thread, reads on a small pool).
`openapi.yaml` beside this module describes every route (tests check that none is missing).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from api.auth import auth_middleware
from api.db import CONTEXT, DATABASE, Database
from api.errors import MAX_BODY_BYTES, error_middleware
from api.routes import (
    email_accounts,
    events,
    health,
    mail_server_oauth,
    mail_servers,
    notification,
    ops,
    templates,
    v1_audit,
    v1_deliveries,
    v1_preview,
    v1_settings,
    v1_slack,
    v1_templates,
    v1_tenants,
    v1_tokens,
    webhooks,
)
from core.context import Context


async def _close_database(app: web.Application) -> None:
    app[DATABASE].close()


async def _load_locale_data(app: web.Application) -> None:
    """Babel's data, loaded before the first request rather than inside it."""
    from core.locality import preload

    await asyncio.to_thread(preload)


def create_api_app(ctx: Context, *, read_threads: int | None = None) -> web.Application:
    """The application for `ctx` (its database executors close with the app)."""
    app = web.Application(
        # one byte of slack: the error middleware answers 413 for anything over 1 MiB itself
        client_max_size=MAX_BODY_BYTES + 1,
        middlewares=[error_middleware, auth_middleware],
    )
    app[CONTEXT] = ctx
    app[DATABASE] = (
        Database(ctx) if read_threads is None else Database(ctx, read_threads=read_threads)
    )
    app.on_startup.append(_load_locale_data)
    app.on_cleanup.append(_close_database)
    notification.setup(app)
    templates.setup(app)
    events.setup(app)
    webhooks.setup(app)
    health.setup(app)
    ops.setup(app)
    v1_tenants.setup(app)
    v1_tokens.setup(app)
    v1_deliveries.setup(app)
    v1_audit.setup(app)
    v1_preview.setup(app)
    v1_templates.setup(app)
    v1_settings.setup(app)
    v1_slack.setup(app)
    mail_servers.setup(app)
    mail_server_oauth.setup(app)
    email_accounts.setup(app)
    return app
