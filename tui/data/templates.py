"""Email templates: the list with badges and languages, one template of one locale, its live
preview (in the owner's zone and locale, with the message's attachments), save, reset, a
sample emit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tui.runtime import actor, owner

if TYPE_CHECKING:
    from core.context import Context
    from core.locality import Locality

FALLBACK_FROM = "notifications@example.com"
# At most 20 characters, and the Languages column at most LANGUAGES_WIDTH: the page's table
# fits 80 columns.
AUDIENCE = {
    "tenant_recipients": "tenant recipients",
    "payload_email": "the payload's email",
    "payload_email_or_tenant_recipients": "new user/recipients",
    "system_recipients": "system recipients",
    "owner_recipients": "a burst's recipients",
}
# The locales the editor always offers, besides "every language" and the owner's own.
EDITOR_LOCALES = ("en_US", "fr_FR", "de_DE")
EVERY_LANGUAGE = "Every language"
LANGUAGES_WIDTH = 14


@dataclass(frozen=True)
class TemplateRow:
    name: str
    scope: str
    audience: str
    toggle: str | None
    custom: bool
    editable: bool
    # The locales the owner has custom templates of ("" = its template for every locale).
    locales: tuple[str, ...] = ()

    @property
    def languages(self) -> str:
        return languages(self.locales)


def languages(locales: tuple[str, ...] | list[str], width: int | None = None) -> str:
    """`("", "fr_FR")` -> "any, fr_FR"; past `width` characters the rest are counted:
    `("", "de_DE", "fr_FR")` in 14 -> "any, de_DE +1"."""
    names = [locale or "any" for locale in locales]
    shown = ", ".join(names)
    if width is None or len(shown) <= width:
        return shown
    for count in range(len(names) - 1, 0, -1):
        shown = f"{', '.join(names[:count])} +{len(names) - count}"
        if len(shown) <= width:
            return shown
    return f"+{len(names)}"


@dataclass
class Preview:
    seq: int
    errors: dict[str, str] = field(default_factory=dict)
    subject: str = ""
    mail_from: str = ""
    text: str = ""
    html: str = ""
    # "fr_FR, Europe/Paris": where the preview reads, as the owner's mail will.
    where: str = ""
    # One line per file the message carries: name, type, size.
    attachments: list[str] = field(default_factory=list)


def load_rows(ctx: Context, slug: str | None) -> list[TemplateRow]:
    from core.catalog import TEMPLATE_NAMES
    from core.services.templates import template_details

    rows = []
    with ctx.session() as session:
        tenant = owner(session, slug)
        for name in TEMPLATE_NAMES:
            details = template_details(session=session, tenant=tenant, name=name)
            scope = details["scope"]
            locales = tuple(details["locales"])
            rows.append(
                TemplateRow(
                    name=name,
                    scope=scope,
                    audience=AUDIENCE.get(details["audience"], details["audience"]),
                    toggle=details["toggle"],
                    custom=bool(locales),
                    # DIGEST (scope any) is customised by whichever owner is shown
                    editable=scope == "any" or (scope == "system") == (slug is None),
                    locales=locales,
                )
            )
    return rows


def emit_sample(ctx: Context, slug: str | None, name: str) -> str:
    """Emit `name` with its sample payload, as `mailbell emit` would; what became of it."""
    from core.catalog import get_template
    from core.pipeline.emit import emit

    # The sample as PortSIP would send it: its files' bytes included (a dumped payload has none).
    data = dict(get_template(name).sample)
    with ctx.session() as session:
        tenant = owner(session, slug, write=True)
        result = emit(session=session, box=ctx.box, tenant=tenant, event=name, data=data)
        states = [
            f"#{d.id} {d.status}" + (f" ({d.last_error})" if d.last_error else "")
            for d in result.deliveries
        ]
    from tui.data.wording import page_ref

    outcome = ", ".join(states) or "no deliveries"
    return f"{name} emitted: {outcome} — see {page_ref('deliveries')}"


def load_template(ctx: Context, slug: str | None, name: str, locale: str = "") -> dict[str, Any]:
    """`template_details` of the owner's template `name` of `locale` ("": for every locale),
    with the From the server would use, and the zone and locale the owner's mail reads in
    ("timezone", "owner_locale"; a system event's are the system's, whose mail it is)."""
    from core.pipeline.emit_config import owner_config
    from core.senders import server_from
    from core.services.mail_servers import resolve_effective_server
    from core.services.templates import template_details

    with ctx.session() as session:
        tenant = owner(session, slug)
        details = template_details(session=session, tenant=tenant, name=name, locale=locale)
        server = resolve_effective_server(session=session, tenant=tenant).server
        details["server_from"] = (server_from(server) if server else "") or FALLBACK_FROM
        mail_owner = None if details["scope"] == "system" else tenant
        locality = owner_config(session, mail_owner).locality
    details["timezone"], details["owner_locale"] = locality.timezone, locality.locale
    return details


def locale_choices(owner_locale: str, locales: list[str]) -> list[tuple[str, str]]:
    """(label, locale) for the editor's selector: every language (""), the owner's locale, the
    languages mailbell ships, and any other locale the owner has a custom template of."""
    from core.vocabulary import LOCALE_LABELS

    codes = [owner_locale, *EDITOR_LOCALES, *sorted(locale for locale in locales if locale)]
    choices = [(EVERY_LANGUAGE, "")]
    for code in dict.fromkeys(codes):
        label = f"{code} · {LOCALE_LABELS[code]}" if code in LOCALE_LABELS else code
        if code == owner_locale:
            label += " (owner's)"
        choices.append((label, code))
    return choices


def preview_locality(details: dict[str, Any], locale: str) -> Locality:
    """Where a preview reads: the owner's zone, in the template's locale (the owner's own
    for its template of every locale)."""
    from core.locality import Locality

    return Locality(details["timezone"], locale or details["owner_locale"])


def make_preview(
    seq: int,
    name: str,
    parts: dict[str, str],
    server_from: str,
    locality: Locality | None = None,
) -> Preview:
    """Check and render the template as typed with the event's sample payload, in `locality`
    (default UTC, en_US)."""
    from core.catalog import get_template
    from core.errors import MailbellError, ValidationError
    from core.locality import Locality
    from core.rendering import TemplateSource, render
    from core.template_validation import validate_template

    locality = locality or Locality.default()
    preview = Preview(seq, where=f"{locality.locale}, {locality.timezone}")
    try:
        validate_template(
            name, mail_from=parts["from"], subject=parts["subject"], body=parts["body"]
        )
    except ValidationError as exc:
        preview.errors[exc.field if exc.field in parts else "body"] = exc.message
    from core.attachments.model import file_size_text

    source = TemplateSource(name, parts["from"], parts["subject"], parts["body"])
    try:
        # The validated sample itself: its files keep their bytes, so they are listed.
        payload = get_template(name).sample_payload()
        message = render(name, payload, template=source, server_from=server_from, locality=locality)
    except MailbellError as exc:
        preview.errors.setdefault("body", str(exc))
        return preview
    preview.subject, preview.mail_from = message.subject, message.mail_from
    preview.text, preview.html = message.text, message.html
    preview.attachments = [
        f"{shown['filename']}  {shown['content_type']}  {file_size_text(shown['size'])}"
        for shown in (attachment.shown() for attachment in message.attachments)
    ]
    return preview


def save_template(
    ctx: Context,
    slug: str | None,
    name: str,
    parts: dict[str, str],
    custom: bool,
    locale: str = "",
) -> None:
    """Update the owner's custom template `name` of `locale` (`custom`), or create it."""
    from core.models.templates import TemplateUpdate
    from core.services.templates import create_custom_template, update_custom_template

    with ctx.session() as session:
        tenant = owner(session, slug, write=True)
        if custom:
            update_custom_template(
                session=session,
                tenant=tenant,
                name=name,
                changes=TemplateUpdate.from_fields(parts),
                locale=locale,
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
                locale=locale,
                actor=actor(),
            )


def reset_template(ctx: Context, slug: str | None, name: str, locale: str = "") -> None:
    from core.services.templates import delete_custom_template

    with ctx.session() as session:
        delete_custom_template(
            session=session,
            tenant=owner(session, slug, write=True),
            name=name,
            locale=locale,
            actor=actor(),
        )
