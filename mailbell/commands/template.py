"""`mailbell template list|show|preview|set|reset`: the email templates.

Without `--tenant` a command acts at system level (system events' templates); tenant events are
customised with `--tenant SLUG`; DIGEST (the digests of bursts) at either level, for the digests
of that owner's events. Core modules are imported inside the commands.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from mailbell.commands._common import actor, context, print_json, usage_error

if TYPE_CHECKING:
    from sqlmodel import Session

    from core.models.tenancy import Tenant

app = typer.Typer(
    help="Email templates: list, show, preview, customise (set) and reset to the default.",
    no_args_is_help=True,
)

TENANT_HELP = "Tenant slug (default: system level)."
SERVER_FROM_PLACEHOLDER = "mail-server@preview.invalid"


def _tenant(session: Session, slug: str | None) -> Tenant | None:
    if not slug:
        return None
    from core.services.tenants import get_tenant

    return get_tenant(session=session, slug=slug)


def _toggle_text(name: str, toggle: str | None) -> str:
    if toggle:
        return toggle
    # DIGEST has no switch of its own: each event's digest policy decides when it is sent.
    return "(digest.EVENT policies)" if name == "DIGEST" else "(always on)"


@app.command("list")
def list_templates(
    tenant: str | None = typer.Option(None, "--tenant", help=TENANT_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON rows."),
) -> None:
    """The templates: scope, toggle, and whether a custom one is in use."""
    from core.catalog import TEMPLATE_NAMES, get_template
    from core.services import templates

    with context().session() as session:
        owner = _tenant(session, tenant)
        rows: list[dict[str, Any]] = []
        for name in TEMPLATE_NAMES:
            event = get_template(name)
            effective = templates.effective_template(session=session, tenant=owner, name=name)
            rows.append(
                {
                    "name": name,
                    "scope": event.scope,
                    "toggle": event.toggle,
                    "custom": effective.custom,
                    "subject": effective.subject,
                }
            )
    if as_json:
        print_json(rows)
        return
    typer.echo(f"{'NAME':<22} {'SCOPE':<7} {'TOGGLE':<29} {'CUSTOM':<6} SUBJECT")
    for row in rows:
        typer.echo(
            f"{row['name']:<22} {row['scope']:<7} {_toggle_text(row['name'], row['toggle']):<29} "
            f"{'yes' if row['custom'] else 'no':<6} {row['subject']}"
        )


@app.command("show")
def show(
    name: str = typer.Argument(..., help="Template name, e.g. QUEUE_SLA (any case)."),
    tenant: str | None = typer.Option(None, "--tenant", help=TENANT_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the full details as JSON."),
) -> None:
    """A template's event, variables, sample payload, default and custom versions."""
    from core.services import templates

    with context().session() as session:
        details = templates.template_details(
            session=session, tenant=_tenant(session, tenant), name=name
        )
    if as_json:
        print_json(details)
        return
    current = details["custom"] or details["default"]
    typer.echo(f"{details['name']}: {details['description']}")
    typer.echo(
        f"scope: {details['scope']}    toggle: {_toggle_text(details['name'], details['toggle'])}"
    )
    typer.echo(f"sent to: {details['audience']}")
    typer.echo(f"in use: {'custom' if details['custom'] else 'default'}")
    typer.echo(f"from: {current['from'] or '(the mail server From address)'}")
    typer.echo(f"subject: {current['subject']}")
    typer.echo(f"body: {len(current['body'].encode('utf-8'))} bytes of HTML (--json shows it)")
    typer.echo("variables:")
    for var, info in details["variables"].items():
        required = "required" if info["required"] else "optional"
        typer.echo(f"  {var:<20} {info['type']:<9} {required:<9} {info['description']}")


@app.command("preview")
def preview(
    name: str = typer.Argument(..., help="Template name, e.g. QUEUE_SLA (any case)."),
    tenant: str | None = typer.Option(None, "--tenant", help=TENANT_HELP),
    data: str | None = typer.Option(
        None, "--data", help="JSON object merged over the sample payload."
    ),
    html_file: Path | None = typer.Option(
        None, "--html", dir_okay=False, help="Also write the HTML part to this file."
    ),
    show_html: bool = typer.Option(
        False, "--show-html", help="Print the HTML part instead of the text."
    ),
) -> None:
    """Render a template with its sample payload (or --data) and print subject and body."""
    from core.catalog import get_template
    from core.errors import ValidationError
    from core.rendering import render
    from core.services import templates

    event = get_template(name)
    payload: dict[str, Any] = dict(event.sample)
    if data is not None:
        try:
            given = json.loads(data)
        except json.JSONDecodeError as exc:
            raise ValidationError("data", f"is not valid JSON: {exc}") from None
        if not isinstance(given, dict):
            raise ValidationError("data", "must be a JSON object")
        payload.update(given)
    with context().session() as session:
        source = templates.effective_template(
            session=session, tenant=_tenant(session, tenant), name=event.name
        )
    rendered = render(event.name, payload, template=source, server_from=SERVER_FROM_PLACEHOLDER)
    if html_file is not None:
        html_file.write_text(rendered.html, encoding="utf-8")
    sender = rendered.mail_from
    if sender == SERVER_FROM_PLACEHOLDER:
        sender = "(the mail server From address)"
    typer.echo(f"Template: {event.name} ({'custom' if source.custom else 'default'})")
    typer.echo(f"From: {sender}")
    typer.echo(f"Subject: {rendered.subject}")
    for image in rendered.inline:
        typer.echo(f"Inline image: {image.filename} ({len(image.data)} bytes, cid:{image.cid})")
    typer.echo("")
    typer.echo(rendered.html if show_html else rendered.text)


@app.command("set")
def set_template(
    name: str = typer.Argument(..., help="Template name, e.g. QUEUE_SLA (any case)."),
    tenant: str | None = typer.Option(None, "--tenant", help=TENANT_HELP),
    mail_from: str | None = typer.Option(None, "--from", help="From (empty: the server's)."),
    subject: str | None = typer.Option(None, "--subject", help="Subject template (one line)."),
    body_file: Path | None = typer.Option(
        None, "--body-file", dir_okay=False, help="HTML body template file ('-' reads stdin)."
    ),
) -> None:
    """Customise a template (created from the default when new); absent fields are kept."""
    from core.errors import NotFound
    from core.models.templates import TemplateUpdate
    from core.services import templates

    if mail_from is None and subject is None and body_file is None:
        raise usage_error("give at least one of --from, --subject, --body-file")
    body: str | None = None
    if body_file is not None:
        try:
            body = (
                sys.stdin.read() if str(body_file) == "-" else body_file.read_text(encoding="utf-8")
            )
        except (OSError, UnicodeDecodeError) as exc:
            raise usage_error(f"cannot read --body-file {body_file}: {exc}") from None
    with context().session() as session:
        owner = _tenant(session, tenant)
        where = f"tenant {owner.slug}" if owner else "the system"
        try:
            row = templates.get_custom_template(session=session, tenant=owner, name=name)
        except NotFound:
            row = templates.create_custom_template(
                session=session,
                tenant=owner,
                name=name,
                mail_from=mail_from,
                subject=subject,
                body=body,
                actor=actor(),
            )
            typer.echo(f"{row.name}: custom template created for {where}")
            return
        changes = TemplateUpdate.from_fields({"from": mail_from, "subject": subject, "body": body})
        templates.update_custom_template(
            session=session, tenant=owner, name=row.name, changes=changes, actor=actor()
        )
        typer.echo(f"{row.name}: custom template updated for {where}")


@app.command("reset")
def reset(
    name: str = typer.Argument(..., help="Template name, e.g. QUEUE_SLA (any case)."),
    tenant: str | None = typer.Option(None, "--tenant", help=TENANT_HELP),
) -> None:
    """Delete the custom template: the default is used again."""
    from core.catalog import get_template
    from core.services import templates

    event = get_template(name)
    with context().session() as session:
        owner = _tenant(session, tenant)
        templates.delete_custom_template(
            session=session, tenant=owner, name=event.name, actor=actor()
        )
    where = f"tenant {owner.slug}" if owner else "the system"
    typer.echo(f"{event.name}: custom template deleted for {where}; the default is used again")
