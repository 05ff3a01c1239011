"""What changed in the database, cheaply: the newest audit entry (every change is audited), and
a hook telling this session the moment one of its own commits recorded one."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.context import Context

_FLAG = "mailbell.tui.audited"


def latest_change(ctx: Context) -> int:
    """The newest audit entry's id (0 when none): one primary-key lookup."""
    from sqlalchemy import func
    from sqlmodel import select

    from core.models.audit import AuditEntry

    with ctx.session() as session:
        return session.exec(select(func.max(AuditEntry.id))).one() or 0


def on_own_changes(ctx: Context, callback: Callable[[], object]) -> Callable[[], None]:
    """Call `callback` (on the committing thread) after each commit on `ctx`'s database that
    recorded an audit entry; returns the function that stops it. Every session of the process
    is seen, so the ones bound to another engine (another app in the tests) are skipped."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from core.models.audit import AuditEntry

    engine = ctx.engine

    def flushed(session: Session, _context: Any, _instances: Any) -> None:
        if session.bind is engine and any(isinstance(o, AuditEntry) for o in session.new):
            session.info[_FLAG] = True

    def committed(session: Session) -> None:
        if session.info.pop(_FLAG, False):
            callback()

    def rolled_back(session: Session) -> None:
        session.info.pop(_FLAG, None)

    event.listen(Session, "before_flush", flushed)
    event.listen(Session, "after_commit", committed)
    event.listen(Session, "after_rollback", rolled_back)

    def stop() -> None:
        event.remove(Session, "before_flush", flushed)
        event.remove(Session, "after_commit", committed)
        event.remove(Session, "after_rollback", rolled_back)

    return stop
