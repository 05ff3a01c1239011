"""`/api/webhooks`: list, create, delete and test for the token's owner; 400 naming the field,
404 for another owner's id; one event through the worker to a receiver checking the signature."""

from __future__ import annotations

import pytest

from core.context import Context
from core.models.delivery import Delivery
from core.pipeline.worker import Worker
from core.services.tenants import get_tenant
from tests.api.conftest import QUEUE_CALL_LOST, ApiClient
from tests.support.factories import configure_tenant
from tests.support.receiver_thread import webhook_receiver

HOOKS = "/api/webhooks"
SECRET = "shared-with-the-receiver"


async def _create(api: ApiClient, body: dict, token: str = "acme", query: str = "") -> dict:
    answer = await api.post(HOOKS + query, body, token=token)
    assert answer.status == 201, answer.body
    return answer.body


async def test_create_list_delete_and_the_secret_is_never_returned(api: ApiClient) -> None:
    with webhook_receiver() as receiver:  # 127.0.0.1: inside the tests' tenant fence
        url = receiver.url
    created = await _create(api, {"url": url, "secret": SECRET, "events": ["queue_call_lost"]})
    assert created["url"] == url and created["tenant"] == "acme"
    assert created["events"] == ["QUEUE_CALL_LOST"] and created["has_secret"] is True
    listed = await api.get(HOOKS)
    assert listed.status == 200 and [h["id"] for h in listed.body] == [created["id"]]
    assert SECRET not in listed.text and "secret" not in listed.body[0]

    assert (await api.get(HOOKS, token="globex")).body == []
    assert (await api.get(HOOKS, token="system")).body == []  # the system's own, none yet
    assert [h["id"] for h in (await api.get(HOOKS + "?tenant=acme", token="system")).body] == [
        created["id"]
    ]

    gone = await api.delete(f"{HOOKS}/{created['id']}")
    assert gone.status == 200 and gone.body["id"] == created["id"]
    assert (await api.get(HOOKS)).body == []
    again = await api.delete(f"{HOOKS}/{created['id']}")
    assert again.status == 404


async def test_another_owners_id_is_404_and_stays(api: ApiClient) -> None:
    with webhook_receiver() as receiver:
        created = await _create(api, {"url": receiver.url})
    path = f"{HOOKS}/{created['id']}"
    for token, query in (("globex", ""), ("system", ""), ("system", "?tenant=globex")):
        assert (await api.delete(path + query, token=token)).status == 404
        assert (await api.post(path + "/test" + query, token=token)).status == 404
    assert [h["id"] for h in (await api.get(HOOKS)).body] == [created["id"]]


@pytest.mark.parametrize("ident", ["0", "abc", "99999", "2147483648", "9" * 19, "9" * 30, "-1"])
async def test_ids_that_name_no_webhook_are_404(api: ApiClient, ident: str) -> None:
    assert (await api.delete(f"{HOOKS}/{ident}")).status == 404
    assert (await api.post(f"{HOOKS}/{ident}/test")).status == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "url"),
        ({"url": 5}, "url"),
        ({"url": "ftp://127.0.0.1/"}, "url"),
        ({"url": "http://u:p@127.0.0.1/"}, "url"),
        ({"url": "https://hooks.example.org/"}, "url"),  # outside the tenant fence
        ({"url": "http://127.0.0.1/", "events": "QUEUE_CALL_LOST"}, "events"),
        ({"url": "http://127.0.0.1/", "events": [1]}, "events"),
        ({"url": "http://127.0.0.1/", "events": ["NO_SUCH_EVENT"]}, "events"),
        ({"url": "http://127.0.0.1/", "events": ["DISK_LOW"]}, "events"),  # a system event
        ({"url": "http://127.0.0.1/", "secret": 12345678}, "secret"),
        ({"url": "http://127.0.0.1/", "secret": "x" * 257}, "secret"),
        ({"url": "http://127.0.0.1/", "colour": "red"}, "colour"),
    ],
)
async def test_bad_bodies_are_400_naming_the_field(api: ApiClient, body: dict, field: str) -> None:
    answer = await api.post(HOOKS, body)
    assert answer.status == 400, answer.body
    assert answer.body["field"] == field
    assert "12345678" not in answer.text
    assert (await api.get(HOOKS)).body == []


async def test_a_system_token_is_not_fenced_and_routes_system_events(api: ApiClient) -> None:
    created = await _create(
        api, {"url": "https://hooks.example.org/ops", "events": ["DISK_LOW"]}, token="system"
    )
    assert created["tenant"] is None and created["events"] == ["DISK_LOW"]
    answer = await api.post(
        HOOKS + "?tenant=acme", {"url": "https://hooks.example.org/acme"}, token="system"
    )
    assert answer.status == 201 and answer.body["tenant"] == "acme"


async def test_test_posts_a_signed_sample(api: ApiClient) -> None:
    with webhook_receiver(SECRET, answers=[200, 500]) as receiver:
        created = await _create(api, {"url": receiver.url, "secret": SECRET})
        ok = await api.post(f"{HOOKS}/{created['id']}/test")
        failed = await api.post(f"{HOOKS}/{created['id']}/test")
        [first, _] = receiver.wait_for(2)
    assert ok.status == 200 and ok.body["ok"] is True and ok.body["status"] == 200
    assert failed.status == 200 and failed.body["ok"] is False and failed.body["status"] == 500
    assert first.verified is True
    assert first.json["tenant"] == "acme" and first.json["delivery_id"] is None


async def test_an_event_reaches_the_receiver_through_the_worker(
    api: ApiClient, ctx: Context
) -> None:
    with ctx.session() as session:
        configure_tenant(session, ctx.box, get_tenant(session=session, slug="acme"))
    with webhook_receiver(SECRET) as receiver:
        await _create(api, {"url": receiver.url, "secret": SECRET, "events": ["QUEUE_CALL_LOST"]})
        accepted = await api.post(
            "/api/events", {"event": "QUEUE_CALL_LOST", "data": QUEUE_CALL_LOST}
        )
        assert accepted.status == 202, accepted.body
        [row] = [d for d in accepted.body["deliveries"] if d["channel"] == "webhook"]
        assert row["status"] == "queued" and row["tenant"] == "acme"
        worker = Worker(ctx)
        try:
            await worker.run_once()
        finally:
            await worker.close()
        [post] = receiver.wait_for(1)
    assert post.verified is True
    assert post.json["delivery_id"] == row["id"] and post.json["event"] == "QUEUE_CALL_LOST"
    assert post.json["data"]["queue_name"] == QUEUE_CALL_LOST["queue_name"]
    with ctx.session() as session:
        assert session.get(Delivery, row["id"]).status == "sent"
