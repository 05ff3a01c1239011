"""Audit entries record each changed field's value before and after; a secret's as "changed"."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session, select

from core.context import Context
from core.db import make_engine, upgrade
from core.models.audit import AuditEntry, AuditEntryRead
from core.models.mail import EmailAccountCreate, EmailAccountUpdate, MailServerUpdate
from core.models.templates import TemplateUpdate
from core.models.tenancy import Tenant
from core.services import templates
from core.services.accounts import (
    create_email_account,
    set_default_email_account,
    update_email_account,
)
from core.services.audit import Actor, change_text, list_entries, record, text_summary
from core.services.mail_servers import update_mail_server
from core.services.tenants import rename_tenant
from tests.support.factories import make_mail_server, read_settings, set_settings

PASSWORD = "Very-Secret-Pw-4711"
NEW_PASSWORD = "Other-Secret-Pw-0815"


def _newest(session: Session, action: str) -> AuditEntryRead:
    session.expire_all()
    return next(e for e in list_entries(session=session, limit=50) if e.action == action)


def _raw(session: Session, entry_id: int) -> str:
    """The stored row as the database holds it, every column."""
    row = session.exec(select(AuditEntry).where(AuditEntry.id == entry_id)).one()
    return json.dumps(row.model_dump(mode="json"))


def test_server_update_records_host_values_and_password_as_changed(
    session: Session, ctx: Context, acme: Tenant, actor: Actor
) -> None:
    server = make_mail_server(
        session,
        ctx.box,
        acme,
        host="old.example.org",
        auth="LOGIN",
        username="u@example.org",
        password=PASSWORD,
    )
    created = _newest(session, "mail_server.create")
    assert created.changes["host"].model_dump() == {"before": None, "after": "old.example.org"}
    assert created.changes["password"].model_dump() == {"before": "changed", "after": "changed"}
    assert PASSWORD not in _raw(session, created.id)

    update_mail_server(
        session=session,
        box=ctx.box,
        tenant=acme,
        server_id=server.id,
        changes=MailServerUpdate.from_fields(
            {"host": "new.example.org", "password": NEW_PASSWORD, "port": 587}
        ),
        actor=actor,
    )
    entry = _newest(session, "mail_server.update")
    # The port was 587 already: not a change.
    assert entry.fields == ["host", "password"]
    assert entry.changes["host"].model_dump() == {
        "before": "old.example.org",
        "after": "new.example.org",
    }
    assert entry.changes["password"].model_dump() == {"before": "changed", "after": "changed"}
    stored = _raw(session, entry.id)
    for secret in (PASSWORD, NEW_PASSWORD):
        assert secret not in stored and secret not in entry.model_dump_json()
    assert change_text("host", entry.changes["host"]) == "host: old.example.org → new.example.org"
    assert change_text("password", entry.changes["password"]) == "password: changed"


def test_an_empty_password_keeps_the_stored_one_and_records_nothing(
    session: Session, ctx: Context, acme: Tenant, actor: Actor
) -> None:
    server = make_mail_server(session, ctx.box, acme, auth="LOGIN", username="u@x.org")
    update_mail_server(
        session=session,
        box=ctx.box,
        tenant=acme,
        server_id=server.id,
        changes=MailServerUpdate.from_fields({"password": "", "timeout": 12}),
        actor=actor,
    )
    entry = _newest(session, "mail_server.update")
    assert entry.fields == ["timeout"]
    assert entry.changes["timeout"].model_dump() == {"before": 30.0, "after": 12.0}


def test_settings_toggles_recipients_and_policies_have_before_and_after(
    session: Session, ctx: Context, acme: Tenant, actor: Actor
) -> None:
    set_settings(ctx, actor, "acme", recipients="a@x.org", notify_queue_callback=True)
    set_settings(
        ctx,
        actor,
        "acme",
        recipients="a@x.org,b@x.org",
        notify_queue_callback=False,
        notify_user_registration=True,
        timezone="Europe/Paris",
    )
    with ctx.session() as fresh:
        first, second = [
            e
            for e in reversed(list_entries(session=fresh, tenant="acme"))
            if e.action == "notification_settings.update"
        ]
    assert first.changes["notify_queue_callback"].model_dump() == {"before": False, "after": True}
    assert first.changes["recipients"].model_dump() == {"before": [], "after": ["a@x.org"]}
    assert {name: (c.before, c.after) for name, c in second.changes.items()} == {
        "recipients": (["a@x.org"], ["a@x.org", "b@x.org"]),
        "notify_queue_callback": (True, False),
        "notify_user_registration": (False, True),
        "timezone": (None, "Europe/Paris"),
    }


def test_digest_policies_and_locale_read_as_the_settings_show_them(
    ctx: Context, acme: Tenant, actor: Actor
) -> None:
    default = read_settings(ctx, "acme").digests["QUEUE_CALL_LOST"]
    assert default != "5/10m"
    set_settings(ctx, actor, "acme", **{"digest.QUEUE_CALL_LOST": "5/10m", "locale": "fr_FR"})
    set_settings(ctx, actor, "acme", **{"digest.QUEUE_CALL_LOST": "off"})
    with ctx.session() as fresh:
        second, first = [
            e for e in list_entries(session=fresh) if e.action == "notification_settings.update"
        ]
    policy = "digest.QUEUE_CALL_LOST"
    assert first.changes[policy].model_dump() == {"before": default, "after": "5/10m"}
    assert first.changes["locale"].model_dump() == {"before": None, "after": "fr_FR"}
    assert second.changes[policy].model_dump() == {"before": "5/10m", "after": "off"}


def test_email_account_changes_and_set_default_name_both_accounts(
    session: Session, ctx: Context, acme: Tenant, actor: Actor
) -> None:
    server = make_mail_server(session, ctx.box, acme)
    first, second = (
        create_email_account(
            session=session,
            box=ctx.box,
            tenant=acme,
            data=EmailAccountCreate(email=address, display_name="Inbox", mail_server_id=server.id),
            actor=actor,
        )
        for address in ("a@acme.org", "b@acme.org")
    )
    update_email_account(
        session=session,
        box=ctx.box,
        tenant=acme,
        account_id=second.id,
        changes=EmailAccountUpdate.from_fields(
            {"display_name": "Support", "imap_password": PASSWORD}
        ),
        actor=actor,
    )
    entry = _newest(session, "email_account.update")
    assert {name: (c.before, c.after) for name, c in entry.changes.items()} == {
        "display_name": ("Inbox", "Support"),
        "imap_password": ("changed", "changed"),
    }
    assert PASSWORD not in _raw(session, entry.id)
    set_default_email_account(session=session, tenant=acme, account_id=second.id, actor=actor)
    moved = _newest(session, "email_account.set_default")
    assert moved.changes["default_account"].model_dump() == {
        "before": f"email_account:{first.id} (a@acme.org)",
        "after": f"email_account:{second.id} (b@acme.org)",
    }


def test_template_body_is_a_summary_and_subject_a_value(
    session: Session, acme: Tenant, actor: Actor
) -> None:
    body = "<p>" + "call lost {{ caller }} " * 200 + "</p>"
    templates.create_custom_template(
        session=session, tenant=acme, name="QUEUE_SLA", subject="first", body=body, actor=actor
    )
    templates.update_custom_template(
        session=session,
        tenant=acme,
        name="QUEUE_SLA",
        changes=TemplateUpdate.from_fields({"subject": "second", "body": body + "<p>PS</p>"}),
        actor=actor,
    )
    created = _newest(session, "template.create")
    assert created.changes["body"].after == text_summary(body)
    assert created.changes["body"].after.startswith(f"{len(body):,} chars, sha256 ")
    entry = _newest(session, "template.update")
    assert entry.changes["subject"].model_dump() == {"before": "first", "after": "second"}
    assert entry.changes["body"].model_dump() == {
        "before": text_summary(body),
        "after": text_summary(body + "<p>PS</p>"),
    }
    assert "call lost" not in _raw(session, entry.id)


def test_tenant_rename_records_both_names(session: Session, acme: Tenant, actor: Actor) -> None:
    rename_tenant(session=session, slug="acme", name="Acme Corp", actor=actor)
    entry = _newest(session, "tenant.rename")
    assert entry.changes["name"].model_dump() == {"before": "acme", "after": "Acme Corp"}


def test_values_are_bounded_and_secret_names_masked_whatever_is_passed(
    session: Session, actor: Actor
) -> None:
    record(
        session,
        actor=actor,
        action="test.bounds",
        changes={
            "note": ("x" * 5000, None),
            "items": (list(range(100)), []),
            "bot_token": ("xoxb-real-value", "xoxb-new"),
            "client_secret": (None, "s"),
        },
    )
    session.commit()
    entry = _newest(session, "test.bounds")
    note = entry.changes["note"].before
    assert len(note) == 200 and note.endswith("…")
    assert entry.changes["items"].before == [*range(20), "… 80 more"]
    for name in ("bot_token", "client_secret"):
        assert entry.changes[name].model_dump() == {"before": "changed", "after": "changed"}
    assert "xoxb" not in _raw(session, entry.id)


def test_names_only_callers_and_old_rows_read_back_with_null_values(
    session: Session, actor: Actor
) -> None:
    record(session, actor=actor, action="test.names", fields=["scopes"])
    session.commit()
    entry = _newest(session, "test.names")
    assert entry.fields == ["scopes"]
    assert entry.changes["scopes"].model_dump() == {"before": None, "after": None}
    assert change_text("scopes", entry.changes["scopes"]) == "scopes"


def test_rows_written_before_0021_keep_their_fields_and_read_null(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0020")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_entry (at, actor, source, tenant, action, target, fields)"
                " VALUES ('2026-12-01 10:00:00', 'ops', 'cli', 'acme', 'mail_server.update',"
                " 'mail_server:1', '[\"host\", \"password\"]')"
            )
        )
    upgrade(engine)
    with Session(engine) as session:
        [entry] = list_entries(session=session)
    assert entry.fields == ["host", "password"]
    assert {name: c.model_dump() for name, c in entry.changes.items()} == {
        "host": {"before": None, "after": None},
        "password": {"before": None, "after": None},
    }
    engine.dispose()
