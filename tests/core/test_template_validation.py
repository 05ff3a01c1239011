from __future__ import annotations

import pytest

from core import catalog, rendering
from core.errors import ValidationError
from core.template_validation import validate_template

DEFAULT = rendering.default_template("QUEUE_SLA")


def refused(
    *,
    name: str = "QUEUE_SLA",
    mail_from: str = "",
    subject: str | None = None,
    body: str | None = None,
) -> ValidationError:
    with pytest.raises(ValidationError) as error:
        validate_template(
            name,
            mail_from=mail_from,
            subject=DEFAULT.subject if subject is None else subject,
            body=DEFAULT.body if body is None else body,
        )
    return error.value


@pytest.mark.parametrize("name", catalog.NAMES)
def test_every_default_passes(name: str) -> None:
    template = rendering.default_template(name)
    validate_template(
        name, mail_from=template.mail_from, subject=template.subject, body=template.body
    )


def test_a_valid_custom_template_passes() -> None:
    validate_template(
        "queue_sla",
        mail_from="Queue alerts <alerts@acme.example>",
        subject="[{{ queue_number }}] SLA {{ sla_seconds }} s",
        body="<p>{{ queue_name }}: {{ waiting_seconds|duration }}{% if caller_name %}, "
        "{{ caller_name|upper }}{% endif %}</p>{% for i in range(3) %}{{ loop.index }}{% endfor %}",
    )


def test_syntax_error_names_the_line() -> None:
    error = refused(body="<p>one</p>\n<p>two</p>\n<p>{{ queue_name }</p>")
    assert error.field == "body"
    assert error.message.startswith("line 3: syntax error")
    error = refused(subject="{% if queue_name %}open")
    assert error.field == "subject" and "line 1" in error.message


def test_unknown_variable_names_the_line_and_the_known_ones() -> None:
    error = refused(body="<p>{{ queue_name }}</p>\n\n<p>{{ queue_nmae }}</p>")
    assert error.field == "body"
    assert error.message.startswith("line 3: unknown variable 'queue_nmae'")
    assert "queue_name" in error.message and "waiting_seconds" in error.message
    # a variable of another event is unknown here too
    assert "trunk_name" in refused(subject="{{ trunk_name }}").message
    # the QR variables exist for USER_CREATION only
    assert "qr_code_src" in refused(body='<img src="{{ qr_code_src }}">').message
    validate_template(
        "USER_CREATION", mail_from="", subject="Hi", body='<img src="{{ qr_code_src }}">'
    )


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("{{ ''.__class__.__mro__ }}", "__mro__"),
        ("{{ cycler.__init__.__globals__ }}", "__globals__"),
        ("{{ queue_name['__class__'] }}", "__class__"),
        ("{{ queue_name|attr('__class__') }}", "__class__"),
        ("{% set _x = 1 %}{{ _x }}", "_x"),
    ],
)
def test_reaching_python_internals_is_refused(source: str, name: str) -> None:
    error = refused(body=f"<p>fine</p>\n{source}")
    assert error.field == "body"
    assert error.message.startswith("line 2:")
    assert repr(name) in error.message and "not allowed" in error.message


def test_the_sandbox_catches_what_the_static_check_cannot_see() -> None:
    body = "<p>x</p>\n{% set n = '__cla' ~ 'ss__' %}\n{{ queue_name|attr(n) }}"
    error = refused(body=body)
    assert error.field == "body"
    assert error.message.startswith("line 3: not allowed in a template")


@pytest.mark.parametrize("field", ["subject", "from"])
@pytest.mark.parametrize("value", ["two\nlines", "two\r\nlines", "carriage\rreturn"])
def test_line_breaks_in_subject_and_from_are_refused(field: str, value: str) -> None:
    kwargs = {"subject": value} if field == "subject" else {"mail_from": value}
    error = refused(**kwargs)
    assert error.field == field and "single line" in error.message


def test_size_and_emptiness_limits() -> None:
    big = "<p>" + "x" * (256 * 1024) + "</p>"
    error = refused(body=big)
    assert error.field == "body" and "256 KiB" in error.message
    assert refused(subject="  ").field == "subject"
    assert refused(body="").field == "body"
    assert refused(subject="x" * 999).field == "subject"


def test_from_must_render_to_an_address() -> None:
    # A `from` with no address is a display name for the server's address, and an
    # address part holding template syntax is refused.
    error = refused(mail_from="Alerts <not an address>")
    assert error.field == "from" and "valid From address" in error.message
    assert "literal" in refused(mail_from="{{ queue_name }}@acme.example").message
    assert refused(mail_from="Alerts <{{ queue_name }}@acme.example>").field == "from"
    validate_template("QUEUE_SLA", mail_from="{{ queue_name }}", subject="x", body="<p>x</p>")
    validate_template(
        "VOICEMAIL_RECEIVED",
        mail_from="Voicemail <voicemail@pbx.example.com>",
        subject="New message from {{ caller }}",
        body="<p>{{ caller }}</p>",
    )


def test_unknown_filter_is_refused_with_the_line() -> None:
    error = refused(body="<p>a</p>\n<p>{{ queue_name|shout }}</p>")
    assert error.field == "body" and "line 2" in error.message and "shout" in error.message


def test_a_template_that_breaks_without_optional_values_is_refused() -> None:
    # caller_name is optional: None|length fails, so this would fail at emit time
    error = refused(body="<p>{{ queue_name }}</p>\n<p>{{ caller_name|length }}</p>")
    assert error.field == "body" and error.message.startswith("line 2:")


def test_unknown_template_name_lists_the_valid_ones() -> None:
    error = refused(name="QUEUE_SLAB")
    assert error.field == "name"
    assert all(name in error.message for name in catalog.NAMES)
