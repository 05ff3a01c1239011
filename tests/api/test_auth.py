"""Bearer tokens: 401 without a valid one, 403 across tenants, `?tenant=` for system tokens."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlmodel import select

from core.context import Context
from core.models.auth import ApiToken
from core.services.tokens import revoke_token
from tests.api.conftest import ADMIN, ApiClient

SETTINGS = "/api/tenant/notification"
PROTECTED = [
    ("GET", SETTINGS),
    ("POST", SETTINGS),
    ("POST", f"{SETTINGS}/test_email"),
    ("GET", "/api/default_email_templates"),
    ("GET", "/api/default_email_templates/QUEUE_SLA"),
    ("GET", "/api/custom_email_templates"),
    ("POST", "/api/custom_email_templates"),
    ("GET", "/api/custom_email_templates/QUEUE_SLA"),
    ("POST", "/api/custom_email_templates/QUEUE_SLA"),
    ("DELETE", "/api/custom_email_templates/QUEUE_SLA"),
    ("POST", "/api/events"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer mb_not-a-real-token", "Basic dXNlcjpwYXNz", "mb_no-scheme"],
    ids=["missing", "empty", "unknown", "basic", "no-scheme"],
)
async def test_missing_or_invalid_token_is_401(
    api: ApiClient, db_dump: Callable[[], str], method: str, path: str, authorization: str | None
) -> None:
    before = db_dump()
    headers = {"Authorization": authorization} if authorization else {}
    body = {"recipients": "x@acme.example"} if method == "POST" else None
    answer = await api.request(method, path, json_body=body, token=None, headers=headers)
    assert answer.status == 401, answer.body
    assert answer.body["error"]
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert db_dump() == before


async def test_revoked_token_is_401(api: ApiClient, ctx: Context) -> None:
    assert (await api.get(SETTINGS)).status == 200
    with ctx.session() as session:
        token = session.exec(select(ApiToken).where(ApiToken.name == "acme-ci")).one()
        assert token.id is not None
        revoke_token(session=session, token_id=token.id, actor=ADMIN)
    answer = await api.get(SETTINGS)
    assert answer.status == 401
    assert "revoked" in answer.body["error"]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_another_tenants_slug_with_a_tenant_token_is_403(
    api: ApiClient, db_dump: Callable[[], str], method: str, path: str
) -> None:
    before = db_dump()
    body = {"recipients": "x@acme.example"} if method == "POST" else None
    answer = await api.request(method, f"{path}?tenant=globex", json_body=body)
    assert answer.status == 403, answer.body
    assert answer.body["field"] == "tenant"
    assert db_dump() == before


async def test_a_tenant_token_naming_its_own_tenant_is_fine(api: ApiClient) -> None:
    assert (await api.get(f"{SETTINGS}?tenant=acme")).status == 200


async def test_a_tenant_token_only_ever_sees_its_tenant(api: ApiClient) -> None:
    assert (
        await api.post(SETTINGS, {"recipients": "it@globex.example"}, token="globex")
    ).status == 200
    assert (await api.get(SETTINGS)).body["recipients"] == ""
    assert (await api.get(SETTINGS, token="globex")).body["recipients"] == "it@globex.example"


async def test_system_token_with_unknown_tenant_is_404(api: ApiClient) -> None:
    answer = await api.get(f"{SETTINGS}?tenant=nope", token="system")
    assert answer.status == 404
    assert answer.body["field"] == "tenant"
    assert "nope" in answer.body["error"]


async def test_public_endpoints_need_no_token(api: ApiClient) -> None:
    for path in ("/healthz", "/metrics", "/api/openapi.yaml"):
        assert (await api.get(path, token=None)).status == 200, path


async def test_changes_are_audited_with_the_token_name(api: ApiClient, ctx: Context) -> None:
    from core.services.audit import list_entries

    assert (await api.post(SETTINGS, {"recipients": "ops@acme.example"})).status == 200
    with ctx.session() as session:
        entry = list_entries(session=session, tenant="acme", limit=1)[0]
    assert (entry.actor, entry.source) == ("token:acme-ci", "api")
    assert entry.fields == ["recipients"]


async def test_last_used_is_stamped_at_most_once_a_minute(api: ApiClient, ctx: Context) -> None:
    from datetime import timedelta

    def last_used() -> object:
        with ctx.session() as session:
            token = session.exec(select(ApiToken).where(ApiToken.name == "acme-ci")).one()
            return token.last_used_at

    first = last_used()
    assert first is not None  # stamped by the fixture's first request
    assert (await api.get(SETTINGS)).status == 200
    assert last_used() == first  # not a write per request
    with ctx.session() as session:  # a minute later, the next request stamps it again
        token = session.exec(select(ApiToken).where(ApiToken.name == "acme-ci")).one()
        assert token.last_used_at is not None
        token.last_used_at = token.last_used_at - timedelta(minutes=2)
        session.add(token)
        session.commit()
        older = token.last_used_at
    assert (await api.get(SETTINGS)).status == 200
    assert last_used() != older


async def test_the_token_is_checked_before_the_body(api: ApiClient) -> None:
    bad_token = {"Authorization": "Bearer mb_not-a-real-token", "Content-Type": "text/plain"}
    answer = await api.request("POST", SETTINGS, data=b"{not json", token=None, headers=bad_token)
    assert answer.status == 401
    other = await api.request(
        "POST",
        f"{SETTINGS}?tenant=globex",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert other.status == 403
