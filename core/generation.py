"""The configuration generation: one counter that changes whenever mail configuration changes.

Every flush that adds, changes or deletes a row of a configuration table bumps
`config_generation.value` in the same transaction, so the bump commits (or rolls back) with the
change. Emit keeps what it needs per tenant in memory and re-reads it only when the counter
moved, one indexed row per event instead of five queries — in this process or any other.
"""

from __future__ import annotations

from functools import cache
from itertools import chain
from typing import Any

from sqlalchemy import Select, event, select, update
from sqlalchemy.orm import Session, UOWTransaction

from core.models.config_generation import ConfigGeneration

# What emit reads: settings, servers, templates, Slack routes, webhook targets (and tenants,
# their owner).
CONFIG_TABLES = frozenset(
    {
        "tenant",
        "system_settings",
        "notification_settings",
        "mail_server",
        "custom_template",
        "slack_channel_link",
        "slack_route",
        "webhook_target",
    }
)
COUNTER = ConfigGeneration.__table__  # type: ignore[attr-defined]
_READ = "mailbell.config_generation_read"
# Set on a session whose open transaction changed configuration: emit neither trusts nor fills
# the cache inside it, since the change may still roll back.
UNCOMMITTED_CHANGE = "mailbell.config_changed"


def _bump_on_config_change(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    for instance in chain(session.new, session.dirty, session.deleted):
        if getattr(instance, "__tablename__", None) in CONFIG_TABLES:
            session.execute(
                update(COUNTER).where(COUNTER.c.id == 1).values(value=COUNTER.c.value + 1)
            )
            session.info[UNCOMMITTED_CHANGE] = True
            return


def _forget_change(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost transaction ended: committed or rolled back
        session.info.pop(UNCOMMITTED_CHANGE, None)


def install_generation_hook() -> None:
    """Bump the counter from every ORM session of this process (idempotent)."""
    if not event.contains(Session, "before_flush", _bump_on_config_change):
        event.listen(Session, "before_flush", _bump_on_config_change)
        event.listen(Session, "after_transaction_end", _forget_change)


@cache
def _read_statement() -> Select[int]:
    return select(COUNTER.c.value).where(COUNTER.c.id == 1)


def current_generation(session: Session) -> int | None:
    """The committed counter as this transaction sees it (read once per transaction: the API
    runs a group of events in one); None while the session itself holds an uncommitted
    configuration change (or the row is missing): do not cache then."""
    if session.info.get(UNCOMMITTED_CHANGE):
        return None
    connection = session.connection()  # begins the transaction, so that it has an identity
    transaction = session.get_transaction()
    held = session.info.get(_READ)
    if held is not None and held[0] is transaction:
        return held[1]
    value = connection.execute(_read_statement()).scalar()
    generation = None if value is None else int(value)
    session.info[_READ] = (transaction, generation)
    return generation
