"""Settings export and import: a tenant copied into a fresh database comes back the same."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from core.context import Context
from core.errors import MailbellError, ValidationError
from core.models.audit import AuditEntry
from core.services.audit import Actor
from core.services.settings_export import export_settings
from core.services.settings_import import ImportReport, import_settings
from tests.support.settings_copy import (  # noqa: F401
    SECRETS,
    build_acme,
    other_context,
    other_home,
    owner_view,
    stored_secrets,
)
from tests.support.storage import dump

PASSPHRASE = "correct horse battery"


@pytest.fixture
def other(other_home: tuple[Path, str | None]) -> Iterator[Context]:  # noqa: F811
    context = other_context(other_home)
    yield context
    context.close()


def _export(ctx: Context, scope: str = "tenant", passphrase: str | None = None) -> Any:
    with ctx.session() as session:
        document = export_settings(
            session=session,
            box=ctx.box,
            scope=scope,  # type: ignore[arg-type]
            tenant_slug="acme" if scope == "tenant" else None,
            passphrase=passphrase,
        )
    return json.loads(json.dumps(document))  # as the file holds it


def _import(
    ctx: Context, document: Any, actor: Actor, *, dry_run: bool = False, passphrase: Any = None
) -> ImportReport:
    with ctx.session() as session:
        return import_settings(
            session=session,
            box=ctx.box,
            document=document,
            actor=actor,
            dry_run=dry_run,
            passphrase=passphrase,
        )


def _outcomes(report: ImportReport) -> dict[str, str]:
    return {f"{i.kind} {i.key}".strip(): i.outcome for i in report.items}


def test_a_tenant_copied_with_a_passphrase_comes_back_the_same(
    ctx: Context, other: Context, actor: Actor
) -> None:
    build_acme(ctx, actor)
    document = _export(ctx, passphrase=PASSPHRASE)

    report = _import(other, document, actor, passphrase=PASSPHRASE)

    assert set(_outcomes(report).values()) == {"created", "updated"}
    assert owner_view(other, "acme") == owner_view(ctx, "acme")
    # Sealed under the passphrase, opened, and stored under the other database's key ring.
    assert stored_secrets(other, "acme") == SECRETS
    with pytest.raises(MailbellError):  # the other key ring: only the passphrase carried them
        ctx.box.decrypt(other.box.encrypt(SECRETS["password"]))
    with other.session() as session:
        actions = {e.action for e in session.exec(select(AuditEntry)).all() if e.actor == "tester"}
    assert {"mail_server.create", "email_account.create", "webhook.create"} <= actions


def test_the_second_import_changes_nothing(ctx: Context, other: Context, actor: Actor) -> None:
    build_acme(ctx, actor)
    document = _export(ctx, passphrase=PASSPHRASE)
    _import(other, document, actor, passphrase=PASSPHRASE)
    before = dump(other.settings.effective_database_url)

    again = _import(other, document, actor, passphrase=PASSPHRASE)

    assert [i.line() for i in again.items if i.outcome != "unchanged"] == []
    assert len(again.items) == 8  # tenant, settings, 2 servers, template, webhook, account, slack
    assert dump(other.settings.effective_database_url) == before


def test_an_export_without_passphrase_holds_no_secret(
    ctx: Context, other: Context, actor: Actor
) -> None:
    build_acme(ctx, actor)
    document = _export(ctx)
    text = json.dumps(document)

    for secret in SECRETS.values():
        assert secret not in text
    tenant = document["tenants"][0]
    assert tenant["mail_servers"][0]["has_password"] is True
    assert "password" not in tenant["mail_servers"][0]
    assert "encryption" not in document

    report = _import(other, document, actor)
    assert stored_secrets(other, "acme") == dict.fromkeys(SECRETS)
    notes = {i.kind for i in report.items if i.note}
    assert notes == {"mail_server", "email_account", "webhook"}
    mine, theirs = owner_view(ctx, "acme"), owner_view(other, "acme")
    assert theirs["settings"] == mine["settings"]
    assert [s["name"] for s in theirs["servers"]] == ["Primary", "Backup"]
    assert theirs["servers"][0]["has_password"] is False


def test_an_export_with_a_passphrase_holds_only_sealed_secrets(ctx: Context, actor: Actor) -> None:
    build_acme(ctx, actor)
    text = json.dumps(_export(ctx, passphrase=PASSPHRASE))
    for secret in SECRETS.values():
        assert secret not in text
    assert '"kdf": "scrypt"' in text


def test_a_dry_run_reports_and_changes_nothing(ctx: Context, other: Context, actor: Actor) -> None:
    build_acme(ctx, actor)
    document = _export(ctx, passphrase=PASSPHRASE)
    before = dump(other.settings.effective_database_url)

    report = _import(other, document, actor, dry_run=True, passphrase=PASSPHRASE)

    assert _outcomes(report)["tenant"] == "created"
    assert _outcomes(report)["mail_server Primary"] == "created"
    assert "dry run" in report.summary()
    assert dump(other.settings.effective_database_url) == before


def test_changed_items_are_updated_naming_their_fields(
    ctx: Context, other: Context, actor: Actor
) -> None:
    build_acme(ctx, actor)
    document = _export(ctx, passphrase=PASSPHRASE)
    _import(other, document, actor, passphrase=PASSPHRASE)
    changed = copy.deepcopy(document)
    tenant = changed["tenants"][0]
    tenant["mail_servers"][0]["port"] = 2526
    tenant["mail_servers"][0]["default"], tenant["mail_servers"][1]["default"] = True, False
    tenant["settings"]["recipients"] = ["ops@acme.org"]
    tenant["templates"][0]["subject"] = "Perdu"
    tenant["webhooks"][0]["events"] = []
    tenant["name"] = "Acme Inc"
    tenant["email_accounts"][0]["mail_server"] = "Primary"
    tenant["mail_servers"].pop()  # absent from the file: kept

    report = _import(other, changed, actor, passphrase=PASSPHRASE)

    lines = {i.line() for i in report.items if i.outcome == "updated"}
    assert lines == {
        "tenant acme: updated (name)",
        "settings acme: updated (recipients)",
        "mail_server acme Primary: updated (port, default)",
        "template acme QUEUE_CALL_LOST/fr_FR: updated (subject)",
        "webhook acme https://hooks.acme.org/mailbell: updated (events)",
        "email_account acme support@acme.org: updated (mail_server)",
    }
    view = owner_view(other, "acme")
    assert [(s["name"], s["port"], s["default"]) for s in view["servers"]] == [
        ("Primary", 2526, True),
        ("Backup", 587, False),
    ]
    assert view["webhooks"][0]["events"] == [] and view["webhooks"][0]["has_secret"]
    assert view["accounts"][0]["mail_server_id"] == "Primary"
    assert stored_secrets(other, "acme")["webhook_secret"] == SECRETS["webhook_secret"]


def test_a_provider_preset_does_not_override_the_file(
    ctx: Context, other: Context, actor: Actor
) -> None:
    build_acme(ctx, actor)
    document = _export(ctx, passphrase=PASSPHRASE)
    _import(other, document, actor, passphrase=PASSPHRASE)
    # SendGrid's preset sets port 587 and username "apikey": the file keeps 2525 and its user.
    primary = document["tenants"][0]["mail_servers"][0]
    primary.update(provider="SENDGRID", host="smtp.sendgrid.net")

    report = _import(other, document, actor, passphrase=PASSPHRASE)
    again = _import(other, document, actor, passphrase=PASSPHRASE)

    assert "mail_server acme Primary: updated (provider, host)" in [i.line() for i in report.items]
    server = owner_view(other, "acme")["servers"][0]
    assert (server["provider"], server["port"], server["username"]) == (
        "SENDGRID",
        2525,
        "alerts@acme.org",
    )
    assert {i.outcome for i in again.items} == {"unchanged"}


def test_the_system_and_every_tenant(ctx: Context, other: Context, actor: Actor) -> None:
    from core.models.tenancy import NotificationSettingsUpdate
    from core.services.notifications import update_notification_settings

    build_acme(ctx, actor)
    with ctx.session() as session:
        changes = NotificationSettingsUpdate.parse(
            {"recipients": ["root@example.org"], "notify_disk_low": False}, system=True
        )
        update_notification_settings(
            session=session, box=ctx.box, tenant=None, changes=changes, actor=actor
        )
    document = _export(ctx, scope="all")
    assert _export(ctx, scope="system")["tenants"] == []

    _import(other, document, actor)
    again = _import(other, document, actor)

    assert owner_view(other, None) == owner_view(ctx, None)
    assert owner_view(other, "acme")["settings"] == owner_view(ctx, "acme")["settings"]
    assert {i.outcome for i in again.items} == {"unchanged"}
    assert again.items[0].owner == "system"


def test_a_wrong_passphrase_is_named_and_changes_nothing(
    ctx: Context, other: Context, actor: Actor
) -> None:
    build_acme(ctx, actor)
    document = _export(ctx, passphrase=PASSPHRASE)
    before = dump(other.settings.effective_database_url)

    with pytest.raises(ValidationError) as wrong:
        _import(other, document, actor, passphrase="not the passphrase")
    with pytest.raises(ValidationError) as missing:
        _import(other, document, actor)

    assert wrong.value.field == "passphrase" and "wrong" in str(wrong.value)
    assert missing.value.field == "passphrase" and "--passphrase-file" in str(missing.value)
    assert dump(other.settings.effective_database_url) == before


def test_an_altered_secret_is_named_by_its_path(ctx: Context, other: Context, actor: Actor) -> None:
    build_acme(ctx, actor)
    document = _export(ctx, passphrase=PASSPHRASE)
    document["tenants"][0]["email_accounts"][0]["imap_password"] = "AAAAAAAAAAAAAAAAAAAAAAAA"
    before = dump(other.settings.effective_database_url)

    with pytest.raises(ValidationError) as error:
        _import(other, document, actor, passphrase=PASSPHRASE)

    assert error.value.field == "tenants[0].email_accounts[0].imap_password"
    assert dump(other.settings.effective_database_url) == before


def test_an_unknown_version_is_refused(other: Context, actor: Actor) -> None:
    document = {"mailbell_export": 2, "scope": "all", "system": None, "tenants": []}
    with pytest.raises(ValidationError) as error:
        _import(other, document, actor)
    assert error.value.field == "mailbell_export"
    assert "version 2 is not supported" in str(error.value)
    assert "version 1" in str(error.value)


@pytest.mark.parametrize(
    ("path", "value", "named", "rule"),
    [
        (("mail_servers", 1, "port"), "587", "tenants[0].mail_servers[1].port", "integer"),
        (("mail_servers", 1, "port"), 70000, "tenants[0].mail_servers[1].port", "65535"),
        (("email_accounts", 0, "email"), None, "tenants[0].email_accounts[0].email", "string"),
        (("templates", 0, "colour"), "red", "tenants[0].templates[0].colour", "not a known"),
        (("settings", "recipients"), ["not an address"], "tenants[0].settings.recipients", ""),
    ],
)
def test_a_bad_document_names_the_json_path(
    ctx: Context,
    other: Context,
    actor: Actor,
    path: tuple[Any, ...],
    value: Any,
    named: str,
    rule: str,
) -> None:
    build_acme(ctx, actor)
    document = _export(ctx)
    target = document["tenants"][0]
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    before = dump(other.settings.effective_database_url)

    with pytest.raises(ValidationError) as error:
        _import(other, document, actor)

    assert error.value.field == named
    assert rule in str(error.value)
    assert dump(other.settings.effective_database_url) == before


def test_a_missing_key_is_named(other: Context, actor: Actor) -> None:
    document = {"mailbell_export": 1, "exported_at": "x", "scope": "all", "tenants": []}
    with pytest.raises(ValidationError) as error:
        _import(other, document, actor)
    assert (error.value.field, error.value.message) == ("system", "is required")
