"""Dates read in the owner's zone and locale, through the real pipeline (emit → outbox → worker →
aiosmtpd), on the nights the clocks change: a Paris tenant in French the night Paris moves to
summer time, and a tenant that set nothing following the system's zone (New York) the night New
York does. The captured messages are parsed back and read as a recipient would."""

from __future__ import annotations

import asyncio
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from core.catalog import sample
from core.models.tenancy import NotificationSettingsUpdate, Tenant
from core.pipeline.worker import Worker
from core.rendering import default_template
from core.services.notifications import get_notification_settings, update_notification_settings
from tests.support.factories import configure_tenant, emit_event, make_tenant

EVENT = "QUEUE_SLA"
TOGGLE = "notify_queue_sla_breached"


def _configure(session, ctx, tenant: Tenant, actor, srv, **locality: str) -> None:
    """`tenant` sends QUEUE_SLA through `srv` to ops@<slug>.org, in `locality` if given."""
    configure_tenant(
        session,
        ctx.box,
        tenant,
        smtp=srv,
        server={"name": "test", "mail_from": f"PBX <pbx@{tenant.slug}.org>"},
        recipients=(f"ops@{tenant.slug}.org",),
        toggles=(TOGGLE,),
        actor=actor,
    )
    if locality:
        _set(session, ctx, tenant, actor, **locality)


def _set(session, ctx, tenant: Tenant, actor, **locality: str) -> None:
    """The tenant's `timezone` / `locale` settings, as `settings set` stores them."""
    changes = NotificationSettingsUpdate.parse(dict(locality), system=False)
    update_notification_settings(
        session=session, box=ctx.box, tenant=tenant, changes=changes, actor=actor
    )


async def _drain(ctx) -> None:
    worker = Worker(ctx)
    try:
        await worker.run_once()
    finally:
        await worker.close()


async def _delivered(ctx, srv, count: int) -> list[EmailMessage]:
    """The `count` messages `srv` received, parsed, in the order their events were emitted."""
    for _ in range(20):
        await _drain(ctx)
        if len(srv.messages) >= count:
            break
        await asyncio.sleep(0.05)
    assert len(srv.messages) == count, [m.rcpt_tos for m in srv.messages]
    return [BytesParser(policy=policy.default).parsebytes(m.data) for m in srv.messages]


def _text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def _html(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def _emit_at(session, ctx, tenant: Tenant, *moments: str) -> None:
    for moment in moments:
        data = {**sample(EVENT), "occurred_at": moment}
        emit_event(session, ctx.box, tenant, EVENT, data=data)


def _one_reading(messages: list[EmailMessage], text: str) -> EmailMessage:
    """The one message whose text part reads `text` (and whose HTML part does too)."""
    found = [message for message in messages if text in _text(message)]
    assert len(found) == 1, (text, [_text(message) for message in messages])
    assert text in _html(found[0])
    return found[0]


async def test_paris_in_french_across_the_night_paris_moves_to_summer_time(
    ctx, session, actor, smtp_servers
):
    srv = smtp_servers()
    paris = make_tenant(session, slug="paris", actor=actor)
    _configure(session, ctx, paris, actor, srv, timezone="Europe/Paris", locale="fr_FR")
    # 02:00 local does not exist that night: 00:30 UTC is still winter time, 01:30 UTC summer.
    _emit_at(session, ctx, paris, "2026-03-29T00:30:00Z", "2026-03-29T01:30:00Z")
    messages = await _delivered(ctx, srv, 2)

    winter = _one_reading(messages, "29 mars 2026, 01:30 CET")
    summer = _one_reading(messages, "29 mars 2026, 03:30 CEST")
    assert winter is not summer
    assert "UTC" not in _text(winter) + _text(summer)
    french = default_template(EVENT, "fr_FR")
    for message in (winter, summer):
        assert [a.addr_spec for a in message["To"].addresses] == ["ops@paris.org"]
        if french is not default_template(EVENT):  # mailbell ships French: its words, too
            assert message["Subject"].startswith(french.subject.partition("{{")[0].strip())
            assert '<html lang="fr"' in _html(message)
            # the durations read in French as well (95 s: "1 min 35 s")
            assert "1 min 35 s" in _text(message)


async def test_a_tenant_that_set_nothing_follows_the_system_s_zone(
    ctx, session, actor, smtp_servers
):
    srv = smtp_servers()
    update_notification_settings(
        session=session,
        box=ctx.box,
        tenant=None,
        changes=NotificationSettingsUpdate.parse({"timezone": "America/New_York"}, system=True),
        actor=actor,
    )
    acme = make_tenant(session, slug="acme", actor=actor)
    _configure(session, ctx, acme, actor, srv)
    shown = get_notification_settings(session=session, tenant=acme)
    assert (shown.timezone, shown.effective_timezone) == (None, "America/New_York")
    assert (shown.locale, shown.effective_locale) == (None, "en_US")
    # New York moves to summer time on 8 March 2026 at 02:00 local (07:00 UTC).
    _emit_at(session, ctx, acme, "2026-03-08T06:30:00Z", "2026-03-08T07:30:00Z")
    messages = await _delivered(ctx, srv, 2)

    winter = _one_reading(messages, "Mar 8, 2026, 1:30 AM EST")
    summer = _one_reading(messages, "Mar 8, 2026, 3:30 AM EDT")
    assert winter is not summer
    for message in (winter, summer):
        assert '<html lang="en"' in _html(message)
        assert "UTC" not in _text(message)

    # A tenant's own zone wins over the system's; "" gives it back to the system.
    globex = make_tenant(session, slug="globex", actor=actor)
    _configure(session, ctx, globex, actor, srv, timezone="Europe/Paris")
    _emit_at(session, ctx, globex, "2026-03-08T07:30:00Z")
    paris = _one_reading(await _delivered(ctx, srv, 3), "Mar 8, 2026, 8:30 AM CET")
    assert [a.addr_spec for a in paris["To"].addresses] == ["ops@globex.org"]
    _set(session, ctx, globex, actor, timezone="")
    _emit_at(session, ctx, globex, "2026-03-08T08:30:00Z")
    back = _one_reading(await _delivered(ctx, srv, 4), "Mar 8, 2026, 4:30 AM EDT")
    assert [a.addr_spec for a in back["To"].addresses] == ["ops@globex.org"]
