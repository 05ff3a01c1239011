"""`/api/v1` administration: tenants, tokens, deliveries and events, audit, template preview,
settings export and import — each walked as a flow, with the tenant fence and the scopes."""

from __future__ import annotations

import json

import pytest

from api.routes.v1_paging import cursor_of
from core.context import Context
from core.services.tenants import get_tenant
from tests.api.conftest import EVERY_SCOPE, QUEUE_CALL_LOST, ApiClient, root_token
from tests.support.factories import configure_tenant, make_mail_server
from tests.support.resend import drain
from tests.support.smtp_servers import SmtpTestServer


@pytest.fixture
def root(ctx: Context) -> str:
    return root_token(ctx)


async def test_tenants_and_tokens(api: ApiClient, root: str) -> None:
    assert (await api.post("/api/v1/tenants", {"slug": "Bad Slug"}, token=root)).body[
        "field"
    ] == "slug"
    made = await api.post("/api/v1/tenants", {"slug": "initech", "name": "Initech"}, token=root)
    assert made.status == 201 and made.body["name"] == "Initech"
    assert (await api.post("/api/v1/tenants", {"slug": "initech"}, token=root)).status == 409
    renamed = await api.request(
        "PATCH", "/api/v1/tenants/initech", json_body={"name": "Initech Ltd"}, token=root
    )
    assert renamed.status == 200 and renamed.body["name"] == "Initech Ltd"
    listed = await api.get("/api/v1/tenants", token=root)
    assert [t["slug"] for t in listed.body] == ["acme", "globex", "initech"]

    # A token for the new tenant, made by the system; then that tenant's own admin token.
    bad = await api.post(
        "/api/v1/tokens?tenant=initech", {"name": "x", "scopes": ["root"]}, token=root
    )
    assert bad.status == 400 and bad.body["field"] == "scopes"
    emitter = await api.post(
        "/api/v1/tokens?tenant=initech",
        {"name": "emitter", "scopes": ["events"], "expires": "90d"},
        token=root,
    )
    assert emitter.status == 201 and emitter.body["token"].startswith("mb_")
    assert emitter.body["scopes"] == ["events"] and emitter.body["tenant"] == "initech"
    assert emitter.body["expires_at"] is not None
    admin = await api.post(
        "/api/v1/tokens?tenant=initech", {"name": "admin", "scopes": EVERY_SCOPE}, token=root
    )
    own = admin.body["token"]
    listed = await api.get("/api/v1/tokens", token=own)
    assert [t["name"] for t in listed.body] == ["emitter", "admin"]
    assert emitter.body["token"] not in listed.text and "token_hash" not in listed.text

    # The fence: a tenant admin sees and revokes its own tokens only, and never the tenants.
    acme_tokens = await api.get("/api/v1/tokens?tenant=acme", token=root)
    [acme_ci] = [t["id"] for t in acme_tokens.body if t["name"] == "acme-ci"]
    assert (await api.delete(f"/api/v1/tokens/{acme_ci}", token=own)).status == 404
    assert (await api.get("/api/v1/tenants", token=own)).status == 403
    refused = await api.get("/api/v1/tokens", token="acme")  # read, write, events: no admin
    assert refused.status == 403 and refused.body["scope"] == "admin"
    events_only = await api.get("/api/v1/deliveries", token=emitter.body["token"])
    assert events_only.status == 403 and events_only.body["scope"] == "read"
    revoked = await api.delete(f"/api/v1/tokens/{emitter.body['id']}", token=own)
    assert revoked.status == 200 and revoked.body["revoked_at"] is not None
    assert (await api.get("/api/v1/deliveries", token=emitter.body["token"])).status == 401

    gone = await api.delete("/api/v1/tenants/initech", token=root)
    assert gone.status == 200 and gone.body["deleted"] is True
    assert (await api.get("/api/v1/tokens", token=own)).status == 401  # gone with its tenant
    assert (await api.delete("/api/v1/tenants/initech", token=root)).status == 404


async def test_deliveries_events_retry_resend_and_paging(
    api: ApiClient, ctx: Context, smtp_server: SmtpTestServer
) -> None:
    with ctx.session() as session:  # recipients and the toggle, no server yet: failed
        configure_tenant(session, ctx.box, get_tenant(session=session, slug="acme"))
    accepted = await api.post("/api/events", {"event": "QUEUE_CALL_LOST", "data": QUEUE_CALL_LOST})
    assert accepted.status == 202, accepted.body
    [row] = accepted.body["deliveries"]
    path = f"/api/v1/deliveries/{row['id']}"
    failed = await api.get(path)
    assert failed.body["status"] == "failed" and failed.body["history"] == []

    event = await api.get(f"/api/v1/events/{accepted.body['event_id']}")
    assert event.status == 200 and event.body["event"] == "QUEUE_CALL_LOST"
    assert event.body["data"]["caller"] == QUEUE_CALL_LOST["caller"]
    assert [d["id"] for d in event.body["deliveries"]] == [row["id"]]
    # Another tenant's delivery and event are not found; its own log is empty.
    assert (await api.get(path, token="globex")).status == 404
    assert (await api.post(path + "/retry", token="globex")).status == 404
    assert (
        await api.get(f"/api/v1/events/{accepted.body['event_id']}", token="globex")
    ).status == 404
    assert (await api.get("/api/v1/deliveries", token="globex")).body["items"] == []

    with ctx.session() as session:
        make_mail_server(
            session, ctx.box, get_tenant(session=session, slug="acme"), smtp=smtp_server
        )
    retried = await api.post(path + "/retry")
    assert retried.status == 200 and retried.body["status"] == "queued"
    await drain(ctx)
    sent = await api.get(path)
    assert sent.body["status"] == "sent"
    assert [a["outcome"] for a in sent.body["history"]] == ["sent"]
    assert set(sent.body["recipients"]) == {"ops@acme.org"}
    again = await api.post(path + "/retry")
    assert again.status == 400 and again.body["field"] == "status"
    copy = await api.post(path + "/resend", {"to": "boss@acme.org"})
    assert (
        copy.status == 201
        and copy.body["target"] == "boss@acme.org"
        and copy.body["id"] != row["id"]
    )

    # Cursor paging, newest first, and the filters.
    for _ in range(3):
        await api.post("/api/events", {"event": "QUEUE_CALL_LOST", "data": QUEUE_CALL_LOST})
    seen: list[int] = []
    cursor = ""
    while True:
        answer = await api.get(f"/api/v1/deliveries?limit=2{cursor}")
        seen += [item["id"] for item in answer.body["items"]]
        if answer.body["next_cursor"] is None:
            break
        cursor = f"&cursor={answer.body['next_cursor']}"
    assert len(seen) == 5 and seen == sorted(seen, reverse=True)
    sent_only = await api.get("/api/v1/deliveries?status=sent&since=2000-01-01")
    assert [item["id"] for item in sent_only.body["items"]] == [row["id"]]
    bad = await api.get("/api/v1/deliveries?cursor=nonsense")
    assert bad.status == 400 and bad.body["field"] == "cursor"
    # Past the 32-bit id columns: no row, and never PostgreSQL's overflow.
    assert (await api.get(f"/api/v1/deliveries/{2**31}")).status == 404
    assert (await api.get(f"/api/v1/events/{2**31}")).status == 404
    past = await api.get(f"/api/v1/audit?cursor={cursor_of(2**31)}")
    assert past.status == 400 and past.body["field"] == "cursor"
    system_view = await api.get("/api/v1/deliveries?limit=100", token="system")
    assert {item["tenant"] for item in system_view.body["items"]} == {"acme"}


async def test_audit_list_paging_export_and_fence(api: ApiClient, root: str) -> None:
    await api.request("PATCH", "/api/v1/tenants/acme", json_body={"name": "Acme Inc"}, token=root)
    await api.request(
        "PATCH", "/api/v1/tenants/globex", json_body={"name": "Globex Inc"}, token=root
    )
    renamed = await api.get("/api/v1/audit?action=tenant.rename&tenant=acme", token="system")
    [entry] = renamed.body["items"]
    assert entry["actor"] == "token:root" and entry["source"] == "api"
    assert entry["changes"]["name"] == {"before": "Acme Corp", "after": "Acme Inc"}

    everything = await api.get("/api/v1/audit?limit=1000", token="system")
    ids = [e["id"] for e in everything.body["items"]]
    first = await api.get("/api/v1/audit?limit=2", token="system")
    second = await api.get(
        f"/api/v1/audit?limit=2&cursor={first.body['next_cursor']}", token="system"
    )
    assert [e["id"] for e in first.body["items"] + second.body["items"]] == ids[:4]

    # A tenant token sees its tenant's entries only, in the list and the export.
    mine = await api.get("/api/v1/audit?limit=1000")
    assert mine.body["items"] and {e["tenant"] for e in mine.body["items"]} == {"acme"}
    assert (await api.get("/api/v1/audit?tenant=globex")).status == 403
    exported = await api.get("/api/v1/audit/export")
    assert exported.headers["Content-Type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in exported.text.splitlines()]
    assert [e["id"] for e in lines] == sorted(e["id"] for e in mine.body["items"])
    assert {e["tenant"] for e in lines} == {"acme"}
    everything_exported = await api.get("/api/v1/audit/export", token="system")
    assert len(everything_exported.text.splitlines()) == len(ids)
    assert (await api.get("/api/v1/audit?until=2000-01-01", token="system")).body["items"] == []
    assert (await api.get("/api/v1/audit?source=fax")).body["field"] == "source"
    assert (await api.get("/api/v1/audit?since=yesterday")).body["field"] == "since"
    # An age reaching before the year 1 is refused like any bad time, never an overflow.
    too_old = await api.get("/api/v1/deliveries?since=999999w")
    assert too_old.status == 400 and too_old.body["field"] == "since"
    empty_limit = await api.get("/api/v1/deliveries?limit=")
    assert empty_limit.status == 400 and empty_limit.body["field"] == "limit"


async def test_preview_and_settings_export_import(api: ApiClient, root: str) -> None:
    preview = "/api/v1/templates/QUEUE_CALL_LOST/preview"
    saved = await api.post(preview, {})
    assert saved.status == 200 and saved.body["custom"] is False and saved.body["unsaved"] is False
    unsaved = await api.post(
        preview, {"subject": "Lost: {{ caller }}", "data": {**QUEUE_CALL_LOST, "caller": "+1 555"}}
    )
    assert unsaved.status == 200, unsaved.body
    assert unsaved.body["subject"] == "Lost: +1 555" and unsaved.body["unsaved"] is True
    assert "+1 555" in unsaved.body["text"] + unsaved.body["html"]
    unsafe = await api.post(preview, {"body": "{{ ''.__class__ }}"})
    assert unsafe.status == 400 and unsafe.body["field"] == "body"
    assert (await api.post(preview, {"data": {"caller": 5}})).body["field"] == "data"
    assert (await api.post("/api/v1/templates/NOPE/preview", {})).status == 404

    exported = await api.get("/api/v1/export")
    assert exported.status == 200 and [t["slug"] for t in exported.body["tenants"]] == ["acme"]
    assert exported.body["system"] is None
    assert (await api.get("/api/v1/export?scope=all", token="system")).body["scope"] == "admin"
    assert (await api.get("/api/v1/export?scope=system")).status == 403
    assert (await api.post("/api/v1/import", exported.body)).status == 403
    dry = await api.post("/api/v1/import?dry_run=true", exported.body, token=root)
    assert dry.status == 200, dry.body
    assert dry.body["dry_run"] is True and dry.body["created"] == dry.body["updated"] == 0
    assert {item["outcome"] for item in dry.body["items"]} == {"unchanged"}
    sealed = await api.get("/api/v1/export", headers={"X-Mailbell-Passphrase": "long enough pass"})
    assert sealed.status == 200 and "encryption" in sealed.body
    unsealed = await api.post("/api/v1/import?dry_run=true", sealed.body, token=root)
    assert unsealed.status == 400 and "passphrase" in unsealed.body["error"]
    wrong = await api.post("/api/v1/import", {**exported.body, "mailbell_export": 99}, token=root)
    assert wrong.status == 400 and wrong.body["field"] == "mailbell_export"
