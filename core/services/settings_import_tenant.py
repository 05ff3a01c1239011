"""A tenant's part of a settings import beyond what every owner has: its email accounts
(their mail server named by name) and its Slack channels with their routes."""

from __future__ import annotations

from sqlmodel import select

from core.errors import ValidationError
from core.models.mail import EmailAccount, EmailAccountCreate, EmailAccountRead, EmailAccountUpdate
from core.services import accounts
from core.services import slack as slack_links
from core.services.mail_server_fields import owner_query
from core.services.settings_document import ACCOUNT_FIELDS, AccountDoc, SlackChannelDoc
from core.services.settings_import_owner import ImportItem, OwnerImport, within


class TenantImport(OwnerImport):
    """A tenant's import: every owner's parts (`apply`), then its accounts and channels."""

    def apply_accounts(self, docs: list[AccountDoc], path: str) -> list[ImportItem]:
        assert self.tenant is not None
        servers = {row.name: row.id for row in self.session.exec(owner_query(self.tenant))}
        query = select(EmailAccount).where(EmailAccount.tenant_id == self.tenant.id)
        rows = {row.email.lower(): row for row in self.session.exec(query)}
        items, default = [], None
        for index, doc in enumerate(docs):
            where = f"{path}[{index}]"
            if doc.mail_server is not None and doc.mail_server not in servers:
                raise ValidationError(
                    f"{where}.mail_server",
                    f"names no mail server of {self.label}: {doc.mail_server!r}",
                )
            secrets = self._secrets(doc, ("imap_password",), where)
            note = self._note(doc, {"has_imap_password": "imap_password"}, secrets)
            wanted = {name: getattr(doc, name) for name in ACCOUNT_FIELDS}
            wanted["mail_server_id"] = servers.get(doc.mail_server) if doc.mail_server else None
            row = rows.get(doc.email.lower())
            with within(where):
                if row is None:
                    data = {n: v for n, v in wanted.items() if v not in (None, "")}
                    created = accounts.create_email_account(
                        session=self.session,
                        box=self.box,
                        tenant=self.tenant,
                        data=EmailAccountCreate.from_fields(
                            {"email": doc.email, **data, **secrets}
                        ),
                        actor=self.actor,
                    )
                    items.append(self._item("email_account", doc.email, [], new=True, note=note))
                    account_id = created.id
                else:
                    account_id = row.id or 0
                    read = EmailAccountRead.of(row)
                    changes = {n: v for n, v in wanted.items() if getattr(read, n) != v}
                    if "imap_password" in secrets and not accounts.same_secret(
                        self.box, row.imap_password_enc, secrets["imap_password"]
                    ):
                        changes["imap_password"] = secrets["imap_password"]
                    if changes:
                        accounts.update_email_account(
                            session=self.session,
                            box=self.box,
                            tenant=self.tenant,
                            account_id=account_id,
                            changes=EmailAccountUpdate.from_fields(changes),
                            actor=self.actor,
                        )
                    # named as the file names them: the server by its name
                    fields = [n.removesuffix("_id") for n in changes]
                    items.append(self._item("email_account", doc.email, fields, note=note))
            if doc.default:
                default = (len(items) - 1, account_id, row is not None and row.is_default)
        if default is not None and not default[2]:
            index, account_id, _ = default
            accounts.set_default_email_account(
                session=self.session, tenant=self.tenant, account_id=account_id, actor=self.actor
            )
            item = items[index]
            if item.outcome != "created":
                items[index] = self._item(
                    "email_account", item.key, [*item.fields, "default"], note=item.note
                )
        return items

    def apply_slack(self, docs: list[SlackChannelDoc], path: str) -> list[ImportItem]:
        assert self.tenant is not None
        items = []
        for index, doc in enumerate(docs):
            key = f"{doc.team_id}/{doc.channel_id}"
            with within(f"{path}[{index}]"):
                link = slack_links.get_link(
                    session=self.session, team_id=doc.team_id, channel_id=doc.channel_id
                )
                new = link is None
                changed = []
                if link is not None and link.tenant_id != self.tenant.id:
                    changed.append("tenant")
                if link is None or changed:
                    link = slack_links.link_channel(
                        session=self.session,
                        team_id=doc.team_id,
                        channel_id=doc.channel_id,
                        tenant_slug=self.tenant.slug,
                        actor=self.actor,
                    )
                current = slack_links.list_routes(session=self.session, link=link)
                missing = [name for name in doc.routes if name not in current]
                if missing:
                    slack_links.add_routes(
                        session=self.session,
                        link=link,
                        names=missing,
                        actor=self.actor,
                        system_admin=True,
                    )
                    changed.append("routes")
            items.append(self._item("slack_channel", key, changed, new=new))
        return items
