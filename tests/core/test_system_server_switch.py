"""The tenant's `use_system_server` switch: which server really receives its mail, and what
every reader of the effective-server rule says (the settings read, the Slack status).

Two capture SMTP servers stand for the tenant's own server and the system's; events go through
the real emit path and the real worker.
"""

from __future__ import annotations

import itertools

import pytest

from core.models.tenancy import NotificationSettingsUpdate
from core.pipeline.worker import Worker
from core.services.mail_servers import choose_source, resolve_effective_server
from core.services.notifications import get_notification_settings, update_notification_settings
from core.services.slack_status import tenant_overview
from tests.support.factories import configure_tenant, emit_events, make_mail_server

NOT_APPLIED = (
    "use_system_server is on, but the system does not apply its mail settings to all tenants: "
    "the tenant's own server sends its mail"
)
SWITCHED = (
    "use_system_server is on: the system's server sends this tenant's mail; its own servers "
    "are kept, unused"
)


def _set(session, ctx, actor, tenant, **changes) -> None:
    update_notification_settings(
        session=session,
        box=ctx.box,
        tenant=tenant,
        changes=NotificationSettingsUpdate.parse(changes, system=tenant is None),
        actor=actor,
    )


@pytest.fixture
def two_servers(session, ctx, actor, acme, smtp_servers):
    """acme sends to ops@acme.org through its own capture server; the system has another."""
    own, system = smtp_servers(), smtp_servers()
    configure_tenant(session, ctx.box, acme, smtp=own, server={"name": "own"}, actor=actor)
    make_mail_server(session, ctx.box, None, smtp=system, name="shared", actor=actor)
    return own, system


async def _send_one(ctx, session, tenant) -> None:
    emit_events(session, ctx.box, tenant, 1)
    worker = Worker(ctx)
    try:
        await worker.run_once()
    finally:
        await worker.close()


async def test_the_switch_moves_the_mail_to_the_system_server_and_back(
    session, ctx, actor, acme, two_servers
) -> None:
    own, system = two_servers
    _set(session, ctx, actor, None, apply_to_all_tenants=True)
    await _send_one(ctx, session, acme)
    assert (len(own.messages), len(system.messages)) == (1, 0)

    _set(session, ctx, actor, acme, use_system_server=True)
    await _send_one(ctx, session, acme)
    assert (len(own.messages), len(system.messages)) == (1, 1)
    assert system.messages[0].rcpt_tos == ["ops@acme.org"]
    read = get_notification_settings(session=session, tenant=acme)
    assert read.effective_mail_server == "system"
    assert read.effective_mail_server_note == SWITCHED

    _set(session, ctx, actor, acme, use_system_server=False)
    await _send_one(ctx, session, acme)
    assert (len(own.messages), len(system.messages)) == (2, 1)
    read = get_notification_settings(session=session, tenant=acme)
    assert (read.effective_mail_server, read.effective_mail_server_note) == ("tenant", None)


async def test_the_switch_without_apply_to_all_keeps_the_own_server(
    session, ctx, actor, acme, two_servers
) -> None:
    own, system = two_servers
    _set(session, ctx, actor, acme, use_system_server=True)
    await _send_one(ctx, session, acme)
    assert (len(own.messages), len(system.messages)) == (1, 0)
    read = get_notification_settings(session=session, tenant=acme)
    assert read.effective_mail_server == "tenant"
    assert read.effective_mail_server_note == NOT_APPLIED


def test_the_switch_is_a_tenant_setting(session, ctx, actor) -> None:
    from core.errors import ValidationError

    with pytest.raises(ValidationError) as refused:
        _set(session, ctx, actor, None, use_system_server=True)
    assert refused.value.field == "use_system_server"


CASES = list(itertools.product([False, True], repeat=4))


@pytest.mark.parametrize(("has_own", "has_system", "apply_to_all", "switch"), CASES)
def test_the_rule(has_own, has_system, apply_to_all, switch) -> None:
    source, note = choose_source(
        has_own=has_own, has_system=has_system, apply_to_all=apply_to_all, use_system_server=switch
    )
    if switch and apply_to_all and has_system:
        assert source == "system"
    elif has_own:
        assert source == "tenant"
    elif apply_to_all and has_system:
        assert source == "system"
    else:
        assert source is None
    # A note whenever the switch is on and changes something or cannot be followed.
    assert (note is not None) == (switch and (has_own or not (apply_to_all and has_system)))
    if note is not None and source != "system":
        assert note.endswith(
            "the tenant's own server sends its mail" if has_own else "no server sends its mail"
        )


@pytest.mark.parametrize(("own", "system", "apply_to_all", "switch"), CASES)
def test_every_reader_agrees(session, ctx, actor, acme, own, system, apply_to_all, switch) -> None:
    """The settings read, the Slack status's own statement and the rule give one answer."""
    if own:
        make_mail_server(session, ctx.box, acme, name="own", host="own.example.org", actor=actor)
    if system:
        make_mail_server(session, ctx.box, None, name="shared", host="sys.example.org")
    _set(session, ctx, actor, None, apply_to_all_tenants=apply_to_all)
    _set(session, ctx, actor, acme, use_system_server=switch)
    effective = resolve_effective_server(session=session, tenant=acme)
    overview = tenant_overview(session=session, tenant_id=acme.id, tenant_slug="acme")
    read = get_notification_settings(session=session, tenant=acme)
    assert (overview.server_source, overview.server_note) == (effective.source, effective.note)
    assert (overview.server or {}).get("host") == (effective.server and effective.server.host)
    assert read.effective_mail_server == (effective.source or "none")
    assert read.effective_mail_server_note == effective.note
    expected, _ = choose_source(
        has_own=own, has_system=system, apply_to_all=apply_to_all, use_system_server=switch
    )
    assert effective.source == expected
