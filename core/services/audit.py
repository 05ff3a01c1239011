"""Who is acting, and the audit trail every change leaves: each changed field with its value
before and after (a secret's as "changed"), bounded so an entry stays small."""

from __future__ import annotations

import getpass
import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any

from sqlmodel import Session, col, select

from core.access import SYSTEM_ADMIN, Grant, require_write
from core.errors import ValidationError
from core.models.audit import (
    CHANGED,
    SOURCES,
    VALUE_MAX_CHARS,
    VALUE_MAX_ITEMS,
    AuditEntry,
    AuditEntryRead,
    FieldChange,
)
from core.services.audit_pages import AuditFilter, audit_batch

# A field's value before and after a change; `Changes` maps field names to them.
Change = tuple[Any, Any]
Changes = dict[str, Change]
SECRET_CHANGE: Change = (CHANGED, CHANGED)
# Names that hold secrets (the models' write-only inputs and their `_enc` columns): their
# values are never recorded, whatever a caller passes.
SECRET_WORDS = ("password", "secret", "token")
EXPORT_BATCH = 500


@dataclass(frozen=True)
class Actor:
    """A person or script acting through one front end (`tui`, `slack`, `api`, `cli`).

    `tenant_scoped`: the actor holds only a tenant's rights (a tenant API token, a tenant's Slack
    admin). Such actors are fenced: they may not name host files (`ca_file`) nor point a mail
    server at hosts outside `MAILBELL_TENANT_SMTP_NETWORKS`. System-level actors (CLI, TUI,
    system tokens, system Slack admins) are not.
    """

    name: str
    source: str
    tenant_scoped: bool = False
    # What a console session's role allows (core/access.py); every audited change is checked
    # against it. The other front ends' actors carry the system admin's grant: tokens and Slack
    # admins are authorized before an actor is made.
    grant: Grant = SYSTEM_ADMIN

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValidationError("source", f"{self.source!r} is not one of {', '.join(SOURCES)}")


def local_actor(source: str) -> Actor:
    """The person at this machine's terminal (the CLI, the TUI): the login behind `sudo` if any."""
    try:
        name = os.environ.get("SUDO_USER") or getpass.getuser()
    except (KeyError, OSError):
        name = f"uid:{os.getuid()}"
    return Actor(name=name, source=source)


def is_secret(field: str) -> bool:
    """A field whose values the audit never records (`password`, `oauth_client_secret`,
    `imap_password`, `oauth_tokens`, any `…_enc` column)."""
    name = field.lower()
    return name.endswith("_enc") or any(word in name for word in SECRET_WORDS)


def bounded(value: Any) -> Any:
    """`value` as JSON can hold it, small: long text cut with "…", long lists and mappings
    shortened (the rest counted), datetimes as ISO 8601, enums as their value."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Enum):
        return bounded(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping):
        items = list(value.items())
        shown = {str(k): bounded(v) for k, v in items[:VALUE_MAX_ITEMS]}
        if len(items) > VALUE_MAX_ITEMS:
            shown["…"] = f"{len(items) - VALUE_MAX_ITEMS} more"
        return shown
    if isinstance(value, list | tuple | set | frozenset):
        seq = sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
        cut = [bounded(item) for item in seq[:VALUE_MAX_ITEMS]]
        if len(seq) > VALUE_MAX_ITEMS:
            cut.append(f"… {len(seq) - VALUE_MAX_ITEMS} more")
        return cut
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= VALUE_MAX_CHARS else text[: VALUE_MAX_CHARS - 1] + "…"


def text_summary(text: str | None) -> str | None:
    """A long text (a template's body) as its length and digest: enough to tell versions
    apart without storing the text in every entry."""
    if text is None:
        return None
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return f"{len(text):,} chars, sha256 {digest}…"


def values_of(obj: Any, names: Iterable[str]) -> dict[str, Any]:
    """The current values of `names` on `obj` (a row), to compare after a change."""
    return {name: getattr(obj, name, None) for name in names}


def deleted(values: Mapping[str, Any]) -> Changes:
    """A removed thing's fields: nothing after."""
    return {name: (value, None) for name, value in values.items() if value not in (None, "", [])}


def value_text(value: Any) -> str:
    """A recorded value for people: none as "—", text bare, lists comma-separated."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value else '""'
    if isinstance(value, list):
        return "[" + ", ".join(value_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {value_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def values_text(change: FieldChange) -> str:
    """`before → after`; a secret's "changed"; "" when the entry has no values for the field
    (written before values were recorded)."""
    if change.before is None and change.after is None:
        return ""
    if change.before == CHANGED and change.after == CHANGED:
        return CHANGED
    return f"{value_text(change.before)} → {value_text(change.after)}"


def change_text(field: str, change: FieldChange) -> str:
    """`field: before → after`, `field: changed` for a secret, the name alone without values."""
    values = values_text(change)
    return f"{field}: {values}" if values else field


def changes_text(entry: AuditEntryRead, *, separator: str = "; ") -> str:
    return separator.join(change_text(name, change) for name, change in entry.changes.items())


def _shown(field: str, change: Change) -> dict[str, Any]:
    if is_secret(field):
        return {"before": CHANGED, "after": CHANGED}
    before, after = change
    return {"before": bounded(before), "after": bounded(after)}


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    tenant: str | None = None,
    target: str | None = None,
    fields: Iterable[str] = (),
    changes: Mapping[str, Change] | None = None,
) -> AuditEntry:
    """Add an audit entry to the session; the caller's commit writes it with the change itself.

    `changes`: each changed field with its value before and after. A secret field (see
    `is_secret`) is recorded as "changed" whatever is passed. `fields`: names of changed fields
    whose values are not recorded (they read back null), for callers that know only names.
    Raises Forbidden, before anything is added, when the actor's grant does not cover `tenant`:
    the caller's transaction then rolls back with the change it was about to record.
    """
    require_write(actor.grant, tenant)
    given = dict(changes or {})
    entry = AuditEntry(
        actor=actor.name,
        source=actor.source,
        tenant=tenant,
        action=action,
        target=target,
        fields=sorted(set(fields) | set(given)),
        changes={name: _shown(name, change) for name, change in given.items()} or None,
    )
    session.add(entry)
    return entry


def list_entries(
    *,
    session: Session,
    tenant: str | None = None,
    limit: int = 100,
    since: datetime | None = None,
) -> list[AuditEntryRead]:
    """The newest `limit` entries (of one tenant's slug, since a time, when given), newest
    first."""
    table = AuditEntry.__table__  # type: ignore[attr-defined]
    which = AuditFilter(tenant=tenant, since=since).where(table)
    query = select(AuditEntry).where(*which).order_by(col(AuditEntry.id).desc()).limit(limit)
    return [AuditEntryRead.of(entry) for entry in session.exec(query)]


def iter_entries(
    *,
    session: Session,
    tenant: str | None = None,
    since: datetime | None = None,
    batch: int | None = None,
) -> Iterator[AuditEntryRead]:
    """Every matching entry, oldest first, read `batch` rows at a time by id (each batch a
    fresh keyset query): the whole log is never in memory."""
    which = AuditFilter(tenant=tenant, since=since)
    batch = batch or EXPORT_BATCH
    after = 0
    while True:
        rows = audit_batch(session=session, which=which, after_id=after, batch=batch)
        yield from rows
        if len(rows) < batch:
            return
        after = rows[-1].id
