"""Webhook targets: URLs that receive each routed event as a signed JSON POST.

`secret_enc` holds the shared secret as a Fernet token (core.crypto), like mail-server
passwords; no read model carries it. `events` empty means every event of the owner's scope.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, WithJsonSchema
from pydantic import Field as Limit
from sqlalchemy import JSON, Column, ForeignKey, Integer, Text
from sqlmodel import Field, SQLModel

from core.models._common import utcnow
from core.vocabulary import WEBHOOK_SECRET_MAX_LENGTH, WEBHOOK_URL_MAX_LENGTH, EventName


class WebhookTarget(SQLModel, table=True):
    __tablename__ = "webhook_target"
    # ids are never reused on SQLite (migration 0009's rule, applied from the start here)
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    # NULL: a system target (system events).
    tenant_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("tenant.id", ondelete="CASCADE"), index=True),
    )
    url: str = Field(sa_column=Column(Text, nullable=False))
    secret_enc: str | None = None
    events: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Added by a tenant-scoped actor: the worker checks the host against
    # MAILBELL_TENANT_SMTP_NETWORKS again at every connection (core/netfence.py).
    fenced: bool = False
    created_at: datetime = Field(default_factory=utcnow)


# What a new target's fields may hold, as its JSON Schema (and so the OpenAPI document) states
# it. The service checks each (core/services/webhooks.py: `clean_url`, `clean_secret`,
# `clean_events`, the events against the owner's scope too) and answers naming the field and
# the rule, never repeating a secret: building a `WebhookCreate` checks only the types, as
# every front end builds one from what it was given.
Url = Annotated[str, WithJsonSchema({"type": "string", "maxLength": WEBHOOK_URL_MAX_LENGTH})]
Secret = Annotated[str, WithJsonSchema({"type": "string", "maxLength": WEBHOOK_SECRET_MAX_LENGTH})]
CatalogueName = Annotated[
    str, WithJsonSchema({"type": "string", "enum": [name.value for name in EventName]})
]


class WebhookCreate(BaseModel):
    url: Url
    # write-only; None or "": unsigned POSTs
    secret: Secret | None = Limit(default=None, repr=False)
    events: list[CatalogueName] = []  # empty: every event of the owner's scope


class WebhookRead(BaseModel):
    id: int
    tenant: str | None  # the tenant's slug; None for a system target
    url: str
    events: list[str]
    has_secret: bool
    created_at: datetime


class WebhookTestResult(BaseModel):
    ok: bool
    status: int | None  # the receiver's HTTP status; None when no answer came
    detail: str
