"""A second, fresh mailbell (home, key file and database) to import an export into, and a tenant
with something of every kind an export carries.

    from tests.support.settings_copy import other_home  # noqa: F401

- `other_home`: a fresh MAILBELL_HOME with its own migrated database (a copy of the SQLite
  template, or a new PostgreSQL database) and its own key file: `(home, database_url)`.
- `other_context(other_home)`: a `Context` on it.
- `build_acme(ctx, actor)`: tenant acme set up (see its docstring); `SECRETS` are its secrets.
- `owner_view(ctx, slug)`: what the read models show of an owner, without ids and times.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.config import Settings
from core.context import Context, build_context
from core.services.audit import Actor

SECRETS = {
    "password": "smtp-pass-7f3a91",
    "imap_password": "imap-pass-c02be4",
    "webhook_secret": "hook-secret-55d0aa",
}
SLACK_TEAM, SLACK_CHANNEL = "T0EXPORT1", "C0EXPORT1"


@pytest.fixture
def other_home(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Path, str | None]]:
    home = tmp_path / "other-home"
    home.mkdir(mode=0o700)
    if request.config.getoption("--db") == "postgres":
        url: str | None = request.getfixturevalue("postgres_server").create_database()
    else:
        url = None
        database = home / "mailbell.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), database)
        database.chmod(0o600)
    yield home, url


def other_context(other_home: tuple[Path, str | None]) -> Context:
    home, url = other_home
    return build_context(Settings(home=home, database_url=url))


def build_acme(ctx: Context, actor: Actor) -> None:
    """Tenant acme ("Acme Corp"): servers "Primary" (password, port 2525) and "Backup" (the
    default, no authentication), an IMAP account on Backup, a custom French template, a signed
    webhook, recipients with two toggles, a digest policy, a time zone and locale, and a Slack
    channel mirroring one event."""
    from core.models.mail import EmailAccountCreate, MailServerCreate
    from core.models.tenancy import NotificationSettingsUpdate
    from core.models.webhooks import WebhookCreate
    from core.services import accounts, mail_servers, slack, templates, webhooks
    from core.services.notifications import update_notification_settings
    from core.services.tenants import create_tenant

    with ctx.session() as session:
        tenant = create_tenant(session=session, slug="acme", name="Acme Corp", actor=actor)
        primary = MailServerCreate.from_fields(
            {
                "name": "Primary",
                "host": "smtp.acme.org",
                "port": 2525,
                "auth": "PLAIN",
                "username": "alerts@acme.org",
                "password": SECRETS["password"],
                "rate_limit_per_minute": 30,
            }
        )
        mail_servers.create_mail_server(
            session=session, box=ctx.box, tenant=tenant, data=primary, actor=actor
        )
        backup = MailServerCreate.from_fields(
            {
                "name": "Backup",
                "host": "backup.acme.org",
                "auth": "DISABLE",
                "mail_from": "noreply@acme.org",
            }
        )
        made = mail_servers.create_mail_server(
            session=session, box=ctx.box, tenant=tenant, data=backup, actor=actor
        )
        mail_servers.set_default_mail_server(
            session=session, tenant=tenant, server_id=made.id, actor=actor
        )
        account = EmailAccountCreate.from_fields(
            {
                "email": "support@acme.org",
                "display_name": "Support Inbox",
                "mail_server_id": made.id,
                "imap_host": "imap.acme.org",
                "imap_username": "support@acme.org",
                "imap_password": SECRETS["imap_password"],
                "imap_folder": "Alerts",
            }
        )
        accounts.create_email_account(
            session=session, box=ctx.box, tenant=tenant, data=account, actor=actor
        )
        templates.create_custom_template(
            session=session,
            tenant=tenant,
            name="QUEUE_CALL_LOST",
            locale="fr_FR",
            subject="Appel perdu: {{ queue_name | default('?') }}",
            actor=actor,
        )
        webhooks.add_webhook(
            session=session,
            box=ctx.box,
            tenant=tenant,
            data=WebhookCreate(
                url="https://hooks.acme.org/mailbell",
                secret=SECRETS["webhook_secret"],
                events=["QUEUE_CALL_LOST"],
            ),
            actor=actor,
        )
        changes = NotificationSettingsUpdate.parse(
            {
                "recipients": ["ops@acme.org", "boss@acme.org"],
                "notify_queue_call_lost": True,
                "notify_user_registration": True,
                "recipient_mode": "bcc",
                "digest.QUEUE_CALL_LOST": "5/15m",
                "timezone": "Europe/Paris",
                "locale": "fr_FR",
            },
            system=False,
        )
        update_notification_settings(
            session=session, box=ctx.box, tenant=tenant, changes=changes, actor=actor
        )
        link = slack.link_channel(
            session=session,
            team_id=SLACK_TEAM,
            channel_id=SLACK_CHANNEL,
            tenant_slug="acme",
            actor=actor,
        )
        slack.add_routes(session=session, link=link, names=["queue_call_lost"], actor=actor)


_TIMES = {"created_at", "updated_at", "last_test_at", "last_sync_at", "next_sync_at"}
# What a sync found, not what an admin set: an imported account has not synced yet.
_SYNC_STATE = {"message_count", "sync_state"}


def owner_view(ctx: Context, slug: str | None) -> dict[str, Any]:
    """The owner's settings, servers, accounts, templates, webhooks and Slack routes as the read
    models show them: ids replaced by names, times and sync state left out (both differ between
    databases)."""
    from core.models.tenancy import Tenant
    from core.services import accounts, mail_servers, slack, templates, webhooks
    from core.services.notifications import get_notification_settings
    from core.services.tenants import get_tenant

    with ctx.session() as session:
        tenant: Tenant | None = get_tenant(session=session, slug=slug) if slug else None
        servers = mail_servers.list_mail_servers(session=session, tenant=tenant)
        names = {server.id: server.name for server in servers}
        view: dict[str, Any] = {
            "settings": get_notification_settings(session=session, tenant=tenant).model_dump(),
            "servers": [s.model_dump(exclude={"id", *_TIMES}) for s in servers],
            "templates": [
                t.model_dump(exclude=_TIMES)
                for t in templates.list_custom_templates(session=session, tenant=tenant)
            ],
            "webhooks": [
                h.model_dump(exclude={"id", *_TIMES})
                for h in webhooks.list_webhooks(session=session, tenant=tenant)
            ],
        }
        if tenant is not None:
            view["name"] = tenant.name
            view["accounts"] = [
                {
                    **a.model_dump(exclude={"id", *_TIMES, *_SYNC_STATE}),
                    "mail_server_id": names[a.mail_server_id],
                }
                for a in accounts.list_email_accounts(session=session, tenant=tenant)
            ]
            view["slack"] = [
                vars(link) for link in slack.list_links(session=session, tenant=tenant)
            ]
    return view


def stored_secrets(ctx: Context, slug: str) -> dict[str, str | None]:
    """The secrets acme's rows hold, opened with `ctx`'s key ring (None where none is stored)."""
    from sqlmodel import select

    from core.models.mail import EmailAccount, MailServer
    from core.models.webhooks import WebhookTarget
    from core.services.tenants import get_tenant

    def opened(token: str | None) -> str | None:
        return ctx.box.decrypt(token) if token is not None else None

    with ctx.session() as session:
        tenant = get_tenant(session=session, slug=slug)
        server = session.exec(
            select(MailServer).where(
                MailServer.tenant_id == tenant.id, MailServer.name == "Primary"
            )
        ).one()
        account = session.exec(
            select(EmailAccount).where(EmailAccount.tenant_id == tenant.id)
        ).one()
        hook = session.exec(select(WebhookTarget).where(WebhookTarget.tenant_id == tenant.id)).one()
        return {
            "password": opened(server.password_enc),
            "imap_password": opened(account.imap_password_enc),
            "webhook_secret": opened(hook.secret_enc),
        }
