from __future__ import annotations

import pytest
from sqlmodel import Session, select

from core import catalog
from core.errors import Conflict, NotFound, ValidationError
from core.models.audit import AuditEntry
from core.models.templates import CustomTemplate, TemplateUpdate
from core.models.tenancy import Tenant
from core.rendering import render
from core.services import templates
from core.services.audit import Actor
from core.services.tenants import delete_tenant

SERVER_FROM = "noreply@pbx.example.com"


def audit(session: Session, action: str) -> list[AuditEntry]:
    return list(session.exec(select(AuditEntry).where(AuditEntry.action == action)))


def subject_for(session: Session, tenant: Tenant | None, name: str = "QUEUE_SLA") -> str:
    template = templates.effective_template(session=session, tenant=tenant, name=name)
    event = catalog.get_event(name)
    return render(name, event.sample, template=template, server_from=SERVER_FROM).subject


def test_defaults_are_listed_and_found_in_any_case() -> None:
    defaults = templates.list_default_templates()
    assert [t.name for t in defaults] == list(catalog.TEMPLATE_NAMES)
    assert all(t.subject and t.body and not t.custom for t in defaults)
    assert templates.get_default_template("queue_sla").name == "QUEUE_SLA"
    with pytest.raises(NotFound, match="USER_CREATION"):
        templates.get_default_template("QUEUE")


def test_a_tenants_custom_subject_is_used_for_that_tenant_only(
    session: Session, actor: Actor, acme: Tenant, globex: Tenant
) -> None:
    templates.create_custom_template(
        session=session,
        tenant=acme,
        name="queue_sla",
        subject="ACME SLA alert: {{ queue_name }}",
        actor=actor,
    )
    assert subject_for(session, acme) == "ACME SLA alert: Réception — file d'attente"
    assert subject_for(session, globex).startswith("SLA breached in queue Réception")
    assert subject_for(session, None).startswith("SLA breached in queue Réception")
    assert templates.list_custom_templates(session=session, tenant=globex) == []
    with pytest.raises(NotFound):
        templates.get_custom_template(session=session, tenant=globex, name="QUEUE_SLA")


def test_create_fills_absent_fields_from_the_default_and_stores_upper_case(
    session: Session, actor: Actor, acme: Tenant
) -> None:
    row = templates.create_custom_template(
        session=session,
        tenant=acme,
        name="queue_call_lost",
        subject="Lost: {{ caller }}",
        actor=actor,
    )
    default = templates.get_default_template("QUEUE_CALL_LOST")
    assert row.name == "QUEUE_CALL_LOST"
    assert (row.mail_from, row.body) == (default.mail_from, default.body)
    stored = templates.get_custom_template(session=session, tenant=acme, name="Queue_Call_Lost")
    assert stored.subject == "Lost: {{ caller }}"
    [entry] = audit(session, "template.create")
    assert (entry.tenant, entry.target, entry.fields) == ("acme", "QUEUE_CALL_LOST", ["subject"])
    assert entry.actor == "tester"


def test_duplicate_create_is_a_conflict(session: Session, actor: Actor, acme: Tenant) -> None:
    templates.create_custom_template(
        session=session, tenant=acme, name="QUEUE_SLA", subject="one", actor=actor
    )
    with pytest.raises(Conflict):
        templates.create_custom_template(
            session=session, tenant=acme, name="QUEUE_SLA", subject="two", actor=actor
        )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"body": "<p>{{ ''.__class__.__mro__ }}</p>"}, "body"),
        ({"body": "<p>{{ cycler.__init__.__globals__ }}</p>"}, "body"),
        ({"body": "<p>ok</p>\n{{ not_a_variable }}"}, "body"),
        ({"subject": "two\r\nlines"}, "subject"),
        ({"mail_from": "x@y.example\nBcc: z@y.example"}, "from"),
        ({"body": "x" * (256 * 1024 + 1)}, "body"),
    ],
)
def test_refused_templates_save_nothing(
    session: Session, actor: Actor, acme: Tenant, fields: dict[str, str], field: str
) -> None:
    with pytest.raises(ValidationError) as error:
        templates.create_custom_template(
            session=session, tenant=acme, name="QUEUE_SLA", actor=actor, **fields
        )
    assert error.value.field == field
    session.rollback()
    assert session.exec(select(CustomTemplate)).all() == []
    assert audit(session, "template.create") == []


def test_unknown_name_on_create_is_a_validation_error(
    session: Session, actor: Actor, acme: Tenant
) -> None:
    with pytest.raises(ValidationError) as error:
        templates.create_custom_template(session=session, tenant=acme, name="NOPE", actor=actor)
    assert error.value.field == "name" and "QUEUE_SLA" in error.value.message


def test_partial_update_keeps_absent_fields(session: Session, actor: Actor, acme: Tenant) -> None:
    templates.create_custom_template(
        session=session,
        tenant=acme,
        name="QUEUE_SLA",
        mail_from="Acme PBX <pbx@acme.example>",
        subject="first {{ queue_name }}",
        body="<p>first body {{ caller }}</p>",
        actor=actor,
    )
    before = templates.get_custom_template(session=session, tenant=acme, name="QUEUE_SLA")
    created_at = before.updated_at
    row = templates.update_custom_template(
        session=session,
        tenant=acme,
        name="queue_sla",
        changes=TemplateUpdate.from_fields({"subject": "second {{ queue_name }}", "body": None}),
        actor=actor,
    )
    assert row.subject == "second {{ queue_name }}"
    assert row.mail_from == "Acme PBX <pbx@acme.example>"
    assert row.body == "<p>first body {{ caller }}</p>"
    assert row.updated_at >= created_at
    [entry] = audit(session, "template.update")
    assert entry.fields == ["subject"]  # names only, never values
    templates.update_custom_template(
        session=session,
        tenant=acme,
        name="QUEUE_SLA",
        changes=TemplateUpdate.from_fields({"from": ""}),
        actor=actor,
    )
    assert (
        templates.get_custom_template(session=session, tenant=acme, name="QUEUE_SLA").mail_from
        == ""
    )


def test_a_refused_update_changes_nothing(session: Session, actor: Actor, acme: Tenant) -> None:
    templates.create_custom_template(
        session=session, tenant=acme, name="QUEUE_SLA", subject="kept", actor=actor
    )
    with pytest.raises(ValidationError):
        templates.update_custom_template(
            session=session,
            tenant=acme,
            name="QUEUE_SLA",
            changes=TemplateUpdate.from_fields({"subject": "new", "body": "{{ ''.__class__ }}"}),
            actor=actor,
        )
    with pytest.raises(ValidationError) as unknown:
        templates.update_custom_template(
            session=session,
            tenant=acme,
            name="QUEUE_SLA",
            changes=TemplateUpdate.from_fields({"colour": "red"}),
            actor=actor,
        )
    assert (unknown.value.field, unknown.value.message) == (
        "colour",
        "unknown field: use from, subject or body",
    )
    with pytest.raises(ValidationError) as not_text:
        TemplateUpdate.from_fields({"from": 5})
    assert (not_text.value.field, not_text.value.message) == ("from", "must be a string")
    session.expire_all()
    assert (
        templates.get_custom_template(session=session, tenant=acme, name="QUEUE_SLA").subject
        == "kept"
    )
    assert audit(session, "template.update") == []


def test_update_without_a_custom_template_creates_nothing(
    session: Session, actor: Actor, acme: Tenant
) -> None:
    with pytest.raises(NotFound):
        templates.update_custom_template(
            session=session,
            tenant=acme,
            name="QUEUE_SLA",
            changes=TemplateUpdate.from_fields({"subject": "x"}),
            actor=actor,
        )
    assert templates.list_custom_templates(session=session, tenant=acme) == []


def test_delete_restores_the_default(session: Session, actor: Actor, acme: Tenant) -> None:
    templates.create_custom_template(
        session=session, tenant=acme, name="QUEUE_SLA", subject="custom", actor=actor
    )
    assert templates.effective_template(session=session, tenant=acme, name="QUEUE_SLA").custom
    templates.delete_custom_template(session=session, tenant=acme, name="queue_sla", actor=actor)
    effective = templates.effective_template(session=session, tenant=acme, name="QUEUE_SLA")
    assert effective == templates.get_default_template("QUEUE_SLA")
    assert [(e.target, e.fields) for e in audit(session, "template.delete")] == [("QUEUE_SLA", [])]
    with pytest.raises(NotFound):
        templates.delete_custom_template(
            session=session, tenant=acme, name="QUEUE_SLA", actor=actor
        )


def test_system_events_are_customised_at_system_level(
    session: Session, actor: Actor, acme: Tenant
) -> None:
    with pytest.raises(ValidationError) as per_tenant:
        templates.create_custom_template(
            session=session, tenant=acme, name="DISK_LOW", subject="x", actor=actor
        )
    assert per_tenant.value.field == "tenant" and "system event" in per_tenant.value.message
    with pytest.raises(ValidationError) as system_wide:
        templates.create_custom_template(
            session=session, tenant=None, name="QUEUE_SLA", subject="x", actor=actor
        )
    assert "tenant event" in system_wide.value.message
    templates.create_custom_template(
        session=session, tenant=None, name="DISK_LOW", subject="Disk {{ host }}", actor=actor
    )
    assert subject_for(session, None, "DISK_LOW") == "Disk pbx-01.example.com"
    assert subject_for(session, acme, "DISK_LOW") == "Disk pbx-01.example.com"
    assert [row.name for row in templates.list_custom_templates(session=session, tenant=None)] == [
        "DISK_LOW"
    ]
    assert templates.list_custom_templates(session=session, tenant=acme) == []


def test_template_details_shape(session: Session, actor: Actor, acme: Tenant) -> None:
    details = templates.template_details(session=session, tenant=acme, name="queue_sla")
    assert set(details) >= {"name", "scope", "toggle", "variables", "sample", "default", "custom"}
    assert details["name"] == "QUEUE_SLA"
    assert details["scope"] == "tenant"
    assert details["toggle"] == "notify_queue_sla_breached"
    assert details["variables"]["queue_name"]["type"] == "string"
    assert details["sample"]["queue_number"] == "8001"
    assert set(details["default"]) == {"from", "subject", "body"}
    assert details["custom"] is None
    templates.create_custom_template(
        session=session, tenant=acme, name="QUEUE_SLA", subject="custom", actor=actor
    )
    custom = templates.template_details(session=session, tenant=acme, name="QUEUE_SLA")["custom"]
    assert custom["subject"] == "custom" and {"from", "body", "updated_at"} <= set(custom)
    assert (
        templates.template_details(session=session, tenant=None, name="VOICEMAIL_RECEIVED")[
            "toggle"
        ]
        is None
    )


def test_deleting_a_tenant_deletes_its_custom_templates(
    session: Session, actor: Actor, acme: Tenant, globex: Tenant
) -> None:
    for tenant in (acme, globex):
        templates.create_custom_template(
            session=session, tenant=tenant, name="QUEUE_SLA", subject=tenant.slug, actor=actor
        )
    delete_tenant(session=session, slug="acme", actor=actor)
    assert [row.subject for row in session.exec(select(CustomTemplate))] == ["globex"]
