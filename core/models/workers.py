"""Delivery workers announce themselves: one row per running `Worker.run` loop (`mailbell
serve` or `mailbell worker`), written at start and every HEARTBEAT_S, deleted on a clean exit.

A row not seen for STALE_AFTER_S belongs to a process that was killed: it counts as gone, and
the next heartbeat of any worker deletes it. Front ends read it through
core/services/workers.py (the TUI's "no worker is running", `/healthz`, `service:workers`).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlmodel import Field, SQLModel

from core.models._common import utcnow

HEARTBEAT_S = 10.0
# Three missed heartbeats: a worker busy on a slow database still makes one of them.
STALE_AFTER_S = 3 * HEARTBEAT_S
OWNER_MAX = 200


class WorkerHeartbeat(SQLModel, table=True):
    __tablename__ = "worker_heartbeat"

    # The worker's lease owner (host:pid:object), so a row names the leases it holds.
    owner: str = Field(primary_key=True, max_length=OWNER_MAX)
    host: str = Field(max_length=200)
    pid: int
    kind: str = Field(max_length=8)  # a WorkerKind
    started_at: datetime = Field(default_factory=utcnow)
    seen_at: datetime = Field(default_factory=utcnow, index=True)


class WorkerRead(BaseModel):
    """A running worker as front ends show it."""

    owner: str
    host: str
    pid: int
    kind: str
    started_at: datetime
    seen_at: datetime
