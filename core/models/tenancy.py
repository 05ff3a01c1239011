"""Tenants, the system-wide settings row, and each tenant's notification settings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from core.models._common import utcnow

TENANT_TOGGLES: tuple[str, ...] = (
    "notify_user_registration",
    "notify_queue_sla_breached",
    "notify_queue_callback",
    "notify_queue_callback_failed",
    "notify_queue_call_lost",
)
SYSTEM_TOGGLES: tuple[str, ...] = (
    "notify_disk_low",
    "notify_license_limited",
    "notify_recharge",
    "notify_emergency_call",
    "notify_trunk_connected",
    "notify_trunk_disconnected",
)
MAX_RECIPIENTS = 15


class TenantBase(SQLModel):
    slug: str = Field(max_length=63, unique=True, index=True)
    name: str = Field(max_length=200)


class Tenant(TenantBase, table=True):
    __tablename__ = "tenant"
    # ids are never reused on SQLite (migration 0009)
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)


class SystemSettings(SQLModel, table=True):
    """One row (id 1): "apply mail settings to all tenants" and the system notification settings."""

    __tablename__ = "system_settings"

    id: int = Field(default=1, primary_key=True)
    apply_to_all_tenants: bool = False
    recipients: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    notify_disk_low: bool = True
    notify_license_limited: bool = True
    notify_recharge: bool = True
    notify_emergency_call: bool = True
    notify_trunk_connected: bool = True
    notify_trunk_disconnected: bool = True
    updated_at: datetime = Field(default_factory=utcnow)


class NotificationSettings(SQLModel, table=True):
    """A tenant's recipients and its five event toggles (default off)."""

    __tablename__ = "notification_settings"

    tenant_id: int = Field(
        sa_column=Column(Integer, ForeignKey("tenant.id", ondelete="CASCADE"), primary_key=True)
    )
    recipients: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    notify_user_registration: bool = False
    notify_queue_sla_breached: bool = False
    notify_queue_callback: bool = False
    notify_queue_callback_failed: bool = False
    notify_queue_call_lost: bool = False
    updated_at: datetime = Field(default_factory=utcnow)
