"""Key rotation: a new primary key, then every stored secret re-encrypted in one transaction."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, SQLModel, select

from core.crypto import SecretBox
from core.models.delivery import DeliveryContent, EventRecord
from core.models.mail import EmailAccount, MailServer
from core.models.tenancy import SystemSettings
from core.models.webhooks import WebhookTarget
from core.services.audit import Actor, record

# Text columns holding Fernet tokens, and binary ones (rendered messages, event payloads).
SECRET_COLUMNS: dict[type[SQLModel], tuple[str, ...]] = {
    MailServer: (
        "password_enc",
        "oauth_client_secret_enc",
        "oauth_refresh_token_enc",
        "oauth_access_token_enc",
        "proxy_password_enc",
    ),
    EmailAccount: ("imap_password_enc",),
    WebhookTarget: ("secret_enc",),
    # The health watch's canary (core/health/checks/service.py): it must stay sealed under the
    # key that seals everything else, or it would prove nothing about that key.
    SystemSettings: ("key_canary_enc",),
}
BINARY_COLUMNS: dict[type[SQLModel], tuple[str, ...]] = {
    DeliveryContent: ("content",),
    EventRecord: ("payload_enc",),
}


def _stored(session: Session, columns: dict[type[SQLModel], tuple[str, ...]]) -> list[Any]:
    found: list[tuple[SQLModel, str, Any]] = []
    for model, names in columns.items():
        rows: list[SQLModel] = list(session.exec(select(model)).all())
        for row in rows:
            for name in names:
                value = getattr(row, name)
                if value:
                    found.append((row, name, value))
    return found


def rotate_keys(*, session: Session, box: SecretBox, actor: Actor) -> int:
    """Every secret must open before anything changes; returns how many were re-encrypted.

    With a key file a new key is generated first; with MAILBELL_SECRET_KEYS the operator has put
    the new key first already. Old keys stay in the ring, so a failure here loses nothing.
    """
    texts = _stored(session, SECRET_COLUMNS)
    blobs = _stored(session, BINARY_COLUMNS)
    for _row, _name, value in texts:
        box.decrypt(value)
    for _row, _name, value in blobs:
        box.decrypt_bytes(value)
    if not box.source.env_keys:
        box.add_primary_key()
    for row, name, value in texts:
        setattr(row, name, box.rotate_token(value))
        session.add(row)
    for row, name, value in blobs:
        setattr(row, name, box.rotate_bytes(value))
        session.add(row)
    record(session, actor=actor, action="keys.rotate", fields=[f"secrets:{len(texts)}"])
    session.commit()
    return len(texts)
