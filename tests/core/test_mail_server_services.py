"""Mail server rules: presets, write-only secrets, OAuth reset, defaults, effective server."""

from __future__ import annotations

import pytest
from sqlmodel import select

from core.errors import NotFound, ValidationError
from core.models.audit import AuditEntry
from core.models.mail import (
    EmailAccount,
    EmailAccountCreate,
    MailServer,
    MailServerCreate,
    MailServerRead,
    MailServerUpdate,
)
from core.models.tenancy import NotificationSettingsUpdate
from core.services.accounts import create_email_account
from core.services.mail_servers import (
    create_mail_server,
    delete_mail_server,
    list_mail_servers,
    resolve_effective_server,
    set_default_mail_server,
    update_mail_server,
)
from core.services.notifications import update_notification_settings
from core.services.tenants import delete_tenant


def _server(session, ctx, actor, tenant=None, **fields):
    data = {
        "name": "main",
        "host": "smtp.example.com",
        "username": "u",
        "mail_from": "alerts@example.com",
        **fields,
    }
    return create_mail_server(
        session=session,
        box=ctx.box,
        tenant=tenant,
        data=MailServerCreate.from_fields(data),
        actor=actor,
    )


def _update(session, ctx, actor, server_id, tenant=None, **fields):
    return update_mail_server(
        session=session,
        box=ctx.box,
        tenant=tenant,
        server_id=server_id,
        changes=MailServerUpdate.from_fields(fields),
        actor=actor,
    )


def test_presets_fill_only_what_is_not_given(session, ctx, actor) -> None:
    ms365 = _server(session, ctx, actor, name="m", host=None, provider="MS365")
    assert (ms365.host, ms365.port, ms365.security) == ("smtp.office365.com", 587, "starttls")
    assert ms365.rate_limit_per_minute == 30
    sendgrid = _server(
        session, ctx, actor, name="s", host=None, username=None, provider="sendgrid", port=2525
    )
    assert (sendgrid.host, sendgrid.port, sendgrid.username) == (
        "smtp.sendgrid.net",
        2525,
        "apikey",
    )


def test_empty_password_keeps_the_stored_one(session, ctx, actor) -> None:
    server = session.get(MailServer, _server(session, ctx, actor, password="first").id)
    stored = server.password_enc
    read = _update(session, ctx, actor, server.id, password="", port=2525)
    assert server.password_enc == stored and server.port == 2525
    assert read.has_password and read.port == 2525
    _update(session, ctx, actor, server.id, password="second")
    assert ctx.box.decrypt(server.password_enc) == "second"


def test_provider_change_clears_oauth_tokens(session, ctx, actor) -> None:
    read = _server(session, ctx, actor, provider="GMAIL", auth="XOAUTH2", host=None)
    server = session.get(MailServer, read.id)
    server.oauth_refresh_token_enc = ctx.box.encrypt("refresh")
    server.oauth_access_token_enc = ctx.box.encrypt("access")
    session.commit()
    assert _update(session, ctx, actor, server.id, provider="gmail").oauth_authorized
    assert not _update(session, ctx, actor, server.id, provider="MS365").oauth_authorized
    assert server.oauth_refresh_token_enc is None and server.oauth_access_token_enc is None
    assert server.host == "smtp.office365.com"
    entry = session.exec(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert "oauth_tokens" in entry.fields


def test_read_model_and_audit_never_carry_secrets(session, ctx, actor) -> None:
    server = _server(session, ctx, actor, password="pw-XYZ", oauth_client_secret="cs-XYZ")
    assert isinstance(server, MailServerRead)
    [listed] = list_mail_servers(session=session, tenant=None)
    assert listed == server
    public = server.model_dump()
    assert "XYZ" not in repr(public) and "XYZ" not in repr(server)
    assert not any(name.endswith("_enc") for name in public)
    assert public["has_password"] and public["has_oauth_client_secret"]
    assert public["default"] and not public["oauth_authorized"]
    entries = session.exec(select(AuditEntry)).all()
    assert entries and all("XYZ" not in repr(entry.model_dump()) for entry in entries)
    assert "password" in entries[-1].fields


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"port": 0}, "port"),
        ({"port": 65536}, "port"),
        ({"port": "abc"}, "port"),
        ({"username": "u" * 129}, "username"),
        ({"username": None}, "username"),
        ({"auth": "NTLM"}, "auth"),
        ({"provider": "YAHOO"}, "provider"),
        ({"mail_from": "a@b@c"}, "mail_from"),
        ({"mail_from": "Ops\n<ops@x.org>"}, "mail_from"),
        ({"host": "smtp.example.com\r\nX"}, "host"),
        ({"timeout": 0}, "timeout"),
        ({"rate_limit_per_minute": -1}, "rate_limit_per_minute"),
    ],
)
def test_bad_fields_are_refused(session, ctx, actor, fields, field) -> None:
    with pytest.raises(ValidationError) as caught:
        _server(session, ctx, actor, **fields)
    assert caught.value.field == field
    session.rollback()
    assert session.exec(select(MailServer)).all() == []


def test_username_optional_when_auth_disabled(session, ctx, actor) -> None:
    server = _server(session, ctx, actor, username=None, auth="DISABLE")
    assert server.username is None


def test_default_moves_and_delete_promotes(session, ctx, actor, acme) -> None:
    first = _server(session, ctx, actor, tenant=acme, name="a")
    second = _server(session, ctx, actor, tenant=acme, name="b")
    assert first.default and not second.default
    moved = set_default_mail_server(session=session, tenant=acme, server_id=second.id, actor=actor)
    assert moved.default
    assert session.get(MailServer, second.id).is_default
    assert not session.get(MailServer, first.id).is_default
    account = create_email_account(
        session=session,
        box=ctx.box,
        tenant=acme,
        data=EmailAccountCreate(email="x@acme.org", display_name="X", mail_server_id=second.id),
        actor=actor,
    )
    result = delete_mail_server(session=session, tenant=acme, server_id=second.id, actor=actor)
    assert [a.id for a in result.detached_accounts] == [account.id]
    assert result.new_default is not None and result.new_default.id == first.id
    assert session.get(EmailAccount, account.id).mail_server_id is None


def test_effective_server_rule(session, ctx, actor, acme) -> None:
    assert resolve_effective_server(session=session, tenant=acme).source is None
    system = _server(session, ctx, actor, name="sys")
    # The system server exists but is not shared yet.
    assert not resolve_effective_server(session=session, tenant=acme).configured
    update_notification_settings(
        session=session,
        box=ctx.box,
        tenant=None,
        changes=NotificationSettingsUpdate.parse({"apply_to_all_tenants": True}, system=True),
        actor=actor,
    )
    effective = resolve_effective_server(session=session, tenant=acme)
    assert (effective.source, effective.server.id) == ("system", system.id)
    own = _server(session, ctx, actor, tenant=acme, name="own")
    effective = resolve_effective_server(session=session, tenant=acme)
    assert (effective.source, effective.server.id) == ("tenant", own.id)
    # System-scope events always use the system default.
    assert resolve_effective_server(session=session, tenant=None).server.id == system.id


def test_tenant_delete_takes_its_data(session, ctx, actor, acme, globex) -> None:
    _server(session, ctx, actor, tenant=acme)
    _server(session, ctx, actor, tenant=globex)
    delete_tenant(session=session, slug="acme", actor=actor)
    session.expire_all()
    assert [s.tenant_id for s in session.exec(select(MailServer)).all()] == [globex.id]
    with pytest.raises(NotFound):
        _update(session, ctx, actor, 999, tenant=globex)


@pytest.mark.parametrize(
    ("model", "fields", "field", "message"),
    [
        (MailServerUpdate, {"port": "0"}, "port", "0 is out of range: use 1-65535 (0 is reserved)"),
        (
            MailServerUpdate,
            {"provider": "yahoo"},
            "provider",
            "'yahoo' is not one of SMTP, GMAIL, MS365, SENDGRID",
        ),
        (
            MailServerUpdate,
            {"rate_limit_per_minute": 100001},
            "rate_limit_per_minute",
            "100001 is out of range: use 0 (no limit) to 100000 per minute",
        ),
        (
            MailServerUpdate,
            {"password": "p" * 1025},
            "password",
            "is 1025 characters long; at most 1024 are allowed",
        ),
        (
            MailServerUpdate,
            {"ca_pem": 5},
            "ca_pem",
            "must be PEM text (-----BEGIN CERTIFICATE----- …)",
        ),
        (MailServerUpdate, {"name": " "}, "name", "is required"),
        (
            MailServerCreate,
            {"host": "smtp.example.com"},
            "name",
            "is required: a friendly label such as 'Production SMTP'",
        ),
        (
            MailServerCreate,
            {"name": "x", "colour": "red", "port": 0},
            "colour",
            "is not a known field; known fields: auth, ca_file, ca_pem, host, is_default, "
            "mail_from, name, oauth_client_id, oauth_client_secret, oauth_directory_id, password, "
            "port, provider, proxy, proxy_password, rate_limit_per_minute, reply_to, security, "
            "timeout, tls_verify, username",
        ),
    ],
)
def test_the_models_refuse_with_the_services_messages(model, fields, field, message) -> None:
    with pytest.raises(ValidationError) as caught:
        model.from_fields(fields)
    assert (caught.value.field, caught.value.message) == (field, message)


def test_the_models_normalise_what_they_keep() -> None:
    changes = MailServerUpdate.from_fields(
        {"provider": "gmail", "security": "TLS", "port": "465", "tls_verify": "off", "host": " "}
    )
    assert changes.given() == {
        "provider": "GMAIL",
        "security": "tls",
        "port": 465,
        "tls_verify": False,
        "host": None,
    }
