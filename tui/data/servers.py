"""Mail servers of the system or of a tenant: the list, save, default, delete, field rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tui.data.wording import for_tui
from tui.runtime import actor, check, owner

if TYPE_CHECKING:
    from core.context import Context


@dataclass(frozen=True)
class ServersView:
    servers: list[dict[str, Any]]
    effective_id: int | None
    effective_source: str | None
    effective_name: str | None
    effective_note: str | None  # what use_system_server does, or why it cannot


def load(ctx: Context, slug: str | None) -> ServersView:
    from core.models.mail import MailServer
    from core.services.mail_servers import list_mail_servers, resolve_effective_server
    from core.services.versions import server_version

    with ctx.session() as session:
        tenant = owner(session, slug)
        servers = [
            {
                **s.model_dump(),
                # what to do when it cannot log in, in the TUI's words
                "problem": for_tui(s.auth_problem) if s.auth_problem else None,
                # what the edit form opened: its save is refused if someone changed it since
                "version": server_version(session.get_one(MailServer, s.id)),
            }
            for s in list_mail_servers(session=session, tenant=tenant)
        ]
        effective = resolve_effective_server(session=session, tenant=tenant)
        server = effective.server
        return ServersView(
            servers=servers,
            effective_id=server.id if server else None,
            effective_source=effective.source,
            effective_name=server.name if server else None,
            effective_note=effective.note,
        )


def save(
    ctx: Context,
    slug: str | None,
    server_id: int | None,
    changes: dict[str, Any],
    version: str | None = None,
) -> str:
    """Add a server (`server_id` None) or change one; its name. With `version` (the one the form
    opened) a change is refused (Conflict) when someone else changed the server since."""
    from core.models.mail import MailServerCreate, MailServerUpdate
    from core.services.mail_servers import create_mail_server, update_mail_server

    with ctx.session() as session:
        tenant = owner(session, slug, write=True)
        if server_id is None:
            server = create_mail_server(
                session=session,
                box=ctx.box,
                tenant=tenant,
                data=MailServerCreate.from_fields(changes),
                actor=actor(),
            )
        else:
            server = update_mail_server(
                session=session,
                box=ctx.box,
                tenant=tenant,
                server_id=server_id,
                changes=MailServerUpdate.from_fields(changes),
                actor=actor(),
                expected_version=version,
            )
        return server.name


def conflict_of(exc: BaseException) -> str | None:
    """The message when a save was refused because someone else changed the row since the
    form opened (servers and accounts alike); None for any other failure."""
    from core.services.versions import StaleVersion

    if not isinstance(exc, StaleVersion):
        return None
    return exc.message[:1].upper() + exc.message[1:]  # a sentence of its own in a dialog


def make_default(ctx: Context, slug: str | None, server_id: int) -> str:
    from core.services.mail_servers import set_default_mail_server

    with ctx.session() as session:
        done = set_default_mail_server(
            session=session,
            tenant=owner(session, slug, write=True),
            server_id=server_id,
            actor=actor(),
        )
        return done.name


def delete(ctx: Context, slug: str | None, server_id: int) -> str:
    """Delete the server; a sentence saying what else changed."""
    from core.services.mail_servers import delete_mail_server, get_mail_server

    with ctx.session() as session:
        tenant = owner(session, slug, write=True)
        name = get_mail_server(session=session, tenant=tenant, server_id=server_id).name
        result = delete_mail_server(
            session=session, tenant=tenant, server_id=server_id, actor=actor()
        )
    parts = [f"Deleted {name}."]
    if result.detached_accounts:
        emails = ", ".join(a.email for a in result.detached_accounts)
        parts.append(f"These accounts have no outbound server now: {emails}.")
    if result.new_default is not None:
        parts.append(f"{result.new_default.name} is the default now.")
    return " ".join(parts)


def field_error(name: str, value: Any) -> str | None:
    """The rule field `name` breaks with `value`, if any (the service's own rules)."""
    from core.models.mail import MailServerUpdate

    return check(MailServerUpdate.from_fields, {name: value})


def incomplete(data: dict[str, Any]) -> tuple[str, str] | None:
    """(field, rule) when the server as typed could not send yet (no host, no From…)."""
    from core.errors import ValidationError
    from core.models.mail import MailServer
    from core.services.mail_servers import check_complete
    from core.vocabulary import AuthMode

    draft = MailServer(
        name=data.get("name") or "x",
        host=str(data.get("host") or "").strip(),
        auth=str(data.get("auth") or AuthMode.AUTO),
        username=str(data.get("username") or "").strip() or None,
        mail_from=str(data.get("mail_from") or "").strip() or None,
    )
    try:
        check_complete(draft)
    except ValidationError as exc:
        return exc.field or "", exc.message
    return None


def preset(provider: str) -> dict[str, Any]:
    """What choosing `provider` fills in (host, port, security…)."""
    from core.mail.presets import preset_for

    return dict(preset_for(provider))
