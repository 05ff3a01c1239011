"""Per-server rate limits shared by every worker process, through the database.

Each send to a rate-limited server takes a slot row first. Slots are counted under a lock on the
server's row (an UPDATE: a row lock on PostgreSQL, the write lock on SQLite), so processes on
several machines never pass the limit between them. A second of margin on the window absorbs the
gap between taking a slot and the server accepting the message.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.models._common import utcnow
from core.models.delivery import SendSlot
from core.models.mail import MailServer

WINDOW_S = 60.0
MARGIN_S = 1.0


def reserve_slot(
    engine: Engine,
    server_id: int,
    limit: int,
    *,
    window_s: float = WINDOW_S + MARGIN_S,
    now: datetime | None = None,
) -> float:
    """Take a send slot and return 0, or return the seconds until one frees (taking nothing)."""
    if limit <= 0:
        return 0.0
    now = now or utcnow()
    since = now - timedelta(seconds=window_s)
    with Session(engine) as session:
        # The lock: concurrent reservations for this server queue up here.
        session.execute(
            update(MailServer)
            .where(col(MailServer.id) == server_id)
            .values(rate_limit_per_minute=MailServer.rate_limit_per_minute)
        )
        session.execute(
            delete(SendSlot).where(
                col(SendSlot.mail_server_id) == server_id, col(SendSlot.at) <= since
            )
        )
        used, oldest = session.execute(
            select(func.count(), func.min(SendSlot.at)).where(
                col(SendSlot.mail_server_id) == server_id
            )
        ).one()
        if used < limit:
            session.add(SendSlot(mail_server_id=server_id, at=now))
            session.commit()
            return 0.0
        session.rollback()
    oldest_at: datetime = oldest if oldest.tzinfo else oldest.replace(tzinfo=now.tzinfo)
    return max((oldest_at - since).total_seconds(), 0.001)
