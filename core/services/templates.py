"""Email templates: the shipped defaults and each owner's custom templates.

The owner of a custom template is a tenant, or the system (`tenant=None`). Tenant-scope events
are customised per tenant, system-scope events at system level: a tenant's custom template is
used for that tenant only, and deleting it restores the default. DIGEST (scope `any`) belongs to
either: a tenant's serves the digests of its events, the system's those of system events. Names
are `core.catalog.TEMPLATE_NAMES` (any case in, upper case stored). Every change is validated
(`core.template_validation`), audited with field names only, and committed.

An owner may have one custom template of a name per locale: `locale=""` (the default of every
function) is its template for every locale; `fr_FR` or a bare language `fr` (checked by
`core.locality.check_locale`, stored as it returns) serves the messages read in that locale or
language. The audit names a localized template `NAME (fr_FR)`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlmodel import Session, col, select

from core.catalog import Event, get_template, sample, variables
from core.errors import Conflict, NotFound, ValidationError
from core.locality import Locality, check_locale, language_chain
from core.models._common import owned_by, utcnow
from core.models.templates import CustomTemplate, TemplateRead, TemplateUpdate
from core.models.tenancy import Tenant
from core.rendering import (
    RenderedMessage,
    TemplateSource,
    default_template,
    default_templates,
    render,
)
from core.services.audit import Actor, record, text_summary
from core.template_validation import validate_template

# Column -> the name the API, the CLI and the audit use.
_PUBLIC = {"mail_from": "from", "subject": "subject", "body": "body"}


def _audited(column: str, value: str | None) -> str | None:
    """A value as the audit keeps it: a body as its length and digest (bodies run long)."""
    return text_summary(value) if column == "body" else value


def _owner(tenant: Tenant | None) -> str:
    return f"tenant {tenant.slug!r}" if tenant is not None else "the system"


def _event_for(name: str, tenant: Tenant | None, *, field: str | None = None) -> Event:
    """The event, checked against the owner: tenant events per tenant, system events system-wide."""
    event = get_template(name, field=field)
    if tenant is None and event.scope == "tenant":
        raise ValidationError(
            "tenant",
            f"{event.name} is a tenant event: its custom templates belong to a tenant "
            "(give --tenant SLUG, or use a tenant token)",
        )
    if tenant is not None and event.scope == "system":
        raise ValidationError(
            "tenant",
            f"{event.name} is a system event: its template is customised at system level, "
            "not per tenant",
        )
    return event


def _locale(value: str | None) -> str:
    """The stored form of a locale argument: "" (every locale) or a checked locale."""
    if value is None or value == "":
        return ""
    return check_locale("locale", value)


def _for(locale: str) -> str:
    return f" for {locale}" if locale else ""


def _target(name: str, locale: str) -> str:
    """The audit's target: `NAME`, or `NAME (fr_FR)` for a localized template."""
    return f"{name} ({locale})" if locale else name


def _query(tenant: Tenant | None) -> Any:
    return select(CustomTemplate).where(owned_by(CustomTemplate.tenant_id, tenant))


def _find(
    session: Session, tenant: Tenant | None, name: str, locale: str = ""
) -> CustomTemplate | None:
    query = _query(tenant).where(CustomTemplate.name == name, CustomTemplate.locale == locale)
    return session.exec(query).first()


def list_default_templates() -> list[TemplateSource]:
    return list(default_templates().values())


def get_default_template(name: str) -> TemplateSource:
    """The shipped template `name` (any case); `NotFound` listing the valid names."""
    return default_template(name)


def list_custom_templates(*, session: Session, tenant: Tenant | None) -> list[TemplateRead]:
    """The owner's custom templates of every locale, by name then locale ("" first)."""
    query = _query(tenant).order_by(col(CustomTemplate.name), col(CustomTemplate.locale))
    return [TemplateRead.model_validate(row) for row in session.exec(query)]


def _custom_row(
    session: Session, tenant: Tenant | None, name: str, locale: str = ""
) -> CustomTemplate:
    event = get_template(name)
    row = _find(session, tenant, event.name, locale)
    if row is None:
        raise NotFound(
            f"{_owner(tenant)} has no custom {event.name} template{_for(locale)} "
            "(the default is used)"
        )
    return row


def get_custom_template(
    *, session: Session, tenant: Tenant | None, name: str, locale: str = ""
) -> TemplateRead:
    """The owner's custom template `name` of exactly `locale` ("": the one for every locale);
    `NotFound` when it has none."""
    return TemplateRead.model_validate(_custom_row(session, tenant, name, _locale(locale)))


def values_for_create(
    *,
    tenant: Tenant | None,
    name: str,
    mail_from: str | None = None,
    subject: str | None = None,
    body: str | None = None,
    locale: str = "",
) -> dict[str, str]:
    """The parts a new custom template will have (a part not given is the shipped default's,
    in `locale`'s language when mailbell ships it), keyed as `validate_template` takes them;
    the event is checked against the owner."""
    event = _event_for(name, tenant, field="name")
    default = default_template(event.name, _locale(locale) or None)
    return {
        "mail_from": default.mail_from if mail_from is None else mail_from,
        "subject": default.subject if subject is None else subject,
        "body": default.body if body is None else body,
    }


def _merged(row: CustomTemplate, changes: TemplateUpdate) -> dict[str, str]:
    values = {"mail_from": row.mail_from, "subject": row.subject, "body": row.body}
    values.update(changes.parts())
    return values


def values_for_update(
    *,
    session: Session,
    tenant: Tenant | None,
    name: str,
    changes: TemplateUpdate,
    locale: str = "",
) -> dict[str, str]:
    """The parts the owner's custom template `name` of `locale` will have after `changes` (see
    `update_custom_template`), keyed as `validate_template` takes them."""
    event = _event_for(name, tenant)
    return _merged(_custom_row(session, tenant, event.name, _locale(locale)), changes)


def create_custom_template(
    *,
    session: Session,
    tenant: Tenant | None,
    name: str,
    mail_from: str | None = None,
    subject: str | None = None,
    body: str | None = None,
    locale: str = "",
    actor: Actor,
) -> TemplateRead:
    """Create the owner's custom template of `locale` ("": for every locale); a field not
    given starts as the shipped default's in that locale's language.

    `Conflict` when one exists already (update it instead).
    """
    event = _event_for(name, tenant, field="name")
    locale = _locale(locale)
    if _find(session, tenant, event.name, locale) is not None:
        raise Conflict(
            f"{_owner(tenant)} has a custom {event.name} template{_for(locale)} already: update it"
        )
    values = values_for_create(
        tenant=tenant,
        name=event.name,
        mail_from=mail_from,
        subject=subject,
        body=body,
        locale=locale,
    )
    validate_template(event.name, **values)
    row = CustomTemplate(
        tenant_id=tenant.id if tenant else None,
        name=event.name,
        locale=locale,
        mail_from=values["mail_from"],
        subject=values["subject"],
        body=values["body"],
    )
    session.add(row)
    given = {"mail_from": mail_from, "subject": subject, "body": body}
    record(
        session,
        actor=actor,
        action="template.create",
        tenant=tenant.slug if tenant else None,
        target=_target(event.name, locale),
        changes={
            _PUBLIC[column]: (None, _audited(column, values[column]))
            for column, value in given.items()
            if value is not None
        },
    )
    session.commit()
    return TemplateRead.model_validate(row)


def update_custom_template(
    *,
    session: Session,
    tenant: Tenant | None,
    name: str,
    changes: TemplateUpdate,
    locale: str = "",
    actor: Actor,
) -> TemplateRead:
    """Partial update of the owner's template `name` of `locale`: `from`/`subject`/`body`
    absent (or None) keep their values.

    `NotFound` when the owner has no custom template of that name and locale (nothing is
    created).
    """
    event = _event_for(name, tenant)
    locale = _locale(locale)
    row = _custom_row(session, tenant, event.name, locale)
    values = _merged(row, changes)
    validate_template(event.name, **values)
    changed = {
        column: (_audited(column, getattr(row, column)), _audited(column, value))
        for column, value in values.items()
        if getattr(row, column) != value
    }
    if changed:
        for column in changed:
            setattr(row, column, values[column])
        row.updated_at = utcnow()
        session.add(row)
        record(
            session,
            actor=actor,
            action="template.update",
            tenant=tenant.slug if tenant else None,
            target=_target(event.name, locale),
            changes={_PUBLIC[column]: changed[column] for column in changed},
        )
        session.commit()
    return TemplateRead.model_validate(row)


def delete_custom_template(
    *, session: Session, tenant: Tenant | None, name: str, locale: str = "", actor: Actor
) -> None:
    """Delete the owner's custom template of `locale`: the next in the lookup order
    (`effective_template`) is used again. `NotFound` when none."""
    row = _custom_row(session, tenant, name, _locale(locale))
    session.delete(row)
    record(
        session,
        actor=actor,
        action="template.delete",
        tenant=tenant.slug if tenant else None,
        target=_target(row.name, row.locale),
    )
    session.commit()


def _event_owner(event: Event, tenant: Tenant | None) -> tuple[bool, Tenant | None]:
    """Whether custom templates of `event` apply for `tenant`, and whose they are: a system
    event's are the system's, a tenant event has none at system level, DIGEST's the owner's."""
    if event.scope == "tenant" and tenant is None:
        return False, None
    return True, None if event.scope == "system" else tenant


def _effective_row(
    session: Session, event: Event, tenant: Tenant | None, locale: str | None = None
) -> CustomTemplate | None:
    """The custom template in use for `tenant` (None: the system) in `locale`: a system
    event's is the system's; a tenant event has none at system level; DIGEST's is the owner's.
    Looked up in the locale, then its language, then the owner's template for every locale."""
    owner = None if event.scope == "system" else tenant
    if event.scope == "tenant" and tenant is None:
        return None
    rows = session.exec(_query(owner).where(CustomTemplate.name == event.name)).all()
    by_locale = {row.locale: row for row in rows}
    for candidate in (*(language_chain(locale) if locale else ()), ""):
        if candidate in by_locale:
            return by_locale[candidate]
    return None


def effective_template(
    *, session: Session, tenant: Tenant | None, name: str, locale: str | None = None
) -> TemplateSource:
    """What a message of event `name` for this owner, read in `locale`, is rendered with: the
    owner's custom template of the locale, else of its language, else its template for every
    locale, else the shipped default in the locale's language (English when none ships).

    System-scope events always use the system's template, whatever `tenant` is given.
    """
    return _in_use(session, get_template(name), tenant, locale)[0]


def _in_use(
    session: Session, event: Event, tenant: Tenant | None, locale: str | None
) -> tuple[TemplateSource, str | None]:
    row = _effective_row(session, event, tenant, locale)
    if row is None:
        return default_template(event.name, locale), None
    source = TemplateSource(
        name=row.name, mail_from=row.mail_from, subject=row.subject, body=row.body, custom=True
    )
    return source, row.locale


def template_details(
    *, session: Session, tenant: Tenant | None, name: str, locale: str | None = None
) -> dict[str, Any]:
    """`template show NAME [--locale L] --json`: the event, its variables, sample, "default"
    (the shipped template in `locale`'s language), "custom" (the owner's row of exactly
    `locale`; None: the one for every locale), "locale" and "locales" (the locales the owner
    has custom templates of for this name, "" standing for every locale)."""
    event = get_template(name)
    wanted = _locale(locale)
    applies, owner = _event_owner(event, tenant)
    rows = session.exec(_query(owner).where(CustomTemplate.name == event.name)).all()
    by_locale = {row.locale: row for row in rows} if applies else {}
    custom = _custom_shown(by_locale[wanted]) if wanted in by_locale else None
    return {
        "name": event.name,
        "scope": event.scope,
        "toggle": event.toggle,
        "audience": event.audience,
        "description": event.description,
        "variables": variables(event.name),
        "sample": sample(event.name),
        "locale": wanted or None,
        "locales": sorted(by_locale),
        "default": default_template(event.name, wanted or None).as_dict(),
        "custom": custom,
    }


def _custom_shown(row: CustomTemplate) -> dict[str, Any]:
    shown = TemplateRead.model_validate(row).as_dict()
    return {key: value for key, value in shown.items() if key != "name"}


def custom_templates_of(
    *, session: Session, tenant: Tenant | None, name: str
) -> list[dict[str, Any]]:
    """Every custom template of `name` the owner has, one per locale in the order of
    `template_details`' "locales", each shown as its "custom"."""
    event = get_template(name)
    applies, owner = _event_owner(event, tenant)
    if not applies:
        return []
    rows = session.exec(_query(owner).where(CustomTemplate.name == event.name)).all()
    return [_custom_shown(row) for row in sorted(rows, key=lambda row: row.locale)]


def template_in_use(
    *, session: Session, tenant: Tenant | None, name: str, locale: str | None = None
) -> tuple[TemplateSource, str | None]:
    """`effective_template` and which custom template it is: the row's locale ("" for the
    owner's template for every locale), or None when it is the shipped default."""
    return _in_use(session, get_template(name), tenant, _locale(locale) or None)


def custom_locales(*, session: Session, tenant: Tenant | None) -> dict[str, list[str]]:
    """Each template name → the locales of the custom templates that serve this owner's
    messages ("" first: the one for every locale). System events list the system's, even for
    a tenant; a tenant event has none at system level."""
    found: dict[str, list[str]] = {}
    for owner in (None,) if tenant is None else (tenant, None):
        for row in session.exec(_query(owner)):
            applies, whose = _event_owner(get_template(row.name), tenant)
            if applies and whose is owner:
                found.setdefault(row.name, []).append(row.locale)
    return {name: sorted(locales) for name, locales in found.items()}


# The From a preview renders with where the owner's mail server would give it (none is asked).
PREVIEW_SERVER_FROM = "mail-server@preview.invalid"


@dataclass(frozen=True)
class TemplatePreview:
    """A template rendered as the owner's message of its event would be (`template preview`,
    `GET /api/email_templates/NAME/preview`)."""

    name: str
    rendered: RenderedMessage
    custom: bool
    template_locale: str | None  # the custom template's locale ("": every locale); None: default
    locality: Locality

    @property
    def mail_from(self) -> str | None:
        """The rendered From; None where it is the mail server's."""
        sender = self.rendered.mail_from
        return None if sender == PREVIEW_SERVER_FROM else sender

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "custom": self.custom,
            "template_locale": self.template_locale or None,
            "locale": self.locality.locale,
            "timezone": self.locality.timezone,
            "from": self.mail_from,
            "subject": self.rendered.subject,
            "text": self.rendered.text,
            "html": self.rendered.html,
            "attachments": [attachment.shown() for attachment in self.rendered.attachments],
        }


def preview_template(
    *,
    session: Session,
    tenant: Tenant | None,
    name: str,
    data: Any,
    owner_locality: Locality,
    locale: str | None = None,
) -> TemplatePreview:
    """Event `name`'s template for this owner rendered with `data`, in the owner's zone and
    its locale, or `locale` (with the template that locale picks). A template that fails with
    the data is `PermanentError`."""
    event = get_template(name)
    wanted = _locale(locale)
    locality = replace(owner_locality, locale=wanted) if wanted else owner_locality
    source, used = _in_use(session, event, tenant, locality.locale)
    rendered = render(
        event.name, data, template=source, server_from=PREVIEW_SERVER_FROM, locality=locality
    )
    return TemplatePreview(event.name, rendered, source.custom, used, locality)
