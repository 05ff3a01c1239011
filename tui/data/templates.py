"""Email templates: the list with badges, one template, its live preview, save, reset, a sample
emit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tui.runtime import actor, owner

if TYPE_CHECKING:
    from core.context import Context

FALLBACK_FROM = "notifications@example.com"
AUDIENCE = {
    "tenant_recipients": "tenant recipients",
    "payload_email": "the payload's email",
    "payload_email_or_tenant_recipients": "new user (or recipients)",
    "system_recipients": "system recipients",
    "owner_recipients": "a burst's recipients",
}


@dataclass(frozen=True)
class TemplateRow:
    name: str
    scope: str
    audience: str
    toggle: str | None
    custom: bool
    editable: bool


@dataclass
class Preview:
    seq: int
    errors: dict[str, str] = field(default_factory=dict)
    subject: str = ""
    mail_from: str = ""
    text: str = ""
    html: str = ""


def load_rows(ctx: Context, slug: str | None) -> list[TemplateRow]:
    from core.catalog import TEMPLATE_NAMES
    from core.services.templates import template_details

    rows = []
    with ctx.session() as session:
        tenant = owner(session, slug)
        for name in TEMPLATE_NAMES:
            details = template_details(session=session, tenant=tenant, name=name)
            scope = details["scope"]
            rows.append(
                TemplateRow(
                    name=name,
                    scope=scope,
                    audience=AUDIENCE.get(details["audience"], details["audience"]),
                    toggle=details["toggle"],
                    custom=details["custom"] is not None,
                    # DIGEST (scope any) is customised by whichever owner is shown
                    editable=scope == "any" or (scope == "system") == (slug is None),
                )
            )
    return rows


def emit_sample(ctx: Context, slug: str | None, name: str) -> str:
    """Emit `name` with its sample payload, as `mailbell emit` would; what became of it."""
    from core.catalog import sample
    from core.pipeline.emit import emit

    with ctx.session() as session:
        tenant = owner(session, slug)
        result = emit(session=session, box=ctx.box, tenant=tenant, event=name, data=sample(name))
        states = [
            f"#{d.id} {d.status}" + (f" ({d.last_error})" if d.last_error else "")
            for d in result.deliveries
        ]
    return f"{name} emitted: " + (", ".join(states) or "no deliveries") + " — see Deliveries (6)"


def load_template(ctx: Context, slug: str | None, name: str) -> dict[str, Any]:
    from core.senders import server_from
    from core.services.mail_servers import resolve_effective_server
    from core.services.templates import template_details

    with ctx.session() as session:
        tenant = owner(session, slug)
        details = template_details(session=session, tenant=tenant, name=name)
        server = resolve_effective_server(session=session, tenant=tenant).server
        details["server_from"] = (server_from(server) if server else "") or FALLBACK_FROM
    return details


def make_preview(seq: int, name: str, parts: dict[str, str], server_from: str) -> Preview:
    """Check and render the template as typed with the event's sample payload."""
    from core.catalog import sample
    from core.errors import MailbellError, ValidationError
    from core.rendering import TemplateSource, render
    from core.template_validation import validate_template

    preview = Preview(seq)
    try:
        validate_template(
            name, mail_from=parts["from"], subject=parts["subject"], body=parts["body"]
        )
    except ValidationError as exc:
        preview.errors[exc.field if exc.field in parts else "body"] = exc.message
    source = TemplateSource(name, parts["from"], parts["subject"], parts["body"])
    try:
        message = render(name, sample(name), template=source, server_from=server_from)
    except MailbellError as exc:
        preview.errors.setdefault("body", str(exc))
        return preview
    preview.subject, preview.mail_from = message.subject, message.mail_from
    preview.text, preview.html = message.text, message.html
    return preview


def save_template(
    ctx: Context, slug: str | None, name: str, parts: dict[str, str], custom: bool
) -> None:
    from core.models.templates import TemplateUpdate
    from core.services.templates import create_custom_template, update_custom_template

    with ctx.session() as session:
        tenant = owner(session, slug)
        if custom:
            update_custom_template(
                session=session,
                tenant=tenant,
                name=name,
                changes=TemplateUpdate.from_fields(parts),
                actor=actor(),
            )
        else:
            create_custom_template(
                session=session,
                tenant=tenant,
                name=name,
                mail_from=parts["from"],
                subject=parts["subject"],
                body=parts["body"],
                actor=actor(),
            )


def reset_template(ctx: Context, slug: str | None, name: str) -> None:
    from core.services.templates import delete_custom_template

    with ctx.session() as session:
        delete_custom_template(
            session=session, tenant=owner(session, slug), name=name, actor=actor()
        )
