"""Health watch: one row per watched subject (its current state), its history of changes, and
the lease that lets one process at a time run the checks.

A subject is named by a stable `key` (`mail_server:12`, `email_account:3`, `slack:token`,
`slack:link:7`, `backlog:tenant:4`, `backlog:system`, `service:database`, `service:keys`);
`kind` is a `HealthKind`, `state` a `HealthState`. A state changes only after two consecutive
results agree (`candidate_*` holds the first of them). `alerted_state` is what the subject's
admins were last told; `muted_until` silences alerts and reminders, never the state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import JSON, Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from core.models._common import utcnow
from core.vocabulary import HealthKind, HealthState

SUBJECT_KEY_MAX = 120
REASON_MAX = 1000


class HealthSubject(SQLModel, table=True):
    __tablename__ = "health_subject"
    # ids are never reused on SQLite (migration 0009)
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=SUBJECT_KEY_MAX, unique=True, index=True)
    kind: str = Field(max_length=16)
    # NULL: a system subject (system servers, the Slack token, the service itself).
    tenant_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("tenant.id", ondelete="CASCADE"), index=True),
    )
    subject: str = Field(max_length=200)
    state: str = Field(default=HealthState.UNKNOWN, max_length=8)
    reason: str = Field(default="", max_length=REASON_MAX)
    since: datetime = Field(default_factory=utcnow)
    checked_at: datetime | None = None
    candidate_state: str | None = Field(default=None, max_length=8)
    candidate_reason: str | None = Field(default=None, max_length=REASON_MAX)
    alerted_state: str | None = Field(default=None, max_length=8)
    alerted_at: datetime | None = None
    muted_until: datetime | None = None
    # What the last check measured besides the state (certificate_days, the action to take, …).
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The event of the last alert sent about the subject: its recovery edits that alert's Slack
    # messages (core/health/alerts.py). A plain id: retention may prune the event first.
    alert_event_id: int | None = None


class HealthChange(SQLModel, table=True):
    """A subject entered `state` at `at` (kept for the audit retention period)."""

    __tablename__ = "health_change"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    subject_key: str = Field(max_length=SUBJECT_KEY_MAX, index=True)
    kind: str = Field(max_length=16)
    tenant_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("tenant.id", ondelete="CASCADE"), index=True),
    )
    state: str = Field(max_length=8)
    reason: str = Field(default="", max_length=REASON_MAX)
    at: datetime = Field(default_factory=utcnow, index=True)


class ServiceLease(SQLModel, table=True):
    """A named job one process runs at a time across a cluster (the health checks)."""

    __tablename__ = "service_lease"

    name: str = Field(primary_key=True, max_length=32)
    owner: str | None = Field(default=None, max_length=100)
    until: datetime | None = None


class HealthRead(BaseModel):
    """One subject as every front end shows it (`mailbell health --json` rows)."""

    kind: HealthKind
    tenant: str | None
    subject: str
    state: HealthState
    reason: str
    since: datetime
    key: str
    checked_at: datetime | None = None
    muted_until: datetime | None = None
    detail: dict[str, Any] = {}

    def wire(self) -> dict[str, Any]:
        """The contract's six fields (DESIGN: Health), JSON-ready."""
        return {
            "kind": self.kind.value,
            "tenant": self.tenant,
            "subject": self.subject,
            "state": self.state.value,
            "reason": self.reason,
            "since": self.since.isoformat(),
        }


class HealthChangeRead(BaseModel):
    state: HealthState
    reason: str
    at: datetime
