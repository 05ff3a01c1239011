"""Email accounts: an IMAP inbox joined to one of the tenant's mail servers (its outbound path).

An account needs a mail server of its tenant; its email is read-only after creation;
one default per tenant, moved only by `set_default_email_account`: a tenant's first account
becomes its default, and deleting the default makes the oldest remaining account the default
(the rule of mail servers).

Callers give `EmailAccountCreate` / `EmailAccountUpdate` (an empty IMAP password keeps the
stored one) and get `EmailAccountRead` back (no password, a `has_imap_password` flag); each
change commits with its audit entry. Changing the credentials (host, port, TLS, username,
password, mail server) lifts a stop of the scheduled syncs and the day's count of failed logins
(core.services.sync_policy); entering the stored password again changes nothing.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from core.crypto import SecretBox
from core.errors import MailbellError, NotFound, ValidationError
from core.models._common import utcnow
from core.models.mail import (
    EmailAccount,
    EmailAccountCreate,
    EmailAccountRead,
    EmailAccountUpdate,
    MailServer,
)
from core.models.tenancy import Tenant
from core.services.audit import SECRET_CHANGE, Actor, Changes, deleted, record, values_of
from core.services.sync_policy import CREDENTIAL_FIELDS, clear_for_new_credentials
from core.services.versions import ExpectedVersion, refuse_stale

# An account's fields its deletion's audit entry keeps (the password apart).
AUDITED_FIELDS = tuple(name for name in EmailAccountUpdate.model_fields if name != "imap_password")


def _tenant_query(tenant: Tenant) -> Any:
    return select(EmailAccount).where(EmailAccount.tenant_id == tenant.id)


def list_email_accounts(*, session: Session, tenant: Tenant) -> list[EmailAccountRead]:
    rows = session.exec(_tenant_query(tenant).order_by(col(EmailAccount.id)))
    return [EmailAccountRead.of(row) for row in rows]


def account_row(
    *, session: Session, tenant: Tenant, account_id: int, lock: bool = False
) -> EmailAccount:
    """The row of account `account_id` of this tenant (another tenant's is not found); `lock`:
    locked for the caller's transaction where the database can (PostgreSQL)."""
    query = _tenant_query(tenant).where(EmailAccount.id == account_id)
    account = session.exec(query.with_for_update() if lock else query).first()
    if account is None:
        raise NotFound(f"email account {account_id} does not exist for tenant {tenant.slug!r}")
    return account


def _unchanged_account(
    session: Session, tenant: Tenant, account_id: int, expected_version: ExpectedVersion
) -> EmailAccount:
    """The account, refused (StaleVersion) when it changed since `expected_version`."""
    account = account_row(session=session, tenant=tenant, account_id=account_id)
    refuse_stale(
        session,
        account,
        expected_version,
        f"email account {account.email}",
        f"email_account:{account.id}",
    )
    return account


def get_email_account(*, session: Session, tenant: Tenant, account_id: int) -> EmailAccountRead:
    return EmailAccountRead.of(account_row(session=session, tenant=tenant, account_id=account_id))


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


def _apply(box: SecretBox, account: EmailAccount, changes: dict[str, Any]) -> Changes:
    """Apply `changes`; returns each changed field with its value before and after."""
    changed: Changes = {}
    for name, value in changes.items():
        if name == "imap_password":
            if value and not same_secret(box, account.imap_password_enc, value):
                account.imap_password_enc = box.encrypt(value)
                changed[name] = SECRET_CHANGE
            continue
        if getattr(account, name) != value:
            changed[name] = (getattr(account, name), value)
            setattr(account, name, value)
    account.updated_at = utcnow()
    return changed


def same_secret(box: SecretBox, stored: str | None, value: str) -> bool:
    """Whether `stored` (sealed with the key ring) holds `value`."""
    if stored is None:
        return False
    try:
        return box.decrypt(stored) == value
    except MailbellError:  # unreadable: the new one replaces it
        return False


def create_email_account(
    *, session: Session, box: SecretBox, tenant: Tenant, data: EmailAccountCreate, actor: Actor
) -> EmailAccountRead:
    """Add an account (the tenant's first becomes its default); committed with its audit."""
    changes = data.given()
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
    applied = _apply(box, account, changes)
    session.add(account)
    session.flush()
    record(
        session,
        actor=actor,
        action="email_account.create",
        tenant=tenant.slug,
        target=f"email_account:{account.id}",
        # Nothing existed before: the email and name set by the constructor count too.
        changes={
            "email": (None, account.email),
            "display_name": (None, account.display_name),
            **{name: (None, after) for name, (_, after) in applied.items()},
        },
    )
    session.commit()
    return EmailAccountRead.of(account)


def update_email_account(
    *,
    session: Session,
    box: SecretBox,
    tenant: Tenant,
    account_id: int,
    changes: EmailAccountUpdate,
    actor: Actor,
    expected_version: ExpectedVersion = None,
) -> EmailAccountRead:
    """Change the fields given in `changes` (the email stays); committed with its audit. With
    `expected_version` (what an editor opened, or an If-Match's tags; core.services.versions):
    StaleVersion, and nothing changed, when someone else changed the account since."""
    account = _unchanged_account(session, tenant, account_id, expected_version)
    given = changes.given()
    if "email" in given and str(given["email"]).lower() != account.email.lower():
        raise ValidationError(
            "email", "is read-only after creation: remove the account and add it again"
        )
    given.pop("email", None)
    if "mail_server_id" in given:
        _check_server(session, tenant, given["mail_server_id"])
    if given.get("is_default"):
        _refuse_second_default(session, tenant, account)
    fields = _apply(box, account, given)
    if {"imap_host", "imap_username", "imap_folder"} & set(fields):
        # Another mailbox: the sync checkpoint of the old one means nothing there.
        account.imap_uidvalidity = None
        account.imap_last_uid = None
    if CREDENTIAL_FIELDS & set(fields):
        clear_for_new_credentials(account)
    session.add(account)
    record(
        session,
        actor=actor,
        action="email_account.update",
        tenant=tenant.slug,
        target=f"email_account:{account.id}",
        changes=fields,
    )
    session.commit()
    return EmailAccountRead.of(account)


def set_default_email_account(
    *, session: Session, tenant: Tenant, account_id: int, actor: Actor
) -> EmailAccountRead:
    account = account_row(session=session, tenant=tenant, account_id=account_id)
    previous = _current_default(session, tenant)
    if previous is not None and previous.id != account.id:
        previous.is_default = False
        session.add(previous)
        session.flush()
    was_default = account.is_default
    account.is_default = True
    session.add(account)
    before = None if previous is None else f"email_account:{previous.id} ({previous.email})"
    record(
        session,
        actor=actor,
        action="email_account.set_default",
        tenant=tenant.slug,
        target=f"email_account:{account.id}",
        changes={
            "is_default": (was_default, True),
            "default_account": (before, f"email_account:{account.id} ({account.email})"),
        },
    )
    session.commit()
    return EmailAccountRead.of(account)


def delete_email_account(
    *,
    session: Session,
    tenant: Tenant,
    account_id: int,
    actor: Actor,
    expected_version: ExpectedVersion = None,
) -> EmailAccountRead | None:
    """Delete the account (the oldest left becomes the default if it was); `expected_version`
    as for an update. Returns the account that became the default (None: none did)."""
    account = _unchanged_account(session, tenant, account_id, expected_version)
    removed = deleted(values_of(account, AUDITED_FIELDS))
    session.delete(account)
    session.flush()
    fields = []
    new_default = None
    if account.is_default:
        # A tenant with accounts left always has a default: the oldest takes over.
        successor = session.exec(_tenant_query(tenant).order_by(col(EmailAccount.id))).first()
        if successor is not None:
            successor.is_default = True
            session.add(successor)
            fields.append(f"new_default:{successor.id}")
            new_default = EmailAccountRead.of(successor)
    record(
        session,
        actor=actor,
        action="email_account.delete",
        tenant=tenant.slug,
        target=f"email_account:{account_id}",
        fields=fields,
        changes=removed,
    )
    session.commit()
    return new_default
