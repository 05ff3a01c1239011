"""`/api/v1/slack/channels`: the owner's linked channels and setting the events one mirrors,
with the slash command's validation, the token's actor in the audit, and the tenant fence."""

from __future__ import annotations

from sqlmodel import col, select

from core.context import Context
from core.models.audit import AuditEntry
from core.services.tenants import get_tenant
from tests.api.conftest import ApiClient
from tests.support.slack_api import TEAM_ID
from tests.support.slack_health import route_channel
from tests.support.tokens import make_token

ROUTES = f"/api/v1/slack/channels/{TEAM_ID}/C0ACME/routes"


async def test_list_set_routes_and_the_fences(api: ApiClient, ctx: Context) -> None:
    route_channel(ctx, "acme", "C0ACME", ("queue_call_lost",))
    mine = {"team_id": TEAM_ID, "channel_id": "C0ACME", "tenant": "acme"}
    listed = await api.get("/api/v1/slack/channels")
    assert listed.status == 200
    assert listed.body == {"items": [{**mine, "events": ["QUEUE_CALL_LOST"]}]}
    assert (await api.get("/api/v1/slack/channels", token="globex")).body == {"items": []}
    assert (await api.get("/api/v1/slack/channels", token="system")).body == listed.body

    put = await api.request(
        "PUT", ROUTES, json_body={"events": ["queue_sla_breached", "QUEUE_CALLBACK"]}
    )
    assert put.status == 200, put.body
    assert put.body == {**mine, "events": ["QUEUE_SLA", "QUEUE_CALLBACK"]}
    again = await api.get("/api/v1/slack/channels")
    assert again.body["items"] == [put.body]
    with ctx.session() as session:
        audited = session.exec(
            select(AuditEntry.action, AuditEntry.actor).order_by(col(AuditEntry.id).desc()).limit(2)
        ).all()
    assert sorted(audited) == [("slack.route", "token:acme-ci"), ("slack.unroute", "token:acme-ci")]
    everything = await api.request("PUT", ROUTES, json_body={"events": ["all"]})
    assert everything.body["events"] == ["*"]
    # what a GET shows, put back, changes nothing
    assert (await api.request("PUT", ROUTES, json_body={"events": ["*"]})).body == everything.body

    unknown = await api.request("PUT", ROUTES, json_body={"events": ["queue_sla_breached", "nope"]})
    assert (unknown.status, unknown.body["field"]) == (400, "events")
    system_event = await api.request("PUT", ROUTES, json_body={"events": ["system_mail_health"]})
    assert (system_event.status, system_event.body["field"]) == (400, "events")
    assert (await api.get("/api/v1/slack/channels")).body["items"][0]["events"] == ["*"]
    foreign = await api.request("PUT", ROUTES, json_body={"events": []}, token="globex")
    assert foreign.status == 404
    by_system = await api.request("PUT", ROUTES, json_body={"events": ["system_mail_health"]},
                                  token="system")  # fmt: skip
    assert by_system.body["events"] == ["SYSTEM_MAIL_HEALTH"]
    with ctx.session() as session:
        reader = make_token(session, get_tenant(session=session, slug="acme"), scopes=["read"])
    refused = await api.request("PUT", ROUTES, json_body={"events": []}, token=reader)
    assert (refused.status, refused.body["scope"]) == (403, "write")
    both = await api.request("PUT", ROUTES, json_body={"events": ["all"]})
    assert both.body["events"] == ["SYSTEM_MAIL_HEALTH", "*"]
    narrowed = await api.request("PUT", ROUTES, json_body={"events": ["queue_sla_breached"]})
    assert narrowed.body["events"] == ["SYSTEM_MAIL_HEALTH", "QUEUE_SLA"]
    none = await api.request("PUT", ROUTES, json_body={"events": []})
    # the system admin's system event stays: a tenant token could not route it back
    assert none.body["events"] == ["SYSTEM_MAIL_HEALTH"]
