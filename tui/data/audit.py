"""The audit log, newest first, with each change as text (before → after; a secret "changed")."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.context import Context

LIMIT = 500


def load_entries(ctx: Context, slug: str | None) -> list[dict[str, Any]]:
    from core.access import require_read
    from core.services.audit import changes_text, list_entries, values_text
    from tui.runtime import grant

    require_read(grant(), slug)
    with ctx.session() as session:
        return [
            {
                "id": e.id,
                "at": e.at,
                "actor": e.actor,
                "source": e.source,
                "tenant": e.tenant,
                "action": e.action,
                "target": e.target,
                "fields": list(e.fields),
                # The table's short form, and one line per field for the detail.
                "summary": changes_text(e),
                "changes": [(name, values_text(change)) for name, change in e.changes.items()],
            }
            for e in list_entries(session=session, tenant=slug, limit=LIMIT)
        ]
