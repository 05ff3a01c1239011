"""Authorize a GMAIL / MS365 mail server for XOAUTH2: the one use case every front end calls.

`start_authorization` reads the server and gives the consent URL with a fresh state (nothing
is written). The admin opens the URL anywhere, accepts, and hands back the address the browser
was sent to (or just its code): `complete_authorization` checks the state, trades the code for
tokens, stores them encrypted on the server and writes the audit entry, in one commit. A new
authorization clears what the old one left: the revoked mark (deliveries fail at once while it
is set), refusals of the old token, and the wait of deliveries queued for the server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from core.errors import NotFound, ValidationError
from core.mail.oauth import OAuthClient
from core.mail.oauth_authorize import (
    AuthorizationRequest,
    build_authorization_request,
    exchange_code,
    parse_redirect,
)
from core.mail.oauth_server import store_tokens
from core.models._common import utcnow
from core.models.tenancy import Tenant
from core.services.audit import SECRET_CHANGE, Actor, record
from core.services.mail_server_fields import credentials_changed
from core.services.mail_servers import mail_server_row

if TYPE_CHECKING:
    from sqlmodel import Session

    from core.config import Settings
    from core.context import Context
    from core.crypto import SecretBox

__all__ = [
    "OAuthAuthorized",
    "OAuthStart",
    "complete_authorization",
    "start_authorization",
]


@dataclass(frozen=True)
class OAuthStart:
    """A pending authorization: what to show (`url`, `redirect_uri`) and what completes it."""

    server_id: int
    tenant_id: int | None
    url: str
    redirect_uri: str
    state: str
    client: OAuthClient = field(repr=False)
    request: AuthorizationRequest = field(repr=False)


@dataclass(frozen=True)
class OAuthAuthorized:
    server_id: int
    tenant: str | None  # slug
    expires_at: datetime  # of the access token just received
    auth: str  # the server's auth mode: tokens only send when it is XOAUTH2


def start_authorization(
    *,
    session: Session,
    settings: Settings,
    box: SecretBox,
    tenant: Tenant | None,
    server_id: int,
) -> OAuthStart:
    """The consent URL for server `server_id` of this owner (another owner's is not found)."""
    server = mail_server_row(session=session, tenant=tenant, server_id=server_id)
    client = OAuthClient.from_server(server, settings=settings, box=box)
    hint = server.username if server.username and "@" in server.username else None
    request = build_authorization_request(client, login_hint=hint)
    return OAuthStart(
        server_id=server_id,
        tenant_id=tenant.id if tenant is not None else None,
        url=request.url,
        redirect_uri=request.redirect_uri,
        state=request.state,
        client=client,
        request=request,
    )


async def complete_authorization(
    *,
    ctx: Context,
    start: OAuthStart,
    actor: Actor,
    redirect_url: str | None = None,
    code: str | None = None,
) -> OAuthAuthorized:
    """Exchange the code (from the pasted redirect URL, or given alone) and keep the tokens.

    A redirect URL is checked against the start's state; a bare code is taken as is (the
    front end got it from a channel it trusts). The exchange runs outside any transaction.
    """
    if redirect_url is not None:
        code = parse_redirect(redirect_url, expected_state=start.state)
    elif not code or not code.strip():
        raise ValidationError("code", "is required: give the redirect URL or the code")
    tokens = await exchange_code(start.client, start.request, code.strip())
    with ctx.session() as session:
        owner = session.get(Tenant, start.tenant_id) if start.tenant_id is not None else None
        if start.tenant_id is not None and owner is None:
            raise NotFound(f"mail server {start.server_id} does not exist (its tenant is gone)")
        server = mail_server_row(session=session, tenant=owner, server_id=start.server_id)
        store_tokens(server, tokens, box=ctx.box)
        # A new pool everywhere: the old one's token provider still holds the revoked grant.
        server.updated_at = utcnow()
        credentials_changed(server)
        session.add(server)
        slug = owner.slug if owner is not None else None
        record(
            session,
            actor=actor,
            action="mail_server.oauth_authorize",
            tenant=slug,
            target=f"mail_server:{start.server_id}",
            changes={"oauth_tokens": SECRET_CHANGE},
        )
        auth = server.auth
        session.commit()
    return OAuthAuthorized(
        server_id=start.server_id, tenant=slug, expires_at=tokens.expires_at, auth=auth
    )
