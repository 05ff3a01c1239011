"""The flat settings object: TLS flag mapping, recipients, the enable rule, audit."""

from __future__ import annotations

import pytest
from sqlmodel import select

from core.errors import ValidationError
from core.models.audit import AuditEntry
from core.models.tenancy import NotificationSettingsUpdate
from core.services.notifications import (
    get_notification_settings,
    security_from_flags,
    update_notification_settings,
)


def _update(session, ctx, tenant, actor, **changes):
    return update_notification_settings(
        session=session,
        box=ctx.box,
        tenant=tenant,
        changes=NotificationSettingsUpdate.parse(changes, system=False),
        actor=actor,
    )


@pytest.mark.parametrize(
    ("tls", "auto", "port", "security"),
    [
        (True, False, 465, "tls"),
        (True, False, 587, "starttls"),
        (True, True, 25, "starttls"),
        (False, True, 587, "starttls-auto"),
        (False, False, 25, "none"),
    ],
)
def test_tls_flag_mapping(tls, auto, port, security) -> None:
    assert security_from_flags(tls, auto, port) == security


def test_flags_and_security_round_trip(session, ctx, acme, actor) -> None:
    data = _update(session, ctx, acme, actor, server="smtp.x.org", username="u@x.org", port=465)
    assert (data.security, data.enable_tls_ssl, data.enable_starttls_auto) == (
        "tls",
        True,
        False,
    )
    data = _update(
        session, ctx, acme, actor, enable_tls_ssl=False, enable_starttls_auto=True, port=587
    )
    assert data.security == "starttls-auto"
    data = _update(session, ctx, acme, actor, security="starttls", enable_tls_ssl=False)
    assert data.security == "starttls" and data.enable_tls_ssl is True


def test_recipients_deduplicated_in_order(session, ctx, acme, actor) -> None:
    data = _update(session, ctx, acme, actor, recipients="b@x.org, a@x.org,B@x.org,,a@x.org")
    assert data.recipients == ["b@x.org", "a@x.org"]
    sixteen_with_dupes = ",".join([f"r{i}@x.org" for i in range(15)] + ["r0@x.org"])
    assert len(_update(session, ctx, acme, actor, recipients=sixteen_with_dupes).recipients) == 15


def test_enable_needs_recipients_and_refusal_changes_nothing(session, ctx, acme, actor) -> None:
    with pytest.raises(ValidationError) as caught:
        _update(
            session,
            ctx,
            acme,
            actor,
            notify_queue_call_lost=True,
            server="smtp.x.org",
            username="u",
        )
    assert caught.value.field == "notify_queue_call_lost"
    session.rollback()
    data = get_notification_settings(session=session, tenant=acme)
    assert data.toggles["notify_queue_call_lost"] is False and data.server is None


def test_mail_from_defaults_to_an_address_username(session, ctx, acme, actor) -> None:
    data = _update(session, ctx, acme, actor, server="smtp.x.org", username="Alerts@X.org")
    assert data.mail_from == "Alerts@x.org"
    data = _update(session, ctx, acme, actor, mail_from="PBX Alerts <pbx@x.org>")
    assert data.mail_from == "PBX Alerts <pbx@x.org>"


def test_audit_names_fields_only(session, ctx, acme, actor) -> None:
    _update(
        session,
        ctx,
        acme,
        actor,
        server="smtp.x.org",
        username="u@x.org",
        password="Sekrit-123",
        recipients="a@x.org",
        notify_queue_callback=True,
    )
    entry = session.exec(
        select(AuditEntry).where(AuditEntry.action == "notification_settings.update")
    ).one()
    assert entry.tenant == "acme" and entry.source == "cli" and entry.actor == "tester"
    assert {"server", "username", "password", "recipients", "notify_queue_callback"} <= set(
        entry.fields
    )
    assert "Sekrit" not in repr(entry.model_dump())
