"""Custom templates per locale in the template service: one per owner, name and locale."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from core.errors import Conflict, NotFound, ValidationError
from core.models.audit import AuditEntry
from core.models.templates import TemplateUpdate
from core.models.tenancy import Tenant
from core.services import templates
from core.services.audit import Actor


def test_each_locale_has_its_own_row_and_the_lookup_falls_back(
    session: Session, actor: Actor, acme: Tenant
) -> None:
    for locale, subject in (("fr-fr", "FR-FR"), ("fr", "FR"), ("", "ANY")):
        templates.create_custom_template(
            session=session, tenant=acme, name="QUEUE_SLA", subject=subject, locale=locale,
            actor=actor,
        )  # fmt: skip
    rows = templates.list_custom_templates(session=session, tenant=acme)
    assert [(row.name, row.locale) for row in rows] == [
        ("QUEUE_SLA", ""),
        ("QUEUE_SLA", "fr"),
        ("QUEUE_SLA", "fr_FR"),
    ]
    shown = templates.get_custom_template(
        session=session, tenant=acme, name="queue_sla", locale="fr_FR"
    )
    assert shown.subject == "FR-FR"

    def subject(locale: str) -> str:
        return templates.effective_template(
            session=session, tenant=acme, name="QUEUE_SLA", locale=locale
        ).subject

    assert [subject(loc) for loc in ("fr_FR", "fr_CA", "de_DE")] == ["FR-FR", "FR", "ANY"]
    targets = [
        entry.target
        for entry in session.exec(select(AuditEntry).where(AuditEntry.action == "template.create"))
    ]
    assert targets == ["QUEUE_SLA (fr_FR)", "QUEUE_SLA (fr)", "QUEUE_SLA"]


def test_update_and_delete_touch_exactly_one_locale(
    session: Session, actor: Actor, acme: Tenant
) -> None:
    for locale in ("", "de_DE"):
        templates.create_custom_template(
            session=session, tenant=acme, name="QUEUE_SLA", subject=f"[{locale}]",
            locale=locale, actor=actor,
        )  # fmt: skip
    templates.update_custom_template(
        session=session, tenant=acme, name="QUEUE_SLA", locale="de_DE",
        changes=TemplateUpdate.from_fields({"subject": "Deutsch"}), actor=actor,
    )  # fmt: skip
    assert (
        templates.get_custom_template(session=session, tenant=acme, name="QUEUE_SLA").subject
        == "[]"
    )
    templates.delete_custom_template(
        session=session, tenant=acme, name="QUEUE_SLA", locale="de_DE", actor=actor
    )
    assert [
        row.locale for row in templates.list_custom_templates(session=session, tenant=acme)
    ] == [""]
    with pytest.raises(NotFound) as missing:
        templates.get_custom_template(
            session=session, tenant=acme, name="QUEUE_SLA", locale="de_DE"
        )
    assert missing.value.message == (
        "tenant 'acme' has no custom QUEUE_SLA template for de_DE (the default is used)"
    )
    with pytest.raises(Conflict, match="for de_DE"):
        for _ in range(2):
            templates.create_custom_template(
                session=session, tenant=acme, name="QUEUE_SLA", locale="de_DE", actor=actor
            )
    entries = session.exec(select(AuditEntry).where(AuditEntry.action != "template.create")).all()
    assert [(e.action, e.target) for e in entries if e.action.startswith("template.")] == [
        ("template.update", "QUEUE_SLA (de_DE)"),
        ("template.delete", "QUEUE_SLA (de_DE)"),
    ]


def test_a_locale_that_is_not_one_names_the_field_and_stores_nothing(
    session: Session, actor: Actor, acme: Tenant
) -> None:
    with pytest.raises(ValidationError) as refused:
        templates.create_custom_template(
            session=session, tenant=acme, name="QUEUE_SLA", subject="x", locale="xx_YY",
            actor=actor,
        )  # fmt: skip
    assert refused.value.field == "locale"
    assert templates.list_custom_templates(session=session, tenant=acme) == []


def test_details_show_the_locale_its_default_and_the_owners_locales(
    session: Session, actor: Actor, acme: Tenant
) -> None:
    templates.create_custom_template(
        session=session, tenant=acme, name="QUEUE_SLA", subject="FR", locale="fr_FR",
        actor=actor,
    )  # fmt: skip
    details = templates.template_details(
        session=session, tenant=acme, name="QUEUE_SLA", locale="fr_FR"
    )
    assert (details["locale"], details["locales"]) == ("fr_FR", ["fr_FR"])
    assert details["custom"]["subject"] == "FR" and details["custom"]["locale"] == "fr_FR"
    assert details["default"] == templates.default_template("QUEUE_SLA", "fr_FR").as_dict()
    anywhere = templates.template_details(session=session, tenant=acme, name="QUEUE_SLA")
    assert (anywhere["locale"], anywhere["custom"]) == (None, None)
    assert anywhere["locales"] == ["fr_FR"]
    # A new localized template starts from the shipped default in its language.
    values = templates.values_for_create(tenant=acme, name="QUEUE_SLA", locale="fr_FR")
    assert values["subject"] == templates.default_template("QUEUE_SLA", "fr_FR").subject
