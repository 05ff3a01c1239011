"""Fixtures for the HTTP API: an app on a real local socket, tenants and their tokens.

`api` is an `ApiClient`: `await api.get(path, token=...)`, `await api.post(path, json, token=...)`
answer `(status, body)` with the body parsed as JSON when it is JSON. Tokens: `acme` (tenant
token of tenant "acme"), `globex` (tenant "globex"), `system` (system token).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from api.app import create_api_app
from core.context import Context
from core.services.tokens import create_token
from tests.support.factories import TESTER, make_tenant
from tests.support.fixtures import smtp_server, smtp_servers, tls_certs  # noqa: F401
from tests.support.tokens import make_token

ADMIN = TESTER
EVERY_SCOPE = ["read", "write", "events", "admin"]


@dataclass
class Tokens:
    acme: str
    globex: str
    system: str


@pytest.fixture
def tokens(ctx: Context) -> Tokens:
    with ctx.session() as session:
        acme = make_tenant(session, slug="acme", name="Acme Corp", actor=ADMIN)
        globex = make_tenant(session, slug="globex", name="Globex", actor=ADMIN)
        return Tokens(
            acme=create_token(session=session, tenant=acme, name="acme-ci", actor=ADMIN).plaintext,
            globex=create_token(
                session=session, tenant=globex, name="globex-ci", actor=ADMIN
            ).plaintext,
            system=create_token(session=session, tenant=None, name="ops", actor=ADMIN).plaintext,
        )


@dataclass
class Answer:
    status: int
    body: Any
    headers: Any
    text: str


class ApiClient:
    def __init__(self, client: TestClient, tokens: Tokens) -> None:
        self.client = client
        self.tokens = tokens

    def _headers(self, token: str | None, extra: dict[str, str] | None) -> dict[str, str]:
        headers = dict(extra or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: Any = None,
        token: str | None = "acme",
        headers: dict[str, str] | None = None,
    ) -> Answer:
        plaintext = getattr(self.tokens, token, token) if token else None
        kwargs: dict[str, Any] = {"headers": self._headers(plaintext, headers)}
        if json_body is not None:
            kwargs["json"] = json_body
        elif data is not None:
            kwargs["data"] = data
        async with self.client.request(method, path, **kwargs) as response:
            text = await response.text()
            try:
                body = json.loads(text)
            except ValueError:
                body = None
            return Answer(response.status, body, response.headers, text)

    async def get(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, json_body: Any = None, **kwargs: Any) -> Answer:
        return await self.request("POST", path, json_body=json_body, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("DELETE", path, **kwargs)


def root_token(ctx: Context) -> str:
    """A system token with every scope (the `tokens` fixture's system token has no `admin`)."""
    with ctx.session() as session:
        return make_token(session, None, scopes=EVERY_SCOPE, name="root", actor=ADMIN)


@asynccontextmanager
async def served(ctx: Context, tokens: Tokens) -> AsyncIterator[ApiClient]:
    """The API app of `ctx` on a local socket, for the duration of the block."""
    client = TestClient(TestServer(create_api_app(ctx), host="127.0.0.1"))
    await client.start_server()
    try:
        yield ApiClient(client, tokens)
    finally:
        await client.close()


@pytest.fixture
async def api(ctx: Context, tokens: Tokens) -> AsyncIterator[ApiClient]:
    async with served(ctx, tokens) as api:
        # The first use of each token stamps last_used_at; do it now so that "nothing changed"
        # checks compare like with like.
        for name in ("acme", "globex", "system"):
            assert (await api.get("/api/custom_email_templates", token=name)).status == 200
        yield api


QUEUE_CALL_LOST = {
    "queue_name": "Sales",
    "queue_number": "8000",
    "caller": "+49 30 901820",
    "waiting_seconds": 184,
    "reason": "caller hung up",
    "occurred_at": "2026-11-03T11:47:10+00:00",
}
DISK_LOW = {
    "host": "pbx-01.example.com",
    "path": "/var/lib/pbx",
    "free_gb": "4.2",
    "total_gb": "100",
    "free_percent": "4.2",
    "threshold_percent": "10",
    "occurred_at": "2026-11-03T02:15:00+00:00",
}


def smtp_settings(server: Any, **extra: Any) -> dict[str, Any]:
    """PortSIP settings pointing at a local test SMTP server (plain, no AUTH)."""
    return {
        "type": "SMTP",
        "server": server.host,
        "port": server.port,
        "auth": "DISABLE",
        "enable_tls_ssl": False,
        "enable_starttls_auto": False,
        "mail_from": "pbx@acme.example",
        "timeout": 5,
        **extra,
    }
