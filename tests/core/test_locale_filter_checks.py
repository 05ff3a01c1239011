"""The locale filters in custom templates: every filter and argument a template may use passes
the checks on save, a format written before locales existed still does, and what the sandbox
bounds (a format over 100 characters, `digits` outside 0..10) is refused naming the filter,
the rule and the line — when saved, and at render time for a value that only then is known."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import Session

from core.catalog import sample
from core.errors import PermanentError, ValidationError
from core.locality import FILTERS, Locality
from core.render_guards import MAX_DIGITS, MAX_FORMAT
from core.rendering import HTML_ENV, LINE_ENV, TemplateSource, render
from core.services.audit import Actor
from core.services.templates import create_custom_template
from core.template_validation import validate_template
from tests.support.factories import make_tenant


def _check(body: str, subject: str = "SLA {{ queue_name }}") -> None:
    validate_template("QUEUE_SLA", mail_from="", subject=subject, body=body)


def _refusal(body: str) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        _check(body)
    assert caught.value.field == "body"
    return caught.value


@pytest.mark.parametrize(
    "use",
    [
        "occurred_at|datetime",
        'occurred_at|datetime("long")',
        'occurred_at|datetime("full", zone=False)',
        'occurred_at|datetime("%Y-%m-%d %H:%M UTC")',  # a custom template's format from before
        'occurred_at|datetime("%d/%m %H:%M %Z")',
        "occurred_at|date",
        'occurred_at|date("d MMM")',
        'occurred_at|date("%d.%m.%Y")',
        "occurred_at|time",
        'occurred_at|time("HH:mm", zone=False)',
        "waiting_seconds|duration",
        "waiting_seconds|number",
        "waiting_seconds|number(2)",
        "waiting_seconds|number(0)",
        f"waiting_seconds|number({MAX_DIGITS})",
        'waiting_seconds|currency("EUR")',
        'waiting_seconds|currency("usd")',
        f'occurred_at|date("{"y" * MAX_FORMAT}")',
    ],
)
def test_each_filter_and_argument_passes(use: str) -> None:
    _check(f"<p>{{{{ {use} }}}}</p>", subject=f"SLA {{{{ {use} }}}}")


def test_a_format_written_before_locales_still_reads_in_the_owner_s_zone() -> None:
    template = TemplateSource(
        name="QUEUE_SLA",
        mail_from="",
        subject="SLA at {{ occurred_at|datetime('%Y-%m-%d %H:%M UTC') }}",
        body="<p>{{ occurred_at|datetime('%Y-%m-%d %H:%M UTC') }}</p>",
    )
    _check(template.body, template.subject)
    data = {**sample("QUEUE_SLA"), "occurred_at": "2026-07-01T12:00:00Z"}
    paris = Locality("Europe/Paris", "fr_FR")
    message = render(
        "QUEUE_SLA", data, template=template, to=["a@b.org"], server_from="mb@b.org", locality=paris
    )
    assert message.subject == "SLA at 2026-07-01 14:00 CEST"
    message = render("QUEUE_SLA", data, template=template, to=["a@b.org"], server_from="mb@b.org")
    assert message.subject == "SLA at 2026-07-01 12:00 UTC"


@pytest.mark.parametrize("name", ["datetime", "date", "time"])
def test_a_format_over_100_characters_is_refused(name: str) -> None:
    for fmt in ("d" * (MAX_FORMAT + 1), "%Y-" * 40):
        error = _refusal(f'<p>ok</p>\n<p>{{{{ occurred_at|{name}("{fmt}") }}}}</p>')
        assert error.message == (
            f"line 2: {name}(): a format is at most {MAX_FORMAT} characters "
            f"(this one has {len(fmt)})"
        )


def test_a_format_that_is_not_text_is_refused() -> None:
    error = _refusal("<p>{{ occurred_at|time(5) }}</p>")
    assert error.message.startswith("line 1: time(): the format must be text")
    assert "(got int)" in error.message


@pytest.mark.parametrize("digits", ["11", "-1", "100000", "'2'", "2.5", "true"])
def test_digits_outside_0_to_10_are_refused(digits: str) -> None:
    error = _refusal(f"<p>{{{{ waiting_seconds|number({digits}) }}}}</p>")
    assert error.message.startswith(
        f"line 1: number(): digits is a whole number from 0 to {MAX_DIGITS} (got "
    )


def test_a_refused_format_is_never_saved(session: Session, actor: Actor) -> None:
    tenant = make_tenant(session, slug="acme", actor=actor)
    with pytest.raises(ValidationError, match=r"a format is at most 100 characters"):
        create_custom_template(
            session=session,
            tenant=tenant,
            name="QUEUE_SLA",
            body="<p>{{ occurred_at|date('" + "M" * 200 + "') }}</p>",
            actor=actor,
        )


def test_a_format_known_only_at_render_time_is_bounded_too() -> None:
    # The format is a payload value here: the check runs on every call, not only on save.
    body = "<p>{{ occurred_at|date(caller_name) }}</p>"
    template = TemplateSource(name="QUEUE_SLA", mail_from="", subject="SLA", body=body)
    data = {**sample("QUEUE_SLA"), "caller_name": "y" * 500}
    with pytest.raises(PermanentError, match=r"date\(\): a format is at most 100 characters"):
        render("QUEUE_SLA", data, template=template, to=["a@b.org"], server_from="mb@b.org")


def test_both_sandboxes_guard_every_locale_filter() -> None:
    for env in (HTML_ENV, LINE_ENV):
        for name, func in FILTERS.items():
            guarded = env.filters[name]
            assert guarded is not func and getattr(guarded, "__wrapped__", None) is func, name


def test_the_guard_leaves_the_output_as_it_was() -> None:
    moment = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    line = LINE_ENV.from_string(
        "{{ at|datetime }} | {{ at|date('d MMM') }} | {{ n|number(2) }} | {{ s|duration }}"
    )
    assert line.render(at=moment, n=12480.5, s=184) == (
        "Mar 29, 2026, 1:30 AM UTC | 29 Mar | 12,480.50 | 3 min 4 sec"
    )
