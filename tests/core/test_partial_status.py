"""`partial`: some recipients accepted a message, the others refused it for good (5xx).

Against a real aiosmtpd server refusing one recipient of three, through the real worker; the
status is then found by the delivery log's filter and counted by the metrics, and a retry is
refused (the delivery is final: a re-send makes a new copy)."""

from __future__ import annotations

import pytest

from core import metrics
from core.errors import ValidationError
from core.services.deliveries import delivery_log, read_delivery, retry_delivery
from core.vocabulary import DeliveryStatus
from tests.support.factories import emit_events
from tests.support.resend import REFUSED, drain, row, three_recipients
from tests.support.smtp_handlers import FaultHandler


@pytest.fixture
def refusing(smtp_servers):
    """A server that refuses b@acme.org for good and accepts the others."""
    return smtp_servers(handler=FaultHandler(rcpt={"b@acme.org": REFUSED}))


def test_one_of_three_refused_is_partial(cli, ctx, session, actor, acme, refusing) -> None:
    three_recipients(session, ctx, acme, actor, refusing)
    [delivery_id] = emit_events(session, ctx.box, acme, 1)
    worked = cli("worker", "--once")
    assert worked.out == "claimed 1: 1 sent, 0 to retry, 0 failed (1 partial)\n"
    delivery = row(ctx, delivery_id)
    assert delivery.status == DeliveryStatus.PARTIAL
    assert delivery.pending == []
    assert delivery.results["b@acme.org"] == {"status": "failed", "reply": REFUSED}
    assert {delivery.results[a]["status"] for a in ("a@acme.org", "c@acme.org")} == {"sent"}
    assert delivery.last_error == f"1 of 3 recipient(s) refused: b@acme.org: {REFUSED}"
    [received] = refusing.messages
    assert sorted(received.rcpt_tos) == ["a@acme.org", "c@acme.org"]
    detail = read_delivery(session=session, delivery_id=delivery_id)
    assert [a.outcome for a in detail.history] == ["partial"]
    assert detail.sent_at is not None  # it was sent, to some


async def test_every_recipient_refused_is_still_failed(ctx, session, actor, acme, smtp_servers):
    srv = smtp_servers(
        handler=FaultHandler(rcpt={a: REFUSED for a in ("a@acme.org", "b@acme.org", "c@acme.org")})
    )
    three_recipients(session, ctx, acme, actor, srv)
    [delivery_id] = emit_events(session, ctx.box, acme, 1)
    await drain(ctx)
    assert row(ctx, delivery_id).status == DeliveryStatus.FAILED


async def test_reached_then_given_up_is_partial(ctx, session, actor, acme, smtp_servers) -> None:
    """b@ deferred (451) while a@ and c@ got it; when the retries end, the delivery is final
    with some recipients reached: partial, not failed."""
    srv = smtp_servers(handler=FaultHandler(rcpt={"b@acme.org": "451 4.2.1 mailbox busy"}))
    three_recipients(session, ctx, acme, actor, srv)
    [delivery_id] = emit_events(session, ctx.box, acme, 1)
    ctx.settings.retry_max_age_s = 0.0  # the first retry is already too late
    await drain(ctx)
    delivery = row(ctx, delivery_id)
    assert delivery.status == DeliveryStatus.PARTIAL
    assert delivery.results["b@acme.org"]["status"] == "failed"
    assert "gave up" in (delivery.last_error or "") and "451 4.2.1" in delivery.last_error


async def test_filter_metrics_and_retry_refusal(ctx, session, actor, acme, refusing) -> None:
    three_recipients(session, ctx, acme, actor, refusing)
    [first_id, second_id] = emit_events(session, ctx.box, acme, 2)
    await drain(ctx)
    assert row(ctx, first_id).status == row(ctx, second_id).status == DeliveryStatus.PARTIAL
    ids = [d.id for d in delivery_log(session=session, status="partial")]
    assert ids == [second_id, first_id]
    assert delivery_log(session=session, status="sent") == []
    # Every status of the vocabulary is a valid filter, held (digests) included.
    for status in DeliveryStatus:
        delivery_log(session=session, status=str(status))
    with pytest.raises(ValidationError) as refused:
        delivery_log(session=session, status="bounced")
    assert refused.value.field == "status" and "partial" in str(refused.value)

    gauges = metrics.outbox_gauges(session)
    assert gauges.by_status_channel[("partial", "email")] == 2
    text = metrics.render(gauges)
    assert 'mailbell_deliveries{status="partial",channel="email"} 2' in text
    assert 'mailbell_deliveries{status="held",channel="email"} 0' in text

    with pytest.raises(ValidationError) as retried:
        retry_delivery(session=session, box=ctx.box, delivery_id=first_id, actor=actor)
    message = str(retried.value)
    assert retried.value.field == "status"
    assert f"delivery {first_id} is partial" in message and "final" in message
    assert "resend" in message
    assert row(ctx, first_id).status == DeliveryStatus.PARTIAL  # unchanged
