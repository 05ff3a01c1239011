"""The default templates mailbell ships in other languages than English (data/templates/<lang>/):
every template of the catalogue, each as safe as the English one and fed the same variables,
reading in the owner's language, zone and locale, and chosen by the owner's locale (an unknown
one gets English), through the template lookup and through a real emit, worker and SMTP sink.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest
from jinja2 import meta

from core.attachments import Attachment
from core.catalog import TEMPLATE_NAMES, get_template, sample
from core.locality import Locality, rendering_in
from core.models.tenancy import NotificationSettingsUpdate
from core.paths import templates_dir
from core.pipeline.worker import Worker
from core.rendering import (
    HTML_ENV,
    LINE_ENV,
    TemplateSource,
    compile_body,
    default_template,
    language_defaults,
    render,
    render_context,
)
from core.services.notifications import get_notification_settings, update_notification_settings
from core.services.templates import effective_template
from core.template_validation import validate_template
from core.vocabulary import SHIPPED_LANGUAGES
from tests.support.factories import TESTER, emit_event, make_configured_tenant


@dataclass(frozen=True)
class Shipped:
    locale: str
    # Words of the QUEUE_SLA default in this language, and its sample's breach time
    # (2026-11-03 14:05 UTC) read in Europe/Paris.
    words: tuple[str, ...]
    breached: str


LANGUAGES = {
    "fr": Shipped("fr_FR", ("Appelant", "Seuil de SLA", "À faire"), "3 nov. 2026, 15:05 CET"),
    "de": Shipped("de_DE", ("Warteschlange",), "03.11.2026, 15:05 CET"),
}
PARIS = "Europe/Paris"
# Written by the English defaults only: a translated template that still shows them is not one.
ENGLISH_ONLY = ("What to do:", "Sent by ")
STYLE = re.compile(r'style="([^"]*)"')

pytestmark = pytest.mark.parametrize("language", tuple(LANGUAGES))


def test_the_language_is_one_mailbell_ships(language: str) -> None:
    assert language in SHIPPED_LANGUAGES


def test_every_template_name_is_shipped(language: str) -> None:
    folder = templates_dir() / language
    assert (folder / "index.json").is_file()
    assert sorted(language_defaults(language)) == sorted(TEMPLATE_NAMES)
    for name in TEMPLATE_NAMES:
        assert (folder / f"{name}.html").is_file(), name


def _variables(template: TemplateSource) -> set[str]:
    """The payload and render variables a template reads (its own `set` names excluded)."""
    return (
        meta.find_undeclared_variables(LINE_ENV.parse(template.subject))
        | meta.find_undeclared_variables(LINE_ENV.parse(template.mail_from))
        | meta.find_undeclared_variables(HTML_ENV.parse(template.body))
    )


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_each_template_passes_validation_with_the_english_variables(
    language: str, name: str
) -> None:
    shipped = default_template(name, LANGUAGES[language].locale)
    english = default_template(name)
    assert shipped.body != english.body, f"{name} in {language} is the English file"
    validate_template(name, mail_from=shipped.mail_from, subject=shipped.subject, body=shipped.body)
    assert _variables(shipped) == _variables(english)
    assert shipped.mail_from == english.mail_from
    # Same layout: the translation changes words, not the inline styles of the English file.
    assert set(STYLE.findall(shipped.body)) == set(STYLE.findall(english.body))
    assert f'<html lang="{language}"' in shipped.body


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_each_template_renders_its_sample_in_its_language(language: str, name: str) -> None:
    locale = LANGUAGES[language].locale
    message = render(
        name,
        sample(name),
        template=default_template(name, locale),
        server_from="pbx@acme.example",
        locality=Locality(PARIS, locale),
    )
    for english in ENGLISH_ONLY:
        assert english not in message.text, f"{name}: {english!r} left in English"
    assert "UTC" not in message.text  # every date reads in the owner's zone


def test_queue_sla_reads_in_the_language_zone_and_locale(language: str) -> None:
    shipped = LANGUAGES[language]
    message = render(
        "QUEUE_SLA",
        sample("QUEUE_SLA"),
        template=default_template("QUEUE_SLA", shipped.locale),
        server_from="pbx@acme.example",
        locality=Locality(PARIS, shipped.locale),
    )
    for word in shipped.words:
        assert word in message.text
    assert shipped.breached in message.text
    assert shipped.breached in message.html
    assert "Breached at" not in message.text


def _body_text(name: str, language: str, files: tuple[Attachment, ...], **data: object) -> str:
    """The shipped body's text for the sample (with `data` over it) and these files."""
    event = get_template(name)
    payload = event.validate({**sample(name), **data})
    context = render_context(event, payload, "qr@acme.example", files)
    with rendering_in(Locality(PARIS, LANGUAGES[language].locale)):
        return compile_body(default_template(name, LANGUAGES[language].locale).body).html.render(
            context
        )


@pytest.mark.parametrize(
    ("name", "field", "filename"),
    [
        ("VOICEMAIL_RECEIVED", "recording", "voicemail-1012.wav"),
        ("CALL_REPORT_COMPLETED", "report_file", "october.csv"),
    ],
)
def test_an_attached_file_is_named_in_the_language(
    language: str, name: str, field: str, filename: str
) -> None:
    attached = (Attachment(filename, "application/octet-stream", b"RIFF"),)
    with_file = _body_text(name, language, attached, **{field: None})
    without = _body_text(name, language, (), **{field: None})
    assert f"({filename})" in with_file
    assert filename not in without
    assert with_file.count("<p") == without.count("<p") + 1


def test_a_recording_that_could_not_be_attached_says_why(language: str) -> None:
    reason = "the server answered 404"
    text = _body_text("VOICEMAIL_RECEIVED", language, (), recording=None, recording_error=reason)
    assert reason in text
    assert "https://pbx.example.com/portal/voicemail/5812" in text  # the portal's link stays


def _set_locality(ctx, session, tenant, **fields: str) -> str:
    """Set the tenant's own locale (and zone) through the settings service; its effective
    locale as the settings read it back."""
    changes = NotificationSettingsUpdate.parse(dict(fields), system=False)
    update_notification_settings(
        session=session, box=ctx.box, tenant=tenant, changes=changes, actor=TESTER
    )
    return get_notification_settings(session=session, tenant=tenant).effective_locale


def test_a_tenant_in_the_language_gets_its_default_and_an_unknown_locale_english(
    language: str, ctx, session
) -> None:
    shipped = LANGUAGES[language]
    native = make_configured_tenant(session, ctx.box, slug="native")
    other = make_configured_tenant(session, ctx.box, slug="other")
    native_locale = _set_locality(ctx, session, native, locale=shipped.locale)
    other_locale = _set_locality(ctx, session, other, locale="pt_BR")
    assert (native_locale, other_locale) == (shipped.locale, "pt_BR")
    for name in ("QUEUE_SLA", "QUEUE_CALL_LOST"):
        chosen = effective_template(session=session, tenant=native, name=name, locale=native_locale)
        assert chosen == default_template(name, shipped.locale)
        assert not chosen.custom
        assert chosen.subject == language_defaults(language)[name].subject
        fallback = effective_template(session=session, tenant=other, name=name, locale=other_locale)
        assert fallback == default_template(name)


def _work(ctx) -> None:
    async def run() -> None:
        worker = Worker(ctx)
        try:
            await worker.run_once()
        finally:
            await worker.close()

    asyncio.run(run())


def _parsed(data: bytes) -> EmailMessage:
    message = message_from_bytes(data, policy=default_policy)
    assert isinstance(message, EmailMessage)
    return message


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def _lines(text: str) -> list[str]:
    """The text's lines as a reader sees them (the wire's CRLF and trailing spaces aside)."""
    return [line.rstrip() for line in text.strip().splitlines()]


def test_an_emitted_event_goes_out_in_the_tenants_language(
    language: str, ctx, session, smtp_servers
) -> None:
    """A tenant in the language (Paris) and one in pt_BR (no shipped set) emit the same event;
    the captured messages read as the shipped defaults render in each locality."""
    shipped = LANGUAGES[language]
    sinks = {"native": smtp_servers(), "other": smtp_servers()}
    localities = {"native": Locality(PARIS, shipped.locale), "other": Locality(PARIS, "pt_BR")}
    for slug, sink in sinks.items():
        tenant = make_configured_tenant(session, ctx.box, slug=slug, smtp=sink)
        locality = localities[slug]
        _set_locality(ctx, session, tenant, locale=locality.locale, timezone=locality.timezone)
        emit_event(session, ctx.box, tenant, "QUEUE_CALL_LOST")
    _work(ctx)

    data = sample("QUEUE_CALL_LOST")
    for slug, sink in sinks.items():
        [received] = sink.messages
        message = _parsed(received.data)
        locale = localities[slug].locale
        expected = render(
            "QUEUE_CALL_LOST",
            data,
            template=default_template("QUEUE_CALL_LOST", locale),
            server_from="pbx@acme.example",
            locality=localities[slug],
        )
        assert message["Subject"] == expected.subject
        assert _lines(_text(message)) == _lines(expected.text)
    native = _parsed(sinks["native"].messages[0].data)
    english = default_template("QUEUE_CALL_LOST")
    in_english = render("QUEUE_CALL_LOST", data, template=english, server_from="pbx@acme.example")
    assert native["Subject"] != in_english.subject
    other = _parsed(sinks["other"].messages[0].data)
    assert other["Subject"].startswith("Lost call in queue Sales")
    # The sample's 11:47 UTC reads 12:47 in Paris in both, each in its own locale's words.
    assert "12:47 CET" in _text(native)
    assert "12:47 CET" in _text(other)
