"""`mailbell deliveries resend ID [--to ADDRESS]`: a new copy of a finished delivery, queued
through the outbox and sent by the real worker to a real aiosmtpd server."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from core.catalog import sample
from core.models.delivery import Delivery
from core.services.audit import list_entries
from core.services.deliveries import read_message
from core.services.resend import resend_delivery
from core.vocabulary import DeliveryStatus
from tests.support.factories import emit_event, emit_events, make_webhook
from tests.support.resend import REFUSED, body_of, drain, parsed, row, three_recipients
from tests.support.smtp_handlers import FaultHandler

NEW_USER = "new.user@acme.example"


def _one_line_error(result) -> str:
    assert result.code == 1 and result.out == ""
    [line] = result.err.splitlines()
    return line


async def test_resend_a_sent_welcome_to_another_address(
    cli, ctx, session, actor, acme, smtp_server
) -> None:
    three_recipients(session, ctx, acme, actor, smtp_server)
    data = {**sample("USER_CREATION"), "email": NEW_USER, "password": "s3cret-Pass!"}
    [original] = emit_event(session, ctx.box, acme, "USER_CREATION", data).deliveries
    await drain(ctx)
    [lost] = smtp_server.handler.wait_for(1)
    assert row(ctx, original.id).status == DeliveryStatus.SENT

    result = cli("deliveries", "resend", str(original.id), "--to", "Other.User@acme.example")
    assert result.code == 0, result.err
    copy_id = int(result.out.strip())
    assert copy_id != original.id
    await drain(ctx)
    [_, again] = smtp_server.handler.wait_for(2)

    assert again.rcpt_tos == ["Other.User@acme.example"]
    first, second = parsed(lost.data), parsed(again.data)
    assert second["To"] == "Other.User@acme.example" and first["To"] == NEW_USER
    assert second["Message-ID"] != first["Message-ID"]
    assert second["Message-ID"].endswith("@acme.org>")  # the From domain
    assert second["Subject"] == first["Subject"] and second["From"] == first["From"]
    assert body_of(again.data) == body_of(lost.data)  # the very message, password included

    copy = row(ctx, copy_id)
    assert (copy.status, copy.resent_from, copy.event_id) == ("sent", original.id, copy.event_id)
    assert copy.event_id == row(ctx, original.id).event_id and copy.tenant_id == acme.id
    assert copy.message_id == second["Message-ID"]
    shown = json.loads(cli("deliveries", "show", str(copy_id), "--json").out)
    assert shown["resent_from"] == original.id and shown["status"] == "sent"
    [entry] = [e for e in list_entries(session=session) if e.action == "delivery.resend"]
    assert (entry.target, entry.fields, entry.tenant) == (f"delivery:{original.id}", ["to"], "acme")
    assert "Other.User" not in json.dumps(entry.model_dump(mode="json"))  # names, not values


async def test_resend_a_partial_one_to_its_recipients(ctx, session, actor, acme, smtp_servers):
    srv = smtp_servers(handler=FaultHandler(rcpt={"b@acme.org": REFUSED}))
    three_recipients(session, ctx, acme, actor, srv)
    [original_id] = emit_events(session, ctx.box, acme, 1)
    await drain(ctx)
    assert row(ctx, original_id).status == DeliveryStatus.PARTIAL
    srv.handler.rcpt_replies.clear()  # b@'s mailbox was fixed meanwhile

    copy = resend_delivery(session=session, box=ctx.box, delivery_id=original_id, actor=actor)
    assert (copy.status, copy.target) == ("queued", "a@acme.org,b@acme.org,c@acme.org")
    await drain(ctx)
    [lost, again] = srv.handler.wait_for(2)
    assert sorted(again.rcpt_tos) == ["a@acme.org", "b@acme.org", "c@acme.org"]
    assert parsed(again.data)["To"] == parsed(lost.data)["To"]
    assert again.message_id != lost.message_id
    assert body_of(again.data) == body_of(lost.data)
    assert row(ctx, copy.id).status == DeliveryStatus.SENT
    assert row(ctx, original_id).status == DeliveryStatus.PARTIAL  # the original is kept as it was


async def test_resend_a_suppressed_one_renders_it_now(cli, ctx, session, actor, acme, smtp_server):
    three_recipients(session, ctx, acme, actor, smtp_server, toggles=())
    [original] = emit_event(session, ctx.box, acme, "QUEUE_SLA").deliveries
    assert original.status == DeliveryStatus.SUPPRESSED
    assert read_message(session=session, box=ctx.box, delivery_id=original.id) is None
    subject = ["--subject", "SLA again: {{ queue_name }}"]
    assert cli("template", "set", "QUEUE_SLA", "--tenant", "acme", *subject).code == 0

    result = cli("deliveries", "resend", str(original.id))
    assert result.code == 0, result.err
    await drain(ctx)
    [received] = smtp_server.handler.wait_for(1)
    assert sorted(received.rcpt_tos) == ["a@acme.org", "b@acme.org", "c@acme.org"]
    assert received.subject.startswith("SLA again: ")  # today's template
    assert row(ctx, int(result.out)).status == DeliveryStatus.SENT


async def test_resend_a_held_one_sends_it_alone(cli, ctx, session, actor, acme, smtp_server):
    """An event held for a digest (its window still open) can go out on its own at once."""
    three_recipients(session, ctx, acme, actor, smtp_server)
    policy = "digest.QUEUE_CALL_LOST=1/10m"
    assert cli("settings", "set", "--tenant", "acme", policy).code == 0
    [single] = emit_event(session, ctx.box, acme).deliveries
    [held] = [d for d in emit_event(session, ctx.box, acme).deliveries if d.status == "held"]
    assert single.status == "queued" and row(ctx, held.id).digest_id is not None
    result = cli("deliveries", "resend", str(held.id))
    assert result.code == 0, result.err
    await drain(ctx)  # the single, and the copy; the digest waits for its window to close
    [_, again] = smtp_server.handler.wait_for(2)
    assert sorted(again.rcpt_tos) == ["a@acme.org", "b@acme.org", "c@acme.org"]
    held_message, _ = read_message(session=session, box=ctx.box, delivery_id=held.id)
    assert body_of(again.data) == body_of(held_message)
    assert row(ctx, int(result.out)).status == DeliveryStatus.SENT
    assert row(ctx, held.id).status == DeliveryStatus.HELD  # still listed in its digest


async def test_resend_a_webhook_names_its_own_delivery_id(ctx, session, actor, acme) -> None:
    make_webhook(session, ctx.box, acme, "http://127.0.0.1:9/hook")
    emitted = emit_event(session, ctx.box, acme, "VOICEMAIL_RECEIVED").deliveries
    original = next(d for d in emitted if d.channel == "webhook")
    with ctx.session() as other:  # as if the receiver had answered 410
        failed = other.get(Delivery, original.id)
        failed.status = DeliveryStatus.FAILED
        other.add(failed)
        other.commit()
    copy = resend_delivery(session=session, box=ctx.box, delivery_id=original.id, actor=actor)
    assert (copy.channel, copy.target, copy.status) == ("webhook", original.target, "queued")
    body, _ = read_message(session=session, box=ctx.box, delivery_id=copy.id)
    sent, _ = read_message(session=session, box=ctx.box, delivery_id=original.id)
    assert json.loads(body)["delivery_id"] == copy.id
    assert json.loads(sent)["delivery_id"] == original.id
    assert json.loads(body)["data"] == json.loads(sent)["data"]


@pytest.fixture
def finished(ctx, session, actor, acme, smtp_server) -> int:
    three_recipients(session, ctx, acme, actor, smtp_server, toggles=())
    [delivery] = emit_event(session, ctx.box, acme, "QUEUE_SLA").deliveries
    return delivery.id


def test_unknown_id_exits_1_with_one_line(cli, finished, db_dump) -> None:
    before = db_dump()
    assert _one_line_error(cli("deliveries", "resend", "999999")) == (
        "error: delivery 999999 does not exist"
    )
    assert db_dump() == before


@pytest.mark.parametrize(
    ("to", "words"),
    [("not-an-address", "to: 'not-an-address' is not a valid email address"), ("", "to: ")],
)
def test_bad_address_exits_1_naming_the_field(cli, finished, db_dump, to, words) -> None:
    before = db_dump()
    assert _one_line_error(cli("deliveries", "resend", str(finished), "--to", to)).startswith(
        f"error: {words}"
    )
    assert db_dump() == before


def test_unfinished_and_non_email_are_refused(cli, ctx, session, acme, finished) -> None:
    make_webhook(session, ctx.box, acme, "http://127.0.0.1:9/hook")
    deliveries = emit_event(session, ctx.box, acme, "VOICEMAIL_RECEIVED").deliveries
    hook = next(d for d in deliveries if d.channel == "webhook")
    line = _one_line_error(cli("deliveries", "resend", str(hook.id), "--to", "x@acme.org"))
    assert line.startswith("error: to: ") and "webhook delivery" in line
    line = _one_line_error(cli("deliveries", "resend", str(hook.id)))
    assert line.startswith("error: status: ") and "is queued" in line
    with ctx.session() as other:
        assert other.exec(select(Delivery).where(Delivery.resent_from.is_not(None))).all() == []
