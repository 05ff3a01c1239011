"""The rules a mail server's row obeys, applied inside the caller's transaction (nothing here
commits): who may set what, presets, write-only secrets, the OAuth identity, completeness, the
network fence, one name and one default per owner, and what a change of credentials undoes
(the refusal pause, the revoked authorization), the proxy and its password. Field values are
checked before they get
here, by the models of core.models.mail. `core.services.mail_servers` runs these rules and
commits; the notification settings run them inside their own all-or-nothing update.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import object_session
from sqlmodel import Session, col, select

from core import netfence
from core import validation as v
from core.crypto import SecretBox
from core.errors import ValidationError
from core.mail.auth_guard import wake_waiting_deliveries
from core.mail.presets import preset_for
from core.mail.proxy_url import parse_proxy
from core.models._common import owned_by, owner_label, utcnow
from core.models.mail import MailServer, MailServerCreate, MailServerUpdate
from core.models.tenancy import Tenant
from core.services.audit import (
    SECRET_CHANGE,
    Actor,
    Changes,
    record,
    text_summary,
    values_of,
)
from core.vocabulary import AuthMode

SECRET_INPUTS = {"password": "password_enc", "oauth_client_secret": "oauth_client_secret_enc"}
# Applied by `apply_proxy`: the URL is stored without its password, the password encrypted.
PROXY_INPUTS = ("proxy", "proxy_password")
OAUTH_TOKEN_COLUMNS = (
    "oauth_refresh_token_enc",
    "oauth_access_token_enc",
    "oauth_token_expires_at",
)
# Tokens are issued to one client and one user: changing any of these makes them someone else's.
OAUTH_IDENTITY_FIELDS = (
    "provider",
    "oauth_client_id",
    "oauth_client_secret",
    "oauth_directory_id",
    "username",
)

# A server's fields its deletion's audit entry keeps, derived from its input model (a field
# added there is kept with no edit here); secrets, the proxy (its stored URL) and the CA bundle
# (summarized) apart.
AUDITED_COLUMNS = tuple(
    name
    for name in MailServerUpdate.model_fields
    if name not in SECRET_INPUTS and name not in (*PROXY_INPUTS, "ca_pem")
)

# Another login: the server's refusals of the old one (core/mail/auth_guard.py) no longer count.
CREDENTIAL_FIELDS = frozenset(
    {"host", "port", "auth", "username", "password", "provider", *OAUTH_IDENTITY_FIELDS}
)


class SystemOnlyField(ValidationError):
    """A field only system-level actors may set (the API answers 403)."""


def owner_query(tenant: Tenant | None) -> Any:
    return select(MailServer).where(owned_by(MailServer.tenant_id, tenant))


def find_default(session: Session, tenant: Tenant | None) -> MailServer | None:
    return session.exec(owner_query(tenant).where(col(MailServer.is_default).is_(True))).first()


def has_sender(server: MailServer) -> bool:
    """A From can be made: `mail_from`, or a username that is an address."""
    if server.mail_from:
        return True
    if not server.username or "@" not in server.username:
        return False
    try:
        v.email_address("username", server.username)
    except ValidationError:
        return False
    return True


def check_complete(server: MailServer) -> None:
    if not server.host:
        raise ValidationError("host", "is required: the SMTP server's host name or address")
    if server.auth != AuthMode.DISABLE and not server.username:
        raise ValidationError(
            "username", f"is required when auth is {server.auth} (or set auth to DISABLE)"
        )
    if not has_sender(server):
        # Refused now rather than failing every later email for want of a From.
        raise ValidationError(
            "mail_from",
            "is required: set the From address (the username "
            + (f"{server.username!r} is not an address)" if server.username else "is empty)"),
        )


def check_actor_rights(
    data: Mapping[str, Any], server: MailServer | None, actor: Actor, *, field: str = "ca_file"
) -> None:
    """Input a tenant-scoped actor may not give: any change of `ca_file` (a host path), refused
    whatever else the input holds, so the answer says nothing about the file."""
    if not actor.tenant_scoped or "ca_file" not in data:
        return
    value = data["ca_file"]
    current = server.ca_file if server is not None else None
    unchanged = (value in (None, "") and current is None) or (
        isinstance(value, str) and current is not None and value.strip() == current
    )
    if not unchanged:
        raise ca_file_refused(field)


def ca_file_refused(field: str = "ca_file") -> SystemOnlyField:
    """The refusal of a `ca_file` from a tenant-scoped actor. It is also the answer when the
    value breaks a rule: a path's validity is no business of a tenant's either."""
    return SystemOnlyField(
        field,
        "can be set only by a system administrator (CLI, TUI or a system token); "
        "send the CA bundle as PEM text in ca_pem instead",
    )


def fence_host(server: MailServer, actor: Actor, *, field: str = "host") -> None:
    """A tenant-scoped actor's save: the host (and the proxy's) must be allowed, and the row is
    marked fenced so that every connection checks them again; a system-level actor's save
    clears the mark."""
    if not actor.tenant_scoped:
        server.fenced = False
        return
    netfence.check_host(field, server.host)
    if server.proxy_url:
        netfence.check_host("proxy", parse_proxy("proxy", server.proxy_url).host)
    server.fenced = True


def apply_proxy(box: SecretBox, server: MailServer, given: Mapping[str, Any]) -> Changes:
    """`proxy` (a URL, perhaps with `user:password@`; None clears) and `proxy_password`.
    Returns what changed (the proxy as its stored URL, which carries no password).

    The stored password goes only to the proxy it was given for: it is kept while the URL
    (scheme, user, host, port) stays the same, and dropped when that changes without a new one.
    """
    if "proxy" not in given and not given.get("proxy_password"):
        return {}
    before = server.proxy_url
    if "proxy" in given and given["proxy"] is None:
        changed: Changes = {}
        if server.proxy_url or server.proxy_password_enc:
            changed["proxy"] = (before, None)
        server.proxy_url = None
        server.proxy_password_enc = None
        return changed
    field = "proxy" if "proxy" in given else "proxy_password"
    if field == "proxy_password" and not server.proxy_url:
        raise ValidationError(
            "proxy_password",
            "is the password of a proxy: set proxy first (socks5://USER@host:port)",
        )
    proxy = parse_proxy("proxy", given.get("proxy") or server.proxy_url)
    changed = {}
    same_proxy = proxy.url == server.proxy_url
    if not same_proxy:
        server.proxy_url = proxy.url
        changed["proxy"] = (before, proxy.url)
    password = proxy.password or given.get("proxy_password")
    if password:
        if not proxy.username:
            raise ValidationError(
                "proxy_password", "needs a user name in the proxy URL (scheme://USER@host:port)"
            )
        server.proxy_password_enc = box.encrypt(password)
        changed["proxy_password"] = SECRET_CHANGE
    elif server.proxy_password_enc and not (same_proxy and proxy.username):
        server.proxy_password_enc = None
        changed["proxy_password"] = SECRET_CHANGE
    return changed


def _identity_changes(server: MailServer, changes: Mapping[str, Any]) -> bool:
    """The change gives the server another OAuth identity (ThingsBoard's rule)."""
    for name in OAUTH_IDENTITY_FIELDS:
        if name not in changes:
            continue
        if name in SECRET_INPUTS:
            if changes[name]:  # a new secret (an empty one keeps the stored secret)
                return True
        elif changes[name] != getattr(server, name):
            return True
    return False


def apply_server_changes(
    *, box: SecretBox, server: MailServer, changes: MailServerUpdate
) -> Changes:
    """Apply the fields given in `changes` to `server`. Returns each changed field with its
    value before and after (a secret's as "changed")."""
    given = changes.given()
    changed: Changes = {}
    provider_changed = "provider" in given and given["provider"] != server.provider
    if provider_changed or server.id is None:
        for key, value in preset_for(given.get("provider", server.provider)).items():
            if given.get(key) is None:
                given[key] = value
    identity_changed = _identity_changes(server, given)
    if identity_changed and any(getattr(server, name) for name in OAUTH_TOKEN_COLUMNS):
        for name in OAUTH_TOKEN_COLUMNS:
            setattr(server, name, None)
        changed["oauth_tokens"] = SECRET_CHANGE
    if identity_changed or given.get("auth", server.auth) != server.auth:
        server.auth_revoked_at = None
        server.auth_revoked_reason = None
    changed.update(apply_proxy(box, server, given))
    for name, value in given.items():
        if name == "is_default" or name in PROXY_INPUTS:
            continue
        if name in SECRET_INPUTS:
            if value:  # empty keeps the stored secret
                setattr(server, SECRET_INPUTS[name], box.encrypt(value))
                changed[name] = SECRET_CHANGE
            continue
        if getattr(server, name) != value:
            changed[name] = _audited(name, getattr(server, name), value)
            setattr(server, name, value)
    server.updated_at = utcnow()
    if CREDENTIAL_FIELDS.intersection(changed):
        credentials_changed(server)
    return changed


def _audited(name: str, before: Any, after: Any) -> tuple[Any, Any]:
    if name == "ca_pem":  # a CA bundle runs to kilobytes: its length and digest tell enough
        return text_summary(before), text_summary(after)
    return before, after


def server_values(server: MailServer) -> dict[str, Any]:
    """The server's audited fields as they stand (the proxy as its stored URL, the CA bundle
    summarized), for the entry recording its deletion."""
    values = values_of(server, AUDITED_COLUMNS)
    values["ca_pem"] = text_summary(server.ca_pem)
    values["proxy"] = server.proxy_url
    return values


def credentials_changed(server: MailServer) -> None:
    """New credentials: the refusals of the old ones are forgotten, and the deliveries waiting
    for this server (paused after refusals, or backing off) are due now (no commit)."""
    server.auth_refusals = []
    session = object_session(server)
    if session is None or server.id is None:  # a draft (test connection) or a new server
        return
    wake_waiting_deliveries(session, server.id, utcnow())


def check_unique_name(session: Session, tenant: Tenant | None, server: MailServer) -> None:
    query = owner_query(tenant).where(MailServer.name == server.name)
    if server.id is not None:
        query = query.where(MailServer.id != server.id)
    if session.exec(query).first() is not None:
        raise ValidationError(
            "name", f"{server.name!r} is taken: {owner_label(tenant)} has a server of that name"
        )


def default_flag(
    session: Session, tenant: Tenant | None, server: MailServer, wants_default: bool
) -> bool:
    """An owner's first server becomes its default; asking for a second default is refused."""
    current = find_default(session, tenant)
    if current is None or current.id == server.id:
        return True
    if wants_default:
        raise ValidationError(
            "is_default",
            f"{owner_label(tenant)} already has a default server "
            f"({current.name!r}, id {current.id}); one default per owner: "
            "use `server default ID` to move it",
        )
    return False


def stage_server(
    session: Session,
    server: MailServer,
    tenant: Tenant | None,
    action: str,
    changes: Changes,
    actor: Actor,
) -> MailServer:
    """Add the server to the session (flushed, so it has an id) with its audit entry; the
    caller commits."""
    session.add(server)
    session.flush()
    record(
        session,
        actor=actor,
        action=action,
        tenant=tenant.slug if tenant else None,
        target=f"mail_server:{server.id}",
        changes=changes,
    )
    return server


def stage_new_server(
    *,
    session: Session,
    box: SecretBox,
    tenant: Tenant | None,
    data: MailServerCreate,
    actor: Actor,
) -> tuple[MailServer, Changes]:
    """A new server of this owner, every rule checked, staged in the session with its audit
    entry (each set field, nothing before); the caller commits."""
    check_actor_rights(data.given(), None, actor)
    server = MailServer(tenant_id=tenant.id if tenant else None, name=data.name)
    applied = apply_server_changes(box=box, server=server, changes=data)
    check_complete(server)
    fence_host(server, actor)
    check_unique_name(session, tenant, server)
    server.is_default = default_flag(session, tenant, server, bool(data.is_default))
    # Nothing existed before: the name and what the input and presets set beyond a new row's
    # defaults (a default is what any server has until changed).
    changes = {"name": (None, server.name)}
    changes.update({name: (None, after) for name, (_, after) in applied.items()})
    stage_server(session, server, tenant, "mail_server.create", changes, actor)
    return server, changes
