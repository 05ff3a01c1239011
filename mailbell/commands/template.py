"""`mailbell template list|show|preview|set|reset`: the email templates.

Without `--tenant` a command acts at system level (system events' templates); tenant events are
customised with `--tenant SLUG`; DIGEST (the digests of bursts) at either level, for the digests
of that owner's events. `--locale L` names an owner's custom template for one locale (`fr_FR`)
or language (`fr`); without it, the owner's template for every locale. Core modules are
imported inside the commands.
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
LOCALE_HELP = (
    "The custom template of this locale (fr_FR) or language (fr); "
    "default: the one for every locale."
)


def _tenant(session: Session, slug: str | None) -> Tenant | None:
    if not slug:
        return None
    from core.services.tenants import get_tenant

    return get_tenant(session=session, slug=slug)


def _for(locale: str | None) -> str:
    return f" for {locale}" if locale else ""


def _toggle_text(name: str, toggle: str | None) -> str:
    if toggle:
        return toggle
    # DIGEST has no switch of its own: each event's digest policy decides when it is sent.
    return "(digest.EVENT policies)" if name == "DIGEST" else "(always on)"


@app.command("list")
def list_templates(
    tenant: str | None = typer.Option(None, "--tenant", help=TENANT_HELP),
    locale: str | None = typer.Option(
        None,
        "--locale",
        help="Show, for each template, the one a message read in this locale uses.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON rows."),
) -> None:
    """The templates: scope, toggle, and which custom ones exist (per locale) or are in use."""
    from core.catalog import TEMPLATE_NAMES, get_template
    from core.services import templates

    rows: list[dict[str, Any]] = []
    with context().session() as session:
        owner = _tenant(session, tenant)
        if locale is not None:
            from core.locality import check_locale

            locale = check_locale("locale", locale)
        locales = templates.custom_locales(session=session, tenant=owner)
        for name in TEMPLATE_NAMES:
            event = get_template(name)
            # --locale: the template a message read in it uses. Without: the owner's template
            # for every locale (or the default), then each of its localized ones.
            wanted = [locale] if locale else [None, *(x for x in locales.get(name, []) if x)]
            for each in wanted:
                source, used = templates.template_in_use(
                    session=session, tenant=owner, name=name, locale=each
                )
                rows.append(
                    {
                        "name": name,
                        "scope": event.scope,
                        "toggle": event.toggle,
                        "custom": source.custom,
                        "locale": used or None,
                        "subject": source.subject,
                    }
                )
    if as_json:
        print_json(rows)
        return
    typer.echo(f"{'NAME':<22} {'SCOPE':<7} {'TOGGLE':<29} {'LOCALE':<7} {'CUSTOM':<6} SUBJECT")
    for row in rows:
        used = row["locale"] if row["locale"] else ("(any)" if row["custom"] else "-")
        typer.echo(
            f"{row['name']:<22} {row['scope']:<7} {_toggle_text(row['name'], row['toggle']):<29} "
            f"{used:<7} {'yes' if row['custom'] else 'no':<6} {row['subject']}"
        )


@app.command("show")
def show(
    name: str = typer.Argument(..., help="Template name, e.g. QUEUE_SLA (any case)."),
    tenant: str | None = typer.Option(None, "--tenant", help=TENANT_HELP),
    locale: str | None = typer.Option(None, "--locale", help=LOCALE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the full details as JSON."),
) -> None:
    """A template's event, variables, sample payload, default and custom versions."""
    from core.services import templates

    with context().session() as session:
        owner = _tenant(session, tenant)
        details = templates.template_details(
            session=session, tenant=owner, name=name, locale=locale
        )
        source, used = templates.template_in_use(
            session=session, tenant=owner, name=name, locale=details["locale"]
        )
    if as_json:
        print_json(details)
        return
    typer.echo(f"{details['name']}: {details['description']}")
    typer.echo(
        f"scope: {details['scope']}    toggle: {_toggle_text(details['name'], details['toggle'])}"
    )
    typer.echo(f"sent to: {details['audience']}")
    if details["locale"]:
        typer.echo(f"locale: {details['locale']}")
    in_use = "default" if used is None else f"custom ({used or 'any locale'})"
    typer.echo(f"in use: {'custom' if details['custom'] else in_use}")
    if details["locales"]:
        listed = ", ".join(loc or "(any)" for loc in details["locales"])
        typer.echo(f"custom templates: {listed}")
    # The parts of the template in use (--json has the default and the locale's own row).
    typer.echo(f"from: {source.mail_from or '(the mail server From address)'}")
    typer.echo(f"subject: {source.subject}")
    typer.echo(f"body: {len(source.body.encode('utf-8'))} bytes of HTML (--json shows it)")
    typer.echo("variables:")
    for var, info in details["variables"].items():
        required = "required" if info["required"] else "optional"
        typer.echo(f"  {var:<20} {info['type']:<9} {required:<9} {info['description']}")


def _payload(event: Any, data: str | None) -> dict[str, Any]:
    """The sample payload, with `--data` (a JSON object) merged over it."""
    from core.errors import ValidationError

    payload: dict[str, Any] = dict(event.sample)
    if data is not None:
        try:
            given = json.loads(data)
        except json.JSONDecodeError as exc:
            raise ValidationError("data", f"is not valid JSON: {exc}") from None
        if not isinstance(given, dict):
            raise ValidationError("data", "must be a JSON object")
        payload.update(given)
    return payload


@app.command("preview")
def preview(
    name: str = typer.Argument(..., help="Template name, e.g. QUEUE_SLA (any case)."),
    tenant: str | None = typer.Option(None, "--tenant", help=TENANT_HELP),
    locale: str | None = typer.Option(
        None,
        "--locale",
        help="Render in this locale (default: the owner's), with the template it would use.",
    ),
    data: str | None = typer.Option(
        None, "--data", help="JSON object merged over the sample payload."
    ),
    html_file: Path | None = typer.Option(
        None, "--html", dir_okay=False, help="Also write the HTML part to this file."
    ),
    show_html: bool = typer.Option(
        False, "--show-html", help="Print the HTML part instead of the text."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the rendered message as JSON."),
) -> None:
    """Render a template with its sample payload (or --data) in the owner's time zone and
    locale, as a message would be, and print subject, body and attachments."""
    from core.catalog import get_template
    from core.pipeline.emit_config import owner_config
    from core.services.templates import preview_template

    event = get_template(name)
    payload = _payload(event, data)
    with context().session() as session:
        owner = _tenant(session, tenant)
        result = preview_template(
            session=session,
            tenant=owner,
            name=event.name,
            data=payload,
            owner_locality=owner_config(session, owner).locality,
            locale=locale,
        )
    rendered, locality, used = result.rendered, result.locality, result.template_locale
    if html_file is not None:
        html_file.write_text(rendered.html, encoding="utf-8")
    sender = result.mail_from or "(the mail server From address)"
    attachments = [attachment.shown() for attachment in rendered.attachments]
    if as_json:
        print_json(result.as_dict() | {"from": sender})
        return
    kind = "default" if used is None else f"custom {used}".rstrip()
    typer.echo(f"Template: {event.name} ({kind})")
    typer.echo(f"Locale: {locality.locale}    Time zone: {locality.timezone}")
    typer.echo(f"From: {sender}")
    typer.echo(f"Subject: {rendered.subject}")
    for image in rendered.inline:
        typer.echo(f"Inline image: {image.filename} ({len(image.data)} bytes, cid:{image.cid})")
    typer.echo("")
    typer.echo(rendered.html if show_html else rendered.text)
    if attachments:
        typer.echo("")
    from core.attachments.model import file_size_text

    for shown in attachments:
        typer.echo(
            f"attachment: {shown['filename']} ({shown['content_type']}, "
            f"{file_size_text(shown['size'])})"
        )


@app.command("set")
def set_template(
    name: str = typer.Argument(..., help="Template name, e.g. QUEUE_SLA (any case)."),
    tenant: str | None = typer.Option(None, "--tenant", help=TENANT_HELP),
    locale: str | None = typer.Option(None, "--locale", help=LOCALE_HELP),
    mail_from: str | None = typer.Option(None, "--from", help="From (empty: the server's)."),
    subject: str | None = typer.Option(None, "--subject", help="Subject template (one line)."),
    body_file: Path | None = typer.Option(
        None, "--body-file", dir_okay=False, help="HTML body template file ('-' reads stdin)."
    ),
) -> None:
    """Customise a template (created from the default in its language when new); absent
    fields are kept."""
    from core.errors import NotFound
    from core.locality import check_locale
    from core.models.templates import TemplateUpdate
    from core.services import templates

    if mail_from is None and subject is None and body_file is None:
        raise usage_error("give at least one of --from, --subject, --body-file")
    # Checked before the body is read from stdin: a bad locale reads nothing.
    code = check_locale("locale", locale) if locale else ""
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
            row = templates.get_custom_template(
                session=session, tenant=owner, name=name, locale=code
            )
        except NotFound:
            row = templates.create_custom_template(
                session=session,
                tenant=owner,
                name=name,
                mail_from=mail_from,
                subject=subject,
                body=body,
                locale=code,
                actor=actor(),
            )
            typer.echo(f"{row.name}: custom template{_for(code)} created for {where}")
            return
        changes = TemplateUpdate.from_fields({"from": mail_from, "subject": subject, "body": body})
        templates.update_custom_template(
            session=session, tenant=owner, name=row.name, changes=changes, locale=code,
            actor=actor(),
        )  # fmt: skip
        typer.echo(f"{row.name}: custom template{_for(code)} updated for {where}")


@app.command("reset")
def reset(
    name: str = typer.Argument(..., help="Template name, e.g. QUEUE_SLA (any case)."),
    tenant: str | None = typer.Option(None, "--tenant", help=TENANT_HELP),
    locale: str | None = typer.Option(None, "--locale", help=LOCALE_HELP),
) -> None:
    """Delete the custom template (of --locale): the next in the lookup order is used again
    (the language's, the one for every locale, the default)."""
    from core.catalog import get_template
    from core.locality import check_locale
    from core.services import templates

    event = get_template(name)
    code = check_locale("locale", locale) if locale else ""
    with context().session() as session:
        owner = _tenant(session, tenant)
        templates.delete_custom_template(
            session=session, tenant=owner, name=event.name, locale=code, actor=actor()
        )
    where = f"tenant {owner.slug}" if owner else "the system"
    after = "the default is used again" if not code else f"messages in {code} use the next match"
    typer.echo(f"{event.name}: custom template{_for(code)} deleted for {where}; {after}")
