"""The headers that keep mailbell's mail out of loops and let recipients filter it, on every
kind of message (an event's, a welcome with its inline QR code, a system event's, a test email,
each copy of `individual` mode), checked on the messages an aiosmtpd server captured."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from core.catalog import sample
from core.mail.headers import LIST_ID_MAX, list_identifier
from core.rendering import render, render_message
from core.services.mail_tests import send_test_email
from tests.support.factories import configure_tenant, emit_event, make_mail_server
from tests.support.recipient_modes import drain, header_block, parsed, set_owner

PASSWORD = "correct-horse"  # the capture server's AUTH password (tests/support/smtp_servers.py)


def _automatic(message: EmailMessage, list_id: str, domain: str) -> None:
    """Each header once, with its value; the Message-ID in the From domain."""
    for name in ("Auto-Submitted", "X-Auto-Response-Suppress", "List-Id", "Message-ID"):
        assert len(message.get_all(name) or []) == 1, name
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Auto-Response-Suppress"] == "All"
    assert message["List-Id"] == list_id
    assert message["From"].addresses[0].domain == domain
    assert message["Message-ID"].endswith(f"@{domain}>")


def _nothing_private(received, *others: str) -> None:
    head = header_block(received)
    assert PASSWORD not in head
    list_id = parsed(received)["List-Id"]
    assert "@" not in list_id
    for other in others:
        assert other not in list_id


@pytest.mark.parametrize("mode", ["to", "bcc", "individual"])
async def test_event_email(ctx, session, acme, globex, smtp_servers, mode) -> None:
    srv = smtp_servers(mode="starttls", auth=True)
    for tenant in (acme, globex):
        configure_tenant(
            session,
            ctx.box,
            tenant,
            smtp=srv,
            server={"name": "out", "mail_from": f"PBX <pbx@{tenant.slug}.org>"},
            recipients=[f"ops@{tenant.slug}.org", f"noc@{tenant.slug}.org"],
        )
        set_owner(session, ctx.box, tenant, recipient_mode=mode)
        emit_event(session, ctx.box, tenant)
    await drain(ctx)
    copies = 2 if mode == "individual" else 1
    assert len(srv.messages) == 2 * copies
    for received in srv.messages:
        slug = received.rcpt_tos[0].split("@")[1].removesuffix(".org")
        other = "globex" if slug == "acme" else "acme"
        _automatic(
            parsed(received),
            f"mailbell QUEUE_CALL_LOST {slug} <queue-call-lost.{slug}.mailbell.{slug}.org>",
            f"{slug}.org",
        )
        _nothing_private(received, other, "ops", "noc")


async def test_welcome_email_with_its_qr_code(ctx, session, acme, smtp_servers) -> None:
    srv = smtp_servers()
    configure_tenant(
        session,
        ctx.box,
        acme,
        smtp=srv,
        server={"name": "out", "mail_from": "alerts@acme.org"},
        toggles=("notify_user_registration",),
    )
    data = {**sample("USER_CREATION"), "email": "new.user@example.net"}
    emit_event(session, ctx.box, acme, event="USER_CREATION", data=data)
    await drain(ctx)
    [received] = srv.messages
    message = parsed(received)
    _automatic(
        message, "mailbell USER_CREATION acme <user-creation.acme.mailbell.acme.org>", "acme.org"
    )
    assert message.get_content_type() == "multipart/alternative"
    assert any(part.get_content_type() == "image/png" for part in message.walk())
    _nothing_private(received, "new.user", data["password"])


async def test_system_event(ctx, session, smtp_servers) -> None:
    srv = smtp_servers(mode="starttls", auth=True)
    make_mail_server(session, ctx.box, None, smtp=srv, mail_from="PBX <pbx@sys.example.org>")
    set_owner(session, ctx.box, None, recipients="root@sys.example.org")
    emit_event(session, ctx.box, None, event="DISK_LOW")
    await drain(ctx)
    [received] = srv.messages
    _automatic(
        parsed(received),
        "mailbell DISK_LOW <disk-low.mailbell.sys.example.org>",
        "sys.example.org",
    )
    _nothing_private(received, "root")


@pytest.mark.parametrize("owner", ["acme", None])
async def test_test_email(ctx, session, acme, smtp_servers, owner) -> None:
    srv = smtp_servers(mode="starttls", auth=True)
    tenant = acme if owner else None
    make_mail_server(session, ctx.box, tenant, smtp=srv, mail_from="Ops <ops@mail.acme.org>")
    result = await send_test_email(
        ctx=ctx, tenant=tenant, recipient="someone@example.net", subject="Hi", content="Works."
    )
    assert result.ok, result
    [received] = srv.messages
    owner_label = "acme." if owner else ""
    description = "mailbell TEST_EMAIL" + (" acme" if owner else "")
    _automatic(
        parsed(received),
        f"{description} <test-email.{owner_label}mailbell.mail.acme.org>",
        "mail.acme.org",
    )
    assert received.message_id == result.message_id
    _nothing_private(received, "someone")


def test_every_rendered_form_carries_them() -> None:
    """The fast serialiser (what emit stores) and the EmailMessage form agree."""
    data = sample("QUEUE_SLA")
    built = render_message("QUEUE_SLA", data, server_from="pbx@acme.org", tenant="acme")
    _automatic(built, "mailbell QUEUE_SLA acme <queue-sla.acme.mailbell.acme.org>", "acme.org")
    copy = render("QUEUE_SLA", data, server_from="pbx@acme.org").addressed(["x@acme.org"])
    assert copy.list_id == "mailbell QUEUE_SLA <queue-sla.mailbell.acme.org>"
    assert copy.message_id.endswith("@acme.org>") and copy.to == ("x@acme.org",)


def test_a_list_id_too_long_for_rfc_2919_drops_the_domain() -> None:
    slug = "a" * 63
    domain = ".".join(["d" * 60] * 4)
    identifier = list_identifier("QUEUE_CALLBACK_FAILED", slug, domain)
    assert identifier == f"queue-callback-failed.{slug}.mailbell.localhost"
    assert len(list_identifier("QUEUE_SLA", "acme", "acme.org")) <= LIST_ID_MAX
