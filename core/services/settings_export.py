"""Export of owners' settings as a versioned JSON document (`mailbell export`); its shape is
core.services.settings_document's, and core.services.settings_import reads it back.

Ids are left out: they differ between databases, so servers and accounts are named by name and
address, templates by (name, locale), webhooks by URL. Secrets are left out too (a `has_…`
flag says one exists) unless a passphrase is given: each secret is then sealed with AES-GCM
under a key derived from the passphrase with scrypt (a random salt in the document), so the
file can travel to a database whose key ring is another.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from core.crypto import SecretBox
from core.errors import ValidationError
from core.models._common import owned_by, utcnow
from core.models.mail import (
    MAIL_SERVER_SECRETS,
    EmailAccount,
    EmailAccountRead,
    MailServer,
    MailServerRead,
)
from core.models.slack import SlackChannelLink
from core.models.tenancy import Tenant
from core.models.webhooks import WebhookTarget
from core.services.mail_server_fields import owner_query
from core.services.notifications import get_notification_settings
from core.services.settings_document import (
    ACCOUNT_FIELDS,
    EXPORT_VERSION,
    SERVER_FIELDS,
    TEMPLATE_PARTS,
    PassphraseSeal,
    Scope,
)
from core.services.slack import list_routes
from core.services.templates import list_custom_templates
from core.services.tenants import get_tenant, list_tenants

# -- export -----------------------------------------------------------------------------------


def _secrets(box: SecretBox, seal: PassphraseSeal | None, row: Any, columns: Mapping[str, str]):
    """Each secret the row holds, sealed under the passphrase (none without one)."""
    for name, column in columns.items():
        stored = getattr(row, column)
        if seal is not None and stored is not None:
            yield name, seal.seal(box.decrypt(stored))


def _settings(session: Session, tenant: Tenant | None) -> dict[str, Any]:
    read = get_notification_settings(session=session, tenant=tenant)
    settings: dict[str, Any] = {
        "recipients": read.recipients,
        "toggles": read.toggles,
        "recipient_mode": read.recipient_mode,
        "digests": read.digests,
        "timezone": read.timezone,
        "locale": read.locale,
    }
    if tenant is None:
        settings["apply_to_all_tenants"] = read.apply_to_all_tenants
    else:
        settings["use_system_server"] = read.use_system_server
    return settings


def _servers(session: Session, box: SecretBox, tenant: Tenant | None, seal: Any) -> Iterator[dict]:
    for row in session.exec(owner_query(tenant).order_by(col(MailServer.id))):
        read = MailServerRead.of(row)
        yield {
            "name": read.name,
            **{name: getattr(read, name) for name in SERVER_FIELDS},
            "default": read.default,
            "has_password": read.has_password,
            "has_proxy_password": read.has_proxy_password,
            "has_oauth_client_secret": read.has_oauth_client_secret,
            **dict(_secrets(box, seal, row, MAIL_SERVER_SECRETS)),
        }


def _accounts(session: Session, box: SecretBox, tenant: Tenant, seal: Any) -> Iterator[dict]:
    names = {row.id: row.name for row in session.exec(owner_query(tenant))}
    query = select(EmailAccount).where(EmailAccount.tenant_id == tenant.id)
    for row in session.exec(query.order_by(col(EmailAccount.id))):
        read = EmailAccountRead.of(row)
        yield {
            "email": read.email,
            **{name: getattr(read, name) for name in ACCOUNT_FIELDS},
            "mail_server": names.get(read.mail_server_id),
            "default": read.default,
            "has_imap_password": read.has_imap_password,
            **dict(_secrets(box, seal, row, {"imap_password": "imap_password_enc"})),
        }


def _webhooks(session: Session, box: SecretBox, tenant: Tenant | None, seal: Any) -> list[dict]:
    owner = owned_by(WebhookTarget.tenant_id, tenant)
    rows = session.exec(select(WebhookTarget).where(owner).order_by(col(WebhookTarget.id)))
    return [
        {
            "url": row.url,
            "events": list(row.events),
            "has_secret": row.secret_enc is not None,
            **dict(_secrets(box, seal, row, {"secret": "secret_enc"})),
        }
        for row in rows
    ]


def _owner(session: Session, box: SecretBox, tenant: Tenant | None, seal: Any) -> dict[str, Any]:
    templates = list_custom_templates(session=session, tenant=tenant)
    return {
        "settings": _settings(session, tenant),
        "mail_servers": list(_servers(session, box, tenant, seal)),
        "templates": [
            {"name": t.name, "locale": t.locale, **{p: getattr(t, p) for p in TEMPLATE_PARTS}}
            for t in templates
        ],
        "webhooks": _webhooks(session, box, tenant, seal),
    }


def _tenant(session: Session, box: SecretBox, tenant: Tenant, seal: Any) -> dict[str, Any]:
    query = select(SlackChannelLink).where(SlackChannelLink.tenant_id == tenant.id)
    links = session.exec(query.order_by(col(SlackChannelLink.id)))
    return {
        "slug": tenant.slug,
        "name": tenant.name,
        **_owner(session, box, tenant, seal),
        "email_accounts": list(_accounts(session, box, tenant, seal)),
        "slack_channels": [
            {
                "team_id": link.team_id,
                "channel_id": link.channel_id,
                "routes": list_routes(session=session, link=link),
            }
            for link in links
        ],
    }


def export_settings(
    *,
    session: Session,
    box: SecretBox,
    scope: Scope,
    tenant_slug: str | None = None,
    passphrase: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The document of one tenant (`scope` "tenant", `tenant_slug`), of the system, or of
    both; secrets sealed under `passphrase` when given, else left out."""
    seal = PassphraseSeal(passphrase) if passphrase is not None else None
    if scope == "tenant":
        if not tenant_slug:
            raise ValidationError("tenant", "is required to export one tenant")
        tenants = [get_tenant(session=session, slug=tenant_slug)]
    else:
        tenants = list_tenants(session=session) if scope == "all" else []
    document: dict[str, Any] = {
        "mailbell_export": EXPORT_VERSION,
        "exported_at": (now or utcnow()).isoformat(),
        "scope": scope,
        "system": None if scope == "tenant" else _owner(session, box, None, seal),
        "tenants": [_tenant(session, box, tenant, seal) for tenant in tenants],
    }
    if seal is not None:
        document["encryption"] = seal.header()
    return document
