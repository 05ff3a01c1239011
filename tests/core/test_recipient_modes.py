"""Recipient modes, end to end: emit → outbox → worker → aiosmtpd, each copy parsed.

`to` puts every recipient in To: (one message); `bcc` sends one message whose To: is the empty
group `undisclosed-recipients:;`, the recipients only in the envelope; `individual` makes one
delivery per recipient, each with its own message, Message-ID, outcome and retries.
"""

from __future__ import annotations

from datetime import timedelta
from email.headerregistry import AddressHeader

import pytest

from core.catalog import sample
from core.mail.headers import UNDISCLOSED_RECIPIENTS
from core.models._common import utcnow
from core.pipeline.worker import Worker
from core.services.deliveries import retry_delivery
from tests.support.factories import TESTER, configure_tenant, emit_event, make_mail_server
from tests.support.recipient_modes import (
    ScriptedRcpt,
    deliveries,
    drain,
    parsed,
    set_owner,
)

RECIPIENTS = ["ann@acme.org", "bob@acme.org", "cid@acme.org"]
FROM = "PBX <pbx@acme.org>"


def _configure(session, ctx, tenant, srv, mode: str, **extra) -> None:
    configure_tenant(
        session,
        ctx.box,
        tenant,
        smtp=srv,
        server={"name": "out", "mail_from": FROM},
        recipients=RECIPIENTS,
        toggles=("notify_queue_call_lost", "notify_user_registration"),
    )
    set_owner(session, ctx.box, tenant, recipient_mode=mode, **extra)


def _addresses(header: AddressHeader | None) -> list[str]:
    if header is None:
        return []
    return [address.addr_spec for group in header.groups for address in group.addresses]


def _others_absent(data: bytes, keep: list[str]) -> None:
    """No recipient but those in `keep` appears anywhere in the message (header or body)."""
    text = data.decode("utf-8", "replace").lower()
    for address in RECIPIENTS:
        if address not in keep:
            assert address not in text, f"{address} leaked into a copy for {keep}"
            assert address.split("@")[0] + "@" not in text


async def test_to_mode_one_message_everyone_in_to(ctx, session, acme, smtp_servers) -> None:
    srv = smtp_servers()
    _configure(session, ctx, acme, srv, "to")
    [delivery] = emit_event(session, ctx.box, acme).deliveries
    assert delivery.target == ",".join(RECIPIENTS) and delivery.pending == RECIPIENTS
    await drain(ctx)
    [received] = srv.messages
    assert received.rcpt_tos == RECIPIENTS
    message = parsed(received)
    assert _addresses(message["To"]) == RECIPIENTS
    [row] = deliveries(ctx)
    assert row.status == "sent" and set(row.results) == set(RECIPIENTS)


async def test_bcc_hides_every_recipient(ctx, session, acme, smtp_servers) -> None:
    srv = smtp_servers(mode="starttls", auth=True)
    _configure(session, ctx, acme, srv, "bcc")
    [delivery] = emit_event(session, ctx.box, acme).deliveries
    assert delivery.pending == RECIPIENTS  # one delivery, one message, every recipient
    await drain(ctx)
    [received] = srv.messages
    assert received.tls and sorted(received.rcpt_tos) == RECIPIENTS  # the envelope has them
    message = parsed(received)
    assert message["To"] == UNDISCLOSED_RECIPIENTS
    assert [group.display_name for group in message["To"].groups] == ["undisclosed-recipients"]
    assert _addresses(message["To"]) == [] and message["Cc"] is None and message["Bcc"] is None
    _others_absent(received.data, keep=[])
    assert message["From"] == FROM and message["Message-ID"].endswith("@acme.org>")
    [row] = deliveries(ctx)
    assert row.status == "sent" and all(r["status"] == "sent" for r in row.results.values())


async def test_individual_one_private_copy_each(ctx, session, acme, smtp_servers) -> None:
    srv = smtp_servers(mode="starttls", auth=True)
    _configure(session, ctx, acme, srv, "individual")
    made = emit_event(session, ctx.box, acme).deliveries
    assert [(d.target, d.pending) for d in made] == [(a, [a]) for a in RECIPIENTS]
    assert len({d.message_id for d in made}) == 3
    await drain(ctx)
    received = sorted(srv.messages, key=lambda r: r.rcpt_tos)
    assert [r.rcpt_tos for r in received] == [[a] for a in RECIPIENTS]
    subjects = set()
    for copy, address in zip(received, RECIPIENTS, strict=True):
        message = parsed(copy)
        assert _addresses(message["To"]) == [address]
        _others_absent(copy.data, keep=[address])
        subjects.add(message["Subject"])
        assert sample("QUEUE_CALL_LOST")["caller"] in message.get_body(("plain",)).get_content()
    assert len(subjects) == 1  # one rendering, three copies
    rows = deliveries(ctx)
    assert {r.target: r.message_id for r in rows} == {
        c.rcpt_tos[0]: parsed(c)["Message-ID"] for c in received
    }
    assert [(r.status, list(r.results)) for r in rows] == [("sent", [a]) for a in RECIPIENTS]


async def test_individual_outcomes_and_retries_are_per_recipient(
    ctx, session, acme, smtp_servers
) -> None:
    ctx.settings.retry_base_s = 0.01
    handler = ScriptedRcpt(
        {"bob@acme.org": ["550 5.1.1 no such user"], "cid@acme.org": ["451 4.2.0 try later"]}
    )
    srv = smtp_servers(handler=handler)
    _configure(session, ctx, acme, srv, "individual")
    emit_event(session, ctx.box, acme)
    await drain(ctx)
    ann, bob, cid = deliveries(ctx)
    assert (ann.status, ann.attempts, ann.last_error) == ("sent", 1, None)
    assert bob.status == "failed" and "550 5.1.1" in bob.last_error
    assert bob.results == {"bob@acme.org": {"status": "failed", "reply": "550 5.1.1 no such user"}}
    assert (cid.status, cid.attempts) == ("sent", 2)  # retried alone
    assert handler.rcpts == {"ann@acme.org": 1, "bob@acme.org": 1, "cid@acme.org": 2}
    received = {r.rcpt_tos[0]: r for r in srv.messages}
    assert sorted(received) == ["ann@acme.org", "cid@acme.org"]
    assert received["cid@acme.org"].message_id == cid.message_id
    _others_absent(received["cid@acme.org"].data, keep=["cid@acme.org"])


async def test_bcc_retry_after_a_deferral_goes_to_the_pending_recipient_only(
    ctx, session, acme, smtp_servers
) -> None:
    ctx.settings.retry_base_s = 0.01
    handler = ScriptedRcpt({"cid@acme.org": ["451 4.2.0 try later"]})
    srv = smtp_servers(handler=handler)
    _configure(session, ctx, acme, srv, "bcc")
    emit_event(session, ctx.box, acme)
    await drain(ctx)
    first, second = srv.messages
    assert sorted(first.rcpt_tos) == ["ann@acme.org", "bob@acme.org"]
    assert second.rcpt_tos == ["cid@acme.org"]
    for copy in (first, second):
        assert parsed(copy)["To"] == UNDISCLOSED_RECIPIENTS
        _others_absent(copy.data, keep=[])
    [row] = deliveries(ctx)
    assert (row.status, row.attempts) == ("sent", 2)
    assert {a: r["status"] for a, r in row.results.items()} == dict.fromkeys(RECIPIENTS, "sent")


@pytest.mark.parametrize("mode", ["bcc", "individual"])
async def test_payload_addressed_mail_keeps_its_own_to(
    ctx, session, acme, smtp_servers, mode
) -> None:
    srv = smtp_servers()
    _configure(session, ctx, acme, srv, mode)
    data = {**sample("USER_CREATION"), "email": "new.user@acme.org"}
    [delivery] = emit_event(session, ctx.box, acme, event="USER_CREATION", data=data).deliveries
    assert delivery.target == "new.user@acme.org"
    await drain(ctx)
    [received] = srv.messages
    assert received.rcpt_tos == ["new.user@acme.org"]
    assert _addresses(parsed(received)["To"]) == ["new.user@acme.org"]
    _others_absent(received.data, keep=[])


@pytest.mark.parametrize(
    ("mode", "targets", "to"),
    [
        ("bcc", [",".join(RECIPIENTS)], [UNDISCLOSED_RECIPIENTS]),
        ("individual", RECIPIENTS, RECIPIENTS),
    ],
)
async def test_retry_of_a_never_rendered_delivery_follows_the_mode(
    ctx, session, acme, smtp_servers, mode, targets, to
) -> None:
    configure_tenant(session, ctx.box, acme, recipients=RECIPIENTS)
    set_owner(session, ctx.box, acme, recipient_mode=mode)
    made = emit_event(session, ctx.box, acme).deliveries
    assert [(d.target, d.status) for d in made] == [(t, "failed") for t in targets]
    assert all(d.last_error.startswith("not configured") for d in made)
    srv = smtp_servers()
    make_mail_server(session, ctx.box, acme, smtp=srv, mail_from=FROM)
    for delivery in made:
        retry_delivery(session=session, box=ctx.box, delivery_id=delivery.id, actor=TESTER)
    await drain(ctx)
    received = sorted(srv.messages, key=lambda r: r.rcpt_tos)
    assert [sorted(r.rcpt_tos) for r in received] == [t.split(",") for t in targets]
    assert [parsed(r)["To"] for r in received] == to
    for copy in received:
        _others_absent(copy.data, keep=copy.rcpt_tos if mode == "individual" else [])


async def test_system_recipients_individually(ctx, session, smtp_servers) -> None:
    srv = smtp_servers()
    make_mail_server(session, ctx.box, None, smtp=srv, mail_from="PBX <pbx@sys.org>")
    set_owner(
        session, ctx.box, None, recipients="root@sys.org,noc@sys.org", recipient_mode="individual"
    )
    made = emit_event(session, ctx.box, None, event="TRUNK_DISCONNECTED").deliveries
    assert [d.target for d in made] == ["root@sys.org", "noc@sys.org"]
    await drain(ctx)
    copies = {r.rcpt_tos[0]: parsed(r) for r in srv.messages}
    assert {a: _addresses(m["To"]) for a, m in copies.items()} == {
        "root@sys.org": ["root@sys.org"],
        "noc@sys.org": ["noc@sys.org"],
    }
    assert (
        b"noc@sys.org" not in next(r for r in srv.messages if r.rcpt_tos == ["root@sys.org"]).data
    )


def test_an_unknown_mode_is_refused_naming_the_field(session, ctx, acme) -> None:
    from core.errors import ValidationError

    with pytest.raises(ValidationError) as refused:
        set_owner(session, ctx.box, acme, recipient_mode="cc")
    assert refused.value.field == "recipient_mode" and "'cc'" in str(refused.value)


@pytest.mark.parametrize(("mode", "digests"), [("bcc", 1), ("individual", 3)])
async def test_digests_follow_the_mode(
    ctx, session, acme, smtp_servers, monkeypatch, mode, digests
):
    """A burst's digest is addressed as its single messages are: one undisclosed digest in
    `bcc`, one per recipient (each recipient's burst) in `individual`."""
    now = [utcnow()]
    monkeypatch.setattr("core.pipeline.emit_write.utcnow", lambda: now[0])
    monkeypatch.setattr("core.pipeline.outbox.utcnow", lambda: now[0])
    srv = smtp_servers()
    _configure(session, ctx, acme, srv, mode, **{"digest.QUEUE_CALL_LOST": "1/1m"})
    for caller in ("+15550000001", "+15550000002", "+15550000003"):
        emit_event(session, ctx.box, acme, data={**sample("QUEUE_CALL_LOST"), "caller": caller})
    worker = Worker(ctx)
    await worker.run_once()  # the singles; the digests wait for their window to close
    await worker.close()
    singles = len(srv.messages)
    now[0] += timedelta(seconds=61)
    await drain(ctx)
    copies = srv.messages[singles:]
    assert len(copies) == digests
    for copy in copies:
        message = parsed(copy)
        shown = copy.rcpt_tos if mode == "individual" else []
        assert _addresses(message["To"]) == shown and len(copy.rcpt_tos) == 3 // digests
        if mode == "bcc":
            assert message["To"] == UNDISCLOSED_RECIPIENTS
        _others_absent(copy.data, keep=shown)
        text = message.get_body(("plain",)).get_content()
        assert "+15550000002" in text and "+15550000003" in text
        assert "+15550000001" not in text  # sent on its own
        assert message["Auto-Submitted"] == "auto-generated"
        assert message["List-Id"].endswith("<queue-call-lost.acme.mailbell.acme.org>")
