"""Template rendering: sandboxed Jinja2, cached compilation, complete email messages.

- Two `ImmutableSandboxedEnvironment`s with `StrictUndefined`: HTML bodies autoescape payload
  values; `from` and `subject` are rendered without HTML escaping and folded to one line (any
  CR/LF or other whitespace run becomes one space), so a payload value cannot add a header.
- Compiled templates are cached by source text (`compile_line`, `compile_body`: LRU caches).
  A body compiles to two templates: the HTML one and its plain-text twin, derived once from the
  HTML source (`core.html_text`), so no message's HTML is parsed at render time.
- `render()` gives a `RenderedMessage` (strings and headers: cheap); `render_message()` and
  `RenderedMessage.to_email_message()` build the `EmailMessage` (multipart/alternative; the HTML
  part becomes multipart/related when it shows an inline image).
- Every message carries the automatic headers of `core.mail.headers` (Auto-Submitted,
  X-Auto-Response-Suppress, List-Id naming the event and the owner: `render(..., tenant=SLUG)`).
- USER_CREATION: the template gets `qr_code_src` (a `cid:` URL) and `login_uri` (what the QR code
  encodes, see `core.catalog.login_uri`); when the HTML uses `qr_code_src` the PNG is attached
  inline under that Content-ID.
- Default templates: `data/templates/NAME.html` (body) and `data/templates/index.json`
  (`{"NAME": {"from": ..., "subject": ...}}`; an empty `from` means the mail server's address).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid
from functools import cache, lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from jinja2 import StrictUndefined, Template
from jinja2.sandbox import SecurityError

from core.attachments import Attachment, attachments_for
from core.catalog import TEMPLATE_NAMES, Event, get_template, login_uri
from core.catalog_payloads import DigestPayload, Payload, UserCreationPayload
from core.errors import PermanentError
from core.html_text import html_to_text, normalize, text_template_source
from core.locality import FILTERS, Locality, rendering_in
from core.mail.headers import automatic_headers, list_id, message_domain
from core.paths import templates_dir
from core.render_budget import BudgetExceeded, check_line
from core.render_guards import guard_filter
from core.sandbox import BudgetSandbox
from core.senders import check_headers, compose_from
from core.vocabulary import SHIPPED_LANGUAGES

MAX_BODY_BYTES = 256 * 1024
RANGE_LIMIT = 10_000
QR_FILENAME = "login-qr.png"
# What a template can raise while rendering (RecursionError: a macro calling itself).
_RENDER_ERRORS = (
    jinja2.TemplateError,
    TypeError,
    ValueError,
    ArithmeticError,
    LookupError,
    RecursionError,
)


def _finalize(value: Any) -> Any:
    return "" if value is None else value


def _limited_range(*args: int) -> range:
    result = range(*args)
    if len(result) > RANGE_LIMIT:
        raise SecurityError(f"range() is limited to {RANGE_LIMIT} items")
    return result


def _make_env(*, autoescape: bool) -> BudgetSandbox:
    env = BudgetSandbox(
        autoescape=autoescape, undefined=StrictUndefined, finalize=_finalize, auto_reload=False
    )
    # Added after the sandbox wrapped its own: guarded (arguments checked, output counted) here.
    env.filters.update({name: guard_filter(name, func) for name, func in FILTERS.items()})
    env.globals["range"] = _limited_range
    return env


HTML_ENV = _make_env(autoescape=True)
LINE_ENV = _make_env(autoescape=False)


@lru_cache(maxsize=512)
def compile_line(source: str) -> Template:
    """`from` or `subject` template, compiled once per distinct source text."""
    return LINE_ENV.from_string(source)


@dataclass(frozen=True)
class CompiledBody:
    html: Template
    text: Template | None  # None: derive the text from each rendered HTML (slow path)


@lru_cache(maxsize=512)
def compile_body(source: str) -> CompiledBody:
    """HTML body template and its plain-text twin, compiled once per distinct source text."""
    html = HTML_ENV.from_string(source)
    try:
        text: Template | None = LINE_ENV.from_string(text_template_source(source, LINE_ENV.lex))
    except jinja2.TemplateError:
        text = None
    return CompiledBody(html=html, text=text)


def template_line(exc: BaseException) -> int | None:
    """Template line where a render error happened (Jinja maps its frames to template lines)."""
    line = getattr(exc, "lineno", None)
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def describe_error(exc: BaseException) -> str:
    """`line N: reason` for a compile or render error."""
    if isinstance(exc, BudgetExceeded):
        reason = exc.message or ""
    elif isinstance(exc, SecurityError):
        reason = f"not allowed in a template: {exc}"
    elif isinstance(exc, jinja2.TemplateSyntaxError):
        reason = f"syntax error: {exc.message}"
    elif isinstance(exc, jinja2.TemplateError):
        reason = exc.message or type(exc).__name__
    else:
        reason = f"{type(exc).__name__}: {exc}"
    line = template_line(exc)
    return f"line {line}: {reason}" if line else reason


@dataclass(frozen=True)
class TemplateSource:
    """One template as stored: `from` (may be empty), `subject` and HTML `body`."""

    name: str
    mail_from: str
    subject: str
    body: str
    custom: bool = False

    def as_dict(self) -> dict[str, str]:
        return {"from": self.mail_from, "subject": self.subject, "body": self.body}


def _read_defaults(folder: Path, names: Sequence[str]) -> dict[str, TemplateSource]:
    index_file = folder / "index.json"
    if not index_file.is_file():
        return {}
    index = json.loads(index_file.read_text(encoding="utf-8"))
    return {
        name: TemplateSource(
            name=name,
            mail_from=index[name].get("from", ""),
            subject=index[name]["subject"],
            body=(folder / f"{name}.html").read_text(encoding="utf-8"),
        )
        for name in names
        if name in index and (folder / f"{name}.html").is_file()
    }


@cache
def default_templates() -> dict[str, TemplateSource]:
    """The shipped defaults in English, read once from the data directory."""
    return _read_defaults(templates_dir(), TEMPLATE_NAMES)


@cache
def language_defaults(language: str) -> dict[str, TemplateSource]:
    """The shipped defaults in `language` (`fr`: data/templates/fr/), each name that has one;
    none for English (the defaults themselves) or a language mailbell does not ship."""
    if language not in SHIPPED_LANGUAGES or language == "en":
        return {}
    return _read_defaults(templates_dir() / language, TEMPLATE_NAMES)


def default_template(name: str, locale: str | None = None) -> TemplateSource:
    """The shipped template `name` in `locale`'s language when mailbell ships it, else in
    English."""
    event_name = get_template(name).name
    if locale:
        found = language_defaults(locale.partition("_")[0]).get(event_name)
        if found is not None:
            return found
    return default_templates()[event_name]


@dataclass(frozen=True)
class InlineImage:
    cid: str  # without the angle brackets
    data: bytes
    subtype: str = "png"
    filename: str = QR_FILENAME


@dataclass(frozen=True)
class RenderedMessage:
    """Everything a message needs, as strings; `to_email_message()` builds the MIME tree."""

    event: str
    mail_from: str
    to: tuple[str, ...]
    reply_to: str | None
    subject: str
    html: str
    text: str
    message_id: str
    date: str
    inline: tuple[InlineImage, ...] = ()
    list_id: str | None = None  # the List-Id header (core/mail/headers.py)
    attachments: tuple[Attachment, ...] = ()

    def addressed(self, to: Sequence[str]) -> RenderedMessage:
        """This message with another To, as a message of its own: a new Message-ID in the same
        domain (one rendering, one copy per recipient)."""
        domain = self.message_id.rpartition("@")[2].rstrip(">") or "mailbell.invalid"
        return replace(self, to=tuple(to), message_id=make_msgid(domain=domain))

    def to_email_message(self) -> EmailMessage:
        check_headers(self.mail_from, self.reply_to)
        message = EmailMessage(policy=SMTP)
        message["From"] = self.mail_from
        if self.to:
            message["To"] = ", ".join(self.to)
        if self.reply_to:
            message["Reply-To"] = self.reply_to
        message["Subject"] = self.subject
        message["Date"] = self.date
        message["Message-ID"] = self.message_id
        for name, value in automatic_headers(self.list_id):
            message[name] = value
        message.set_content(self.text, subtype="plain")
        message.add_alternative(self.html, subtype="html")
        if self.inline:
            html_part = message.get_body(preferencelist=("html",))
            assert isinstance(html_part, EmailMessage)
            for image in self.inline:
                html_part.add_related(
                    image.data,
                    maintype="image",
                    subtype=image.subtype,
                    cid=f"<{image.cid}>",
                    filename=image.filename,
                    disposition="inline",
                )
        # Alternatives while the message is still multipart/alternative, files after (they make
        # it multipart/mixed, the alternatives its first part).
        for attachment in self.attachments:
            if attachment.alternative:
                message.add_alternative(
                    attachment.data.decode("utf-8"),
                    subtype=attachment.content_type.partition("/")[2],
                    params=dict(attachment.params),
                )
        for attachment in self.attachments:
            if attachment.alternative:
                continue
            maintype, _, subtype = attachment.content_type.partition("/")
            message.add_attachment(
                attachment.data,
                maintype=maintype,
                subtype=subtype,
                filename=attachment.filename,
                params=dict(attachment.params),
            )
        return message


def one_line(value: str) -> str:
    """Header-safe: every run of whitespace (CR and LF included) becomes one space."""
    return " ".join(value.split())


def qr_png(content: str) -> bytes:
    """A QR code (error correction M) as a PNG."""
    import segno

    buffer = io.BytesIO()
    segno.make_qr(content, error="m").save(buffer, kind="png", scale=5, border=4)
    return buffer.getvalue()


def render_context(
    event: Event, payload: Payload, cid: str, attachments: Sequence[Attachment] = ()
) -> dict[str, Any]:
    """The variables a template sees: the payload's fields plus the render variables."""
    context = payload.__dict__.copy()  # the fields (faster than dict(payload))
    context["attachments"] = [attachment.shown() for attachment in attachments]
    if isinstance(payload, UserCreationPayload):
        context["qr_code_src"] = f"cid:{cid}"
        context["login_uri"] = login_uri(payload)
    elif isinstance(payload, DigestPayload):  # plain mappings: no model methods to call
        context["items"] = [item.__dict__.copy() for item in payload.items]
    return context


def render(
    name: str,
    data: Mapping[str, Any] | Payload,
    *,
    template: TemplateSource | None = None,
    to: Sequence[str] = (),
    server_from: str = "",
    reply_to: str | None = None,
    tenant: str | None = None,
    list_event: str | None = None,
    locality: Locality | None = None,
) -> RenderedMessage:
    """Render event `name` with `data` through `template` (default: the shipped one), for
    `tenant` (its slug; None: the system), whom the List-Id names with the event (`list_event`
    when given: a digest is filed with the event it gathers).

    Dates, times, durations and numbers read in `locality` (the owner's zone and locale;
    default UTC, en_US); the event's files (core/attachments) are built and named to the
    template as `attachments`.

    A bad payload is `ValidationError("data")`; no From address at all is
    `ValidationError("from")`; a template that fails while rendering is `PermanentError`.
    """
    event = get_template(name)
    payload = event.validate(data)
    template = template or default_template(event.name)
    with rendering_in(locality):
        return _render(event, payload, template, to, server_from, reply_to, tenant, list_event)


def _render(
    event: Event,
    payload: Payload,
    template: TemplateSource,
    to: Sequence[str],
    server_from: str,
    reply_to: str | None,
    tenant: str | None,
    list_event: str | None,
) -> RenderedMessage:
    try:
        # Payload data only ever fills the quoted display name (core/senders.py).
        mail_from = compose_from(
            template.mail_from,
            server_from,
            lambda display: one_line(compile_line(display).render(dict(payload))),
        )
        check_headers(mail_from, reply_to)
        domain = message_domain(mail_from)
        cid = make_msgid("qr", domain=domain)[1:-1]
        files = attachments_for(event.name, payload, mail_from=mail_from)
        context = render_context(event, payload, cid, files)
        subject = one_line(compile_line(template.subject).render(context))
        check_line(subject)
        body = compile_body(template.body)
        html = body.html.render(context)
    except _RENDER_ERRORS as exc:
        raise PermanentError(f"template {event.name}: {describe_error(exc)}") from None
    text = _text(body, html, context)
    inline: tuple[InlineImage, ...] = ()
    if isinstance(payload, UserCreationPayload) and cid in html:
        inline = (InlineImage(cid=cid, data=qr_png(context["login_uri"])),)
    return RenderedMessage(
        event=event.name,
        mail_from=mail_from,
        to=tuple(to),
        reply_to=reply_to or None,
        subject=subject,
        html=html,
        text=text,
        message_id=make_msgid(domain=domain),
        date=formatdate(usegmt=True),
        inline=inline,
        list_id=list_id(list_event or event.name, tenant, domain),
        attachments=files,
    )


def _text(body: CompiledBody, html: str, context: dict[str, Any]) -> str:
    if body.text is not None:
        try:
            return normalize(body.text.render(context))
        except _RENDER_ERRORS:
            pass
    return html_to_text(html)


def render_message(
    name: str,
    data: Mapping[str, Any] | Payload,
    *,
    template: TemplateSource | None = None,
    to: Sequence[str] = (),
    server_from: str = "",
    reply_to: str | None = None,
    tenant: str | None = None,
    locality: Locality | None = None,
) -> EmailMessage:
    """`render()` and then the complete `EmailMessage` (see `RenderedMessage.to_email_message`)."""
    rendered = render(
        name,
        data,
        template=template,
        to=to,
        server_from=server_from,
        reply_to=reply_to,
        tenant=tenant,
        locality=locality,
    )
    return rendered.to_email_message()
