"""The delivery log's queries: keyset pages without the encrypted message, attempts in order."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func
from sqlmodel import select

from core.errors import ValidationError
from core.models.delivery import Delivery, DeliveryAttempt, DeliveryContent
from core.pipeline.contents import message_of
from core.services.deliveries import list_attempts, list_deliveries
from core.services.tenants import delete_tenant
from tests.support.outbox import queue_deliveries


@pytest.fixture
def ids(ctx, session, actor) -> list[int]:
    return queue_deliveries(ctx, session, actor, 7)


def test_a_list_never_reads_the_message(ctx, ids) -> None:
    statements: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(ctx.engine, "before_cursor_execute", seen)
    try:
        with ctx.session() as session:
            page = list_deliveries(session=session, limit=5)
            assert [d.status for d in page] == ["queued"] * 5
            assert all(d.target for d in page)
    finally:
        event.remove(ctx.engine, "before_cursor_execute", seen)
    assert [s for s in statements if "FROM delivery " in s or s.endswith("FROM delivery")]
    assert not [s for s in statements if "delivery_content" in s]


def test_keyset_pages(ctx, ids) -> None:
    with ctx.session() as session:
        first = [d.id for d in list_deliveries(session=session, limit=3)]
        second = [d.id for d in list_deliveries(session=session, before_id=first[-1], limit=3)]
        third = [d.id for d in list_deliveries(session=session, before_id=second[-1], limit=3)]
        assert first + second + third == sorted(ids, reverse=True)
        assert list_deliveries(session=session, before_id=third[-1], limit=3) == []


@pytest.mark.parametrize("limit", [0, 1001, -1])
def test_limit_is_bounded(session, limit) -> None:
    with pytest.raises(ValidationError) as caught:
        list_deliveries(session=session, limit=limit)
    assert caught.value.field == "limit"


def test_attempts_oldest_first_and_per_delivery(session, ids) -> None:
    first, second = ids[:2]
    session.add_all(
        [
            DeliveryAttempt(delivery_id=first, outcome="retry", detail="451 later", worker="w"),
            DeliveryAttempt(delivery_id=second, outcome="failed", detail="554 no", worker="w"),
            DeliveryAttempt(delivery_id=first, outcome="sent", detail="250 ok", worker="w"),
        ]
    )
    session.commit()
    assert [a.outcome for a in list_attempts(session=session, delivery_id=first)] == [
        "retry",
        "sent",
    ]
    assert [a.detail for a in list_attempts(session=session, delivery_id=second)] == ["554 no"]
    assert list_attempts(session=session, delivery_id=ids[2]) == []


def test_inbound_mirrors_are_listed_by_their_event_name(session, ids) -> None:
    from core.models.delivery import Delivery, EventRecord

    record = EventRecord(tenant_id=None, name="INBOUND_EMAIL", payload={})
    session.add(record)
    session.flush()
    session.add(Delivery(event_id=record.id, event="INBOUND_EMAIL", channel="slack", target="C1"))
    session.commit()
    [mirror] = list_deliveries(session=session, event="inbound_email")
    assert (mirror.event, mirror.target) == ("INBOUND_EMAIL", "C1")
    assert len(list_deliveries(session=session, event="QUEUE_CALL_LOST")) == len(ids)
    with pytest.raises(ValidationError) as caught:
        list_deliveries(session=session, event="NOPE")
    assert caught.value.field == "event"


def test_deleting_a_tenant_deletes_its_messages(ctx, ids, actor) -> None:
    with ctx.session() as session:
        assert message_of(session, ids[0])  # emit stored the message apart from the row
        delete_tenant(session=session, slug="acme", actor=actor)
    with ctx.session() as session:
        assert session.exec(select(func.count()).select_from(DeliveryContent)).one() == 0
        assert session.exec(select(func.count()).select_from(Delivery)).one() == 0
