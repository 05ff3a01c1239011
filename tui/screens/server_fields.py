"""Mail server form: the choices it offers and the save it runs (core services only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tui.runtime import actor, owner

if TYPE_CHECKING:
    from core.context import Context

PROVIDERS = [
    ("SMTP (any server)", "SMTP"),
    ("Gmail", "GMAIL"),
    ("Microsoft 365", "MS365"),
    ("SendGrid", "SENDGRID"),
]
SECURITY = [
    ("STARTTLS, required (587)", "starttls"),
    ("TLS, implicit (465)", "tls"),
    ("STARTTLS if offered", "starttls-auto"),
    ("None (plain text)", "none"),
]
AUTH = [
    ("Auto", "AUTO"),
    ("PLAIN", "PLAIN"),
    ("LOGIN", "LOGIN"),
    ("XOAUTH2 (OAuth 2.0)", "XOAUTH2"),
    ("Disabled (no AUTH)", "DISABLE"),
]
TEXT_FIELDS = (
    "name",
    "host",
    "port",
    "username",
    "password",
    "mail_from",
    "reply_to",
    "timeout",
    "rate_limit_per_minute",
    "ca_file",
    "oauth_client_id",
    "oauth_client_secret",
    "oauth_directory_id",
)
SECRETS = ("password", "oauth_client_secret")


def save_server(
    ctx: Context, slug: str | None, server_id: int | None, changes: dict[str, Any]
) -> str:
    from core.models.mail import MailServerCreate, MailServerUpdate
    from core.services.mail_servers import create_mail_server, update_mail_server

    with ctx.session() as session:
        tenant = owner(session, slug)
        if server_id is None:
            server = create_mail_server(
                session=session,
                box=ctx.box,
                tenant=tenant,
                data=MailServerCreate.from_fields(changes),
                actor=actor(),
            )
        else:
            server = update_mail_server(
                session=session,
                box=ctx.box,
                tenant=tenant,
                server_id=server_id,
                changes=MailServerUpdate.from_fields(changes),
                actor=actor(),
            )
        return server.name
