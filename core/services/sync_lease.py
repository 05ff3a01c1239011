"""One IMAP sync per account across processes: a lease on the account row.

Within a process, a second sync joins the running one (core.services.inbound); across processes
(several `mailbell serve` on several hosts) the process holding the lease syncs and the others
skip. A lease outlives a crashed holder by at most its duration.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from core.models._common import utcnow
from core.models.mail import EmailAccount

DEFAULT_LEASE_S = 900.0


def process_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def acquire(engine: Engine, account_id: int, *, owner: str, lease_s: float) -> bool:
    """Take the account's sync lease if it is free or expired; True when this owner holds it."""
    now = utcnow()
    with Session(engine) as session:
        result = session.execute(
            update(EmailAccount)
            .where(
                col(EmailAccount.id) == account_id,
                or_(
                    col(EmailAccount.sync_lease_until).is_(None),
                    col(EmailAccount.sync_lease_until) < now,
                    col(EmailAccount.sync_lease_owner) == owner,
                ),
            )
            .values(sync_lease_owner=owner, sync_lease_until=now + timedelta(seconds=lease_s))
        )
        session.commit()
        return bool(getattr(result, "rowcount", 0))


def release(engine: Engine, account_id: int, *, owner: str) -> None:
    with Session(engine) as session:
        session.execute(
            update(EmailAccount)
            .where(col(EmailAccount.id) == account_id, col(EmailAccount.sync_lease_owner) == owner)
            .values(sync_lease_owner=None, sync_lease_until=None)
        )
        session.commit()
