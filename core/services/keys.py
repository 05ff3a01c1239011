"""Key rotation: a new primary key, then every stored secret re-encrypted in one transaction."""

from __future__ import annotations

from sqlmodel import Session, SQLModel, select

from core.crypto import SecretBox
from core.models.mail import EmailAccount, MailServer
from core.services.audit import Actor, record

SECRET_COLUMNS: dict[type[SQLModel], tuple[str, ...]] = {
    MailServer: (
        "password_enc",
        "oauth_client_secret_enc",
        "oauth_refresh_token_enc",
        "oauth_access_token_enc",
    ),
    EmailAccount: ("imap_password_enc",),
}


def _stored_secrets(session: Session) -> list[tuple[SQLModel, str, str]]:
    found: list[tuple[SQLModel, str, str]] = []
    for model, columns in SECRET_COLUMNS.items():
        rows: list[SQLModel] = list(session.exec(select(model)).all())
        for row in rows:
            for column in columns:
                value = getattr(row, column)
                if value:
                    found.append((row, column, value))
    return found


def rotate_keys(*, session: Session, box: SecretBox, actor: Actor) -> int:
    """Every secret must open before anything changes; returns how many were re-encrypted.

    With a key file a new key is generated first; with MAILBELL_SECRET_KEYS the operator has put
    the new key first already. Old keys stay in the ring, so a failure here loses nothing.
    """
    secrets = _stored_secrets(session)
    for _row, _column, value in secrets:
        box.decrypt(value)
    if not box.source.env_keys:
        box.add_primary_key()
    for row, column, value in secrets:
        setattr(row, column, box.rotate_token(value))
        session.add(row)
    record(session, actor=actor, action="keys.rotate", fields=[f"secrets:{len(secrets)}"])
    session.commit()
    return len(secrets)
