"""One owner's part of a settings import: its settings, servers, templates and webhooks (and a
tenant's accounts and Slack channels), each compared with what the database holds and changed
through its service only where it differs. core.services.settings_import runs it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from sqlmodel import Session, select

from core.crypto import SecretBox
from core.digest_policy import setting_name as digest_setting_name
from core.errors import ValidationError
from core.mail.presets import preset_for
from core.models._common import owned_by
from core.models.mail import (
    MAIL_SERVER_SECRETS,
    MailServer,
    MailServerCreate,
    MailServerRead,
    MailServerUpdate,
)
from core.models.templates import TemplateUpdate
from core.models.tenancy import NotificationSettingsUpdate, Tenant
from core.models.webhooks import WebhookCreate, WebhookTarget
from core.services import mail_servers, templates, webhooks
from core.services.accounts import same_secret
from core.services.audit import Actor
from core.services.mail_server_fields import owner_query
from core.services.notifications import get_notification_settings, update_notification_settings
from core.services.settings_document import (
    SERVER_FIELDS,
    TEMPLATE_PARTS,
    OwnerDoc,
    PassphraseSeal,
    ServerDoc,
    SettingsDoc,
)

Outcome = Literal["created", "updated", "unchanged"]
NO_SECRET_NOTE = "its secrets are not in the file: set them again (export --with-secrets)"


@dataclass(frozen=True)
class ImportItem:
    """What the import did (or, in a dry run, would do) to one thing of the document."""

    kind: str  # tenant, settings, mail_server, email_account, template, webhook, slack_channel
    owner: str  # the tenant's slug, or "system"
    key: str  # how the document names it: a server's name, an account's address, …
    outcome: Outcome
    fields: tuple[str, ...] = ()
    note: str | None = None

    def line(self) -> str:
        text = f"{self.kind} {self.owner}"
        text += f" {self.key}: " if self.key else ": "
        text += self.outcome
        if self.fields:
            text += f" ({', '.join(self.fields)})"
        return f"{text} — {self.note}" if self.note else text


@contextmanager
def within(path: str) -> Iterator[None]:
    """A rule broken inside `path`: the error names the field by its path in the document."""
    try:
        yield
    except ValidationError as exc:
        raise ValidationError(f"{path}.{exc.field}", exc.message) from None


@dataclass
class OwnerImport:
    session: Session
    box: SecretBox
    actor: Actor
    seal: PassphraseSeal | None
    tenant: Tenant | None

    @property
    def label(self) -> str:
        return self.tenant.slug if self.tenant is not None else "system"

    def _item(
        self, kind: str, key: str, fields: list[str], *, new: bool = False, note: str | None = None
    ) -> ImportItem:
        outcome: Outcome = "created" if new else "updated" if fields else "unchanged"
        return ImportItem(kind, self.label, key, outcome, () if new else tuple(fields), note)

    def _secrets(self, doc: Any, names: Any, path: str) -> dict[str, str]:
        """The secrets the document carries for this item, opened with the passphrase."""
        if self.seal is None:
            return {}
        opened = {}
        for name in names:
            token = getattr(doc, name)
            if token is not None:
                opened[name] = self.seal.open(token, f"{path}.{name}")
        return opened

    def _note(self, doc: Any, flags: dict[str, str], given: dict[str, str]) -> str | None:
        """Said when the file flags a secret it does not carry (exported without a passphrase)."""
        missing = [name for flag, name in flags.items() if getattr(doc, flag) and name not in given]
        return NO_SECRET_NOTE if missing else None

    # -- the owner's own ----------------------------------------------------------------------

    def apply(self, doc: OwnerDoc, path: str) -> list[ImportItem]:
        items = [self._settings(doc.settings, f"{path}.settings")]
        items += self._servers(doc.mail_servers, f"{path}.mail_servers")
        items += self._templates(doc, f"{path}.templates")
        items += self._webhooks(doc, f"{path}.webhooks")
        return items

    def _settings(self, doc: SettingsDoc, path: str) -> ImportItem:
        current = get_notification_settings(session=self.session, tenant=self.tenant)
        changes: dict[str, Any] = {}
        if doc.recipients != current.recipients:
            changes["recipients"] = doc.recipients
        changes |= {n: on for n, on in doc.toggles.items() if current.toggles.get(n) != on}
        scoped = "apply_to_all_tenants" if self.tenant is None else "use_system_server"
        for name in ("recipient_mode", scoped):
            if getattr(doc, name) is not None and getattr(doc, name) != getattr(current, name):
                changes[name] = getattr(doc, name)
        for event, policy in doc.digests.items():
            if current.digests.get(event) != policy:
                changes[digest_setting_name(event)] = policy
        for name in ("timezone", "locale"):
            if getattr(doc, name) != getattr(current, name):
                changes[name] = getattr(doc, name) or ""  # "" follows the system's again
        if changes:
            with within(path):
                update = NotificationSettingsUpdate.parse(changes, system=self.tenant is None)
                update_notification_settings(
                    session=self.session,
                    box=self.box,
                    tenant=self.tenant,
                    changes=update,
                    actor=self.actor,
                )
        return self._item("settings", "", list(changes))

    def _server_changes(self, doc: ServerDoc, row: MailServer, secrets: dict) -> dict[str, Any]:
        read = MailServerRead.of(row)
        changes = {n: getattr(doc, n) for n in SERVER_FIELDS if getattr(doc, n) != getattr(read, n)}
        for name, value in secrets.items():
            if not same_secret(self.box, getattr(row, MAIL_SERVER_SECRETS[name]), value):
                changes[name] = value
        return changes

    def _converge(self, row: MailServer, doc: ServerDoc, changes: dict, secrets: dict) -> None:
        """Update the server until it matches the file. A change of provider fills the fields
        not given from the provider's preset: the file's values are given for them too, and a
        field the file leaves empty which the preset filled is emptied by a second pass."""
        for _ in range(2):
            if not changes:
                return
            given = dict(changes)
            if "provider" in given:
                preset = preset_for(doc.provider)
                given |= {n: getattr(doc, n) for n in preset if getattr(doc, n) is not None}
            mail_servers.update_mail_server(
                session=self.session,
                box=self.box,
                tenant=self.tenant,
                server_id=row.id or 0,
                changes=MailServerUpdate.from_fields(given),
                actor=self.actor,
            )
            changes = self._server_changes(doc, row, secrets)

    def _servers(self, docs: list[ServerDoc], path: str) -> list[ImportItem]:
        rows = {row.name: row for row in self.session.exec(owner_query(self.tenant))}
        items: dict[str, ImportItem] = {}
        for index, doc in enumerate(docs):
            where = f"{path}[{index}]"
            secrets = self._secrets(doc, MAIL_SERVER_SECRETS, where)
            note = self._note(doc, {f"has_{n}": n for n in MAIL_SERVER_SECRETS}, secrets)
            row = rows.get(doc.name)
            with within(where):
                if row is None:
                    given = {n: getattr(doc, n) for n in SERVER_FIELDS}
                    data = {n: v for n, v in given.items() if v not in (None, "")}
                    data = {"name": doc.name, **data, **secrets}
                    created = mail_servers.create_mail_server(
                        session=self.session,
                        box=self.box,
                        tenant=self.tenant,
                        data=MailServerCreate.from_fields(data),
                        actor=self.actor,
                    )
                    row = mail_servers.mail_server_row(
                        session=self.session, tenant=self.tenant, server_id=created.id
                    )
                changes = self._server_changes(doc, row, secrets)
                self._converge(row, doc, changes, secrets)
            new = doc.name not in rows
            items[doc.name] = self._item("mail_server", doc.name, list(changes), new=new, note=note)
            rows[doc.name] = row
        default = next((doc.name for doc in docs if doc.default), None)
        if default is not None and not rows[default].is_default:
            mail_servers.set_default_mail_server(
                session=self.session,
                tenant=self.tenant,
                server_id=rows[default].id or 0,
                actor=self.actor,
            )
            item = items[default]
            if item.outcome != "created":
                items[default] = self._item(
                    "mail_server", default, [*item.fields, "default"], note=item.note
                )
        return list(items.values())

    def _templates(self, doc: OwnerDoc, path: str) -> list[ImportItem]:
        stored = {
            (row.name, row.locale): row
            for row in templates.list_custom_templates(session=self.session, tenant=self.tenant)
        }
        items = []
        for index, entry in enumerate(doc.templates):
            key = f"{entry.name}/{entry.locale}" if entry.locale else entry.name
            parts = {part: getattr(entry, part) for part in TEMPLATE_PARTS}
            row = stored.get((entry.name, entry.locale))
            with within(f"{path}[{index}]"):
                if row is None:
                    templates.create_custom_template(
                        session=self.session,
                        tenant=self.tenant,
                        name=entry.name,
                        locale=entry.locale,
                        actor=self.actor,
                        **parts,
                    )
                    items.append(self._item("template", key, [], new=True))
                    continue
                changed = {p: v for p, v in parts.items() if getattr(row, p) != v}
                if changed:
                    templates.update_custom_template(
                        session=self.session,
                        tenant=self.tenant,
                        name=entry.name,
                        locale=entry.locale,
                        changes=TemplateUpdate.model_validate(changed),
                        actor=self.actor,
                    )
            items.append(self._item("template", key, list(changed)))
        return items

    def _webhooks(self, doc: OwnerDoc, path: str) -> list[ImportItem]:
        owner = owned_by(WebhookTarget.tenant_id, self.tenant)
        stored = {row.url: row for row in self.session.exec(select(WebhookTarget).where(owner))}
        items = []
        for index, entry in enumerate(doc.webhooks):
            where = f"{path}[{index}]"
            secret = self._secrets(entry, ("secret",), where).get("secret")
            with within(where):
                url = webhooks.clean_url(entry.url)
                events = webhooks.clean_events(list(entry.events), self.tenant)
                row = stored.get(url)
                changed = []
                if row is not None:
                    changed = ["events"] if list(row.events) != events else []
                    if secret is not None and not same_secret(self.box, row.secret_enc, secret):
                        changed.append("secret")
                    if changed:
                        # No update service: the target is replaced (keeping its secret).
                        if secret is None and row.secret_enc is not None:
                            secret = self.box.decrypt(row.secret_enc)
                        webhooks.remove_webhook(
                            session=self.session,
                            tenant=self.tenant,
                            webhook_id=row.id or 0,
                            actor=self.actor,
                        )
                if row is None or changed:
                    webhooks.add_webhook(
                        session=self.session,
                        box=self.box,
                        tenant=self.tenant,
                        data=WebhookCreate(url=url, secret=secret, events=events),
                        actor=self.actor,
                    )
            note = NO_SECRET_NOTE if entry.has_secret and row is None and secret is None else None
            items.append(self._item("webhook", url, changed, new=row is None, note=note))
        return items
