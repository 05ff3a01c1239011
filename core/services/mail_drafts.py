"""Mail servers that are not saved: what a test goes through before Save.

A connection test or a test email may go through settings nobody saved yet: the fields of an
add dialog or of `server add`'s options, edits of a saved server, a settings object posted with
a test email. Each becomes a *draft*: a `MailServer` made by the rules a save applies
(core.services.mail_server_fields: who may set what, presets, write-only secrets, completeness)
and never added to a session, so nothing is stored, audited or recorded on a saved row.

- `draft_server(session=, box=, tenant=, server_id=, changes=, actor=)`: the saved server
  `server_id` of this owner (another owner's is not found), with `changes` applied to a copy;
  without `server_id`, a new server made of `changes` alone, as `server add` would make it.
- `settings_unsaved(session=, tenant=, settings=)`: the server fields of a settings object, as
  saving the settings would apply them: to the owner's default server, or to a new one.

A tenant-scoped actor's draft is fenced as its save would be: the host is checked against
MAILBELL_TENANT_SMTP_NETWORKS when the test connects, before anything is sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from core.crypto import SecretBox
from core.errors import ValidationError
from core.models.mail import MailServer, MailServerUpdate
from core.models.tenancy import NotificationSettingsUpdate, Tenant
from core.services.audit import Actor
from core.services.mail_server_fields import (
    apply_server_changes,
    check_actor_rights,
    check_complete,
    find_default,
)
from core.services.mail_servers import mail_server_row

# What a new server without a name is called while it is tested (it is never stored).
UNSAVED_NAME = "unsaved settings"


@dataclass(frozen=True)
class Unsaved:
    """Settings to test: unsaved `changes` over saved server `server_id`, or a new server."""

    server_id: int | None
    changes: MailServerUpdate


def draft_server(
    *,
    session: Session,
    box: SecretBox,
    tenant: Tenant | None,
    server_id: int | None,
    changes: MailServerUpdate | None,
    actor: Actor | None = None,
    need_sender: bool = True,
) -> MailServer:
    """The server a test goes through (see the module). Without changes it is the saved row
    itself; otherwise a draft outside the session. `actor` None is a system-level one (the CLI,
    the TUI). `need_sender`: the test sends mail, so it needs a From (a connection test does
    not)."""
    given = changes.given() if changes is not None else {}
    saved = None
    if server_id is not None:
        saved = mail_server_row(session=session, tenant=tenant, server_id=server_id)
        if not given:
            return saved
    if changes is None or not given:
        raise ValueError("a draft needs a saved server or the fields of a new one")
    if actor is not None:
        check_actor_rights(given, saved, actor)
    if saved is None:
        draft = MailServer(
            tenant_id=tenant.id if tenant else None, name=given.get("name") or UNSAVED_NAME
        )
    else:
        draft = MailServer.model_validate(saved.model_dump())
    apply_server_changes(box=box, server=draft, changes=changes)
    try:
        check_complete(draft)
    except ValidationError as exc:
        if need_sender or exc.field != "mail_from":
            raise
    # As a save marks the row: checked at connect time when a tenant-scoped actor set it.
    draft.fenced = actor is not None and actor.tenant_scoped
    return draft


def settings_unsaved(
    *, session: Session, tenant: Tenant | None, settings: NotificationSettingsUpdate
) -> Unsaved | None:
    """The server fields `settings` gives, as `update_notification_settings` would apply them
    (the TLS flags folded into `security` against the default server's); None when it gives
    none (the test goes through the effective server, as without settings)."""
    from core.services.notifications import server_columns  # the settings' own folding rule

    server = find_default(session, tenant)
    columns = server_columns(settings, server)
    if not columns:
        return None
    changes = MailServerUpdate.model_construct(set(columns), **columns)
    return Unsaved(server.id if server is not None else None, changes)
