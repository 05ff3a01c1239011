"""Email accounts: an IMAP inbox joined to one of the tenant's mail servers (its outbound path).

An account needs a mail server of its tenant; its email is read-only after creation;
one default per tenant, moved only by `set_default_email_account`: a tenant's first account
becomes its default, and deleting the default makes the oldest remaining account the default
(the rule of mail servers).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, col, select

from core import validation as v
from core.crypto import SecretBox
from core.errors import NotFound, ValidationError
from core.models._common import utcnow
from core.models.mail import EmailAccount, MailServer
from core.models.tenancy import Tenant
from core.services.audit import Actor, record

ACCOUNT_FIELDS = (
    "email",
    "display_name",
    "mail_server_id",
    "is_default",
    "imap_host",
    "imap_port",
    "imap_username",
    "imap_password",
    "imap_tls",
    "imap_folder",
)
# Far above any real password, as for SMTP passwords: a huge one only bloats every sync's LOGIN.
IMAP_PASSWORD_MAX = 1024


def clean_account_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """Check and normalise email-account fields, the same rules for every front end.

    `data` may hold any subset of `ACCOUNT_FIELDS` (a partial update checks only what it
    gives). Returns the cleaned values: email and text fields trimmed and checked, ports and
    ids as integers, flags as booleans, an empty IMAP password as None (keep the stored one).
    Raises `ValidationError(field, message)` for an unknown field or the first broken rule.
    """
    v.known_fields(data, ACCOUNT_FIELDS)
    cleaned: dict[str, Any] = {}
    for name, value in data.items():
        if name == "email":
            cleaned[name] = v.email_address(name, str(value))
        elif name == "display_name":
            text = v.single_line(name, str(value).strip(), max_length=200)
            if not text:
                raise ValidationError(name, "is required: a label such as 'Support Inbox'")
            cleaned[name] = text
        elif name == "mail_server_id":
            cleaned[name] = None if value in (None, "") else v.integer(name, value)
        elif name in ("is_default", "imap_tls"):
            cleaned[name] = v.boolean(name, value)
        elif name == "imap_port":
            cleaned[name] = v.port(name, value)
        elif name == "imap_password":
            if value is not None and not isinstance(value, str):
                raise ValidationError(name, "must be a string")
            if value and len(value) > IMAP_PASSWORD_MAX:
                raise ValidationError(
                    name,
                    f"is {len(value)} characters long; at most {IMAP_PASSWORD_MAX} are allowed",
                )
            cleaned[name] = value or None
        else:  # imap_host, imap_username, imap_folder
            text = v.single_line(name, str(value or "").strip(), max_length=255)
            cleaned[name] = text or None
    return cleaned


def _tenant_query(tenant: Tenant) -> Any:
    return select(EmailAccount).where(EmailAccount.tenant_id == tenant.id)


def list_email_accounts(*, session: Session, tenant: Tenant) -> list[EmailAccount]:
    return list(session.exec(_tenant_query(tenant).order_by(col(EmailAccount.id))))


def get_email_account(*, session: Session, tenant: Tenant, account_id: int) -> EmailAccount:
    account = session.exec(_tenant_query(tenant).where(EmailAccount.id == account_id)).first()
    if account is None:
        raise NotFound(f"email account {account_id} does not exist for tenant {tenant.slug!r}")
    return account


def _check_server(session: Session, tenant: Tenant, server_id: int | None) -> None:
    servers = session.exec(select(MailServer.id).where(MailServer.tenant_id == tenant.id)).all()
    if not servers:
        raise ValidationError(
            "mail_server_id",
            f"tenant {tenant.slug!r} has no mail server: add one first "
            f"(`mailbell server add --tenant {tenant.slug}`)",
        )
    if server_id is None:
        raise ValidationError("mail_server_id", "is required: the outbound server of the account")
    if server_id not in servers:
        raise ValidationError(
            "mail_server_id",
            f"{server_id} is not a mail server of tenant {tenant.slug!r} "
            f"(its servers: {', '.join(map(str, servers))})",
        )


def _current_default(session: Session, tenant: Tenant) -> EmailAccount | None:
    return session.exec(_tenant_query(tenant).where(col(EmailAccount.is_default).is_(True))).first()


def _refuse_second_default(session: Session, tenant: Tenant, account: EmailAccount) -> None:
    current = _current_default(session, tenant)
    if current is not None and current.id != account.id:
        raise ValidationError(
            "is_default",
            f"tenant {tenant.slug!r} already has a default account ({current.email}, id "
            f"{current.id}); one default per tenant: use `accounts default ID` to move it",
        )


def _apply(box: SecretBox, account: EmailAccount, changes: Mapping[str, Any]) -> list[str]:
    fields = []
    for name, value in changes.items():
        if name == "imap_password":
            if value:
                account.imap_password_enc = box.encrypt(value)
                fields.append(name)
            continue
        if getattr(account, name) != value:
            setattr(account, name, value)
            fields.append(name)
    account.updated_at = utcnow()
    return fields


def create_email_account(
    *, session: Session, box: SecretBox, tenant: Tenant, data: Mapping[str, Any], actor: Actor
) -> EmailAccount:
    changes = clean_account_fields(data)
    for required in ("email", "display_name"):
        if not changes.get(required):
            raise ValidationError(required, "is required")
    _check_server(session, tenant, changes.get("mail_server_id"))
    assert tenant.id is not None
    account = EmailAccount(
        tenant_id=tenant.id, email=changes["email"], display_name=changes["display_name"]
    )
    if session.exec(_tenant_query(tenant).where(EmailAccount.email == account.email)).first():
        raise ValidationError("email", f"{account.email} already has an account in this tenant")
    if changes.get("is_default"):
        _refuse_second_default(session, tenant, account)
    elif _current_default(session, tenant) is None:
        changes["is_default"] = True  # a tenant's first account is its default
    fields = _apply(box, account, changes)
    session.add(account)
    session.flush()
    record(
        session,
        actor=actor,
        action="email_account.create",
        tenant=tenant.slug,
        target=f"email_account:{account.id}",
        fields=fields,
    )
    session.commit()
    return account


def update_email_account(
    *,
    session: Session,
    box: SecretBox,
    tenant: Tenant,
    account_id: int,
    data: Mapping[str, Any],
    actor: Actor,
) -> EmailAccount:
    account = get_email_account(session=session, tenant=tenant, account_id=account_id)
    changes = clean_account_fields(data)
    if "email" in changes and changes["email"].lower() != account.email.lower():
        raise ValidationError(
            "email", "is read-only after creation: remove the account and add it again"
        )
    changes.pop("email", None)
    if "mail_server_id" in changes:
        _check_server(session, tenant, changes["mail_server_id"])
    if changes.get("is_default"):
        _refuse_second_default(session, tenant, account)
    fields = _apply(box, account, changes)
    if {"imap_host", "imap_username", "imap_folder"} & set(fields):
        # Another mailbox: the sync checkpoint of the old one means nothing there.
        account.imap_uidvalidity = None
        account.imap_last_uid = None
    session.add(account)
    record(
        session,
        actor=actor,
        action="email_account.update",
        tenant=tenant.slug,
        target=f"email_account:{account.id}",
        fields=fields,
    )
    session.commit()
    return account


def set_default_email_account(
    *, session: Session, tenant: Tenant, account_id: int, actor: Actor
) -> EmailAccount:
    account = get_email_account(session=session, tenant=tenant, account_id=account_id)
    previous = _current_default(session, tenant)
    if previous is not None and previous.id != account.id:
        previous.is_default = False
        session.add(previous)
        session.flush()
    account.is_default = True
    session.add(account)
    record(
        session,
        actor=actor,
        action="email_account.set_default",
        tenant=tenant.slug,
        target=f"email_account:{account.id}",
        fields=["is_default"],
    )
    session.commit()
    return account


def delete_email_account(
    *, session: Session, tenant: Tenant, account_id: int, actor: Actor
) -> None:
    account = get_email_account(session=session, tenant=tenant, account_id=account_id)
    session.delete(account)
    session.flush()
    fields = []
    if account.is_default:
        # A tenant with accounts left always has a default: the oldest takes over.
        successor = session.exec(_tenant_query(tenant).order_by(col(EmailAccount.id))).first()
        if successor is not None:
            successor.is_default = True
            session.add(successor)
            fields.append(f"new_default:{successor.id}")
    record(
        session,
        actor=actor,
        action="email_account.delete",
        tenant=tenant.slug,
        target=f"email_account:{account_id}",
        fields=fields,
    )
    session.commit()


def email_account_public(account: EmailAccount) -> dict[str, Any]:
    return {
        "id": account.id,
        "email": account.email,
        "display_name": account.display_name,
        "mail_server_id": account.mail_server_id,
        "default": account.is_default,
        "imap_host": account.imap_host,
        "imap_port": account.imap_port,
        "imap_username": account.imap_username,
        "has_imap_password": account.imap_password_enc is not None,
        "imap_tls": account.imap_tls,
        "imap_folder": account.imap_folder,
        "last_sync_at": account.last_sync_at,
        "message_count": account.message_count,
        "last_error": account.last_sync_error,
    }
