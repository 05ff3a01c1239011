"""Checks a template must pass before it is saved; each failure names the field, line and reason.

1. `from` and `subject` are single lines (no CR/LF) within their lengths; `subject` and `body`
   are not empty; the body is at most 256 KiB.
2. Each part parses (syntax errors carry their line).
3. No name, attribute or item starting with "_" (that is how templates reach Python internals:
   `''.__class__.__mro__`, `cycler.__init__.__globals__`); the sandbox would refuse them at render
   time too (`SecurityError`), this refuses them before anything is stored.
4. Every variable is one the event has (`jinja2.meta.find_undeclared_variables` against the
   payload model and the render variables), and filters and tests exist.
5. A test render in the sandbox with the event's sample payload, and again with only its
   required fields: whatever fails there (a SecurityError, a filter on a missing value, a
   locale filter's argument out of its rule: `|datetime` with a format over 100 characters,
   `|number(11)`) is refused with its line. The `from` address must be literal text (or
   absent: the server's), and the rendered `from` exactly one mailbox (core/senders.py).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jinja2
from jinja2 import meta, nodes

from core.catalog import Event, get_template, variables
from core.errors import ValidationError
from core.locality import rendering_in
from core.render_budget import BudgetExceeded, check_line
from core.rendering import (
    HTML_ENV,
    LINE_ENV,
    MAX_BODY_BYTES,
    compile_body,
    compile_line,
    describe_error,
    one_line,
    render_context,
)
from core.senders import check_from_template
from core.validated_templates import VALIDATED

MAX_FROM = 320
MAX_SUBJECT = 998


def _single_line(field: str, value: str, limit: int, *, required: bool) -> None:
    if "\r" in value or "\n" in value:
        raise ValidationError(field, "must be a single line: CR and LF are not allowed")
    if required and not value.strip():
        raise ValidationError(field, "must not be empty")
    if len(value) > limit:
        raise ValidationError(field, f"is {len(value)} characters long; the limit is {limit}")


def _underscore_name(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        return node.attr
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        return node.arg.value if isinstance(node.arg.value, str) else None
    if isinstance(node, nodes.Filter) and node.name == "attr" and node.args:
        arg = node.args[0]
        if isinstance(arg, nodes.Const) and isinstance(arg.value, str):
            return arg.value
    return None


def check_source(
    field: str, source: str, env: jinja2.Environment, event: Event, allowed: set[str]
) -> None:
    """Steps 2-4 for one part of a template."""
    try:
        tree = env.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ValidationError(field, describe_error(exc)) from None
    for node in tree.find_all((nodes.Name, nodes.Getattr, nodes.Getitem, nodes.Filter)):
        name = _underscore_name(node)
        if name and name.startswith("_"):
            raise ValidationError(
                field,
                f"line {node.lineno}: {name!r} is not allowed: "
                "names starting with '_' reach Python internals",
            )
    try:
        unknown = meta.find_undeclared_variables(tree) - allowed - set(env.globals)
    except jinja2.TemplateError as exc:  # e.g. an unknown filter
        raise ValidationError(field, describe_error(exc)) from None
    if unknown:
        uses = [
            (node.lineno, node.name)
            for node in tree.find_all(nodes.Name)
            if node.name in unknown and node.ctx == "load"
        ]
        line, name = min(uses) if uses else (1, sorted(unknown)[0])
        raise ValidationError(
            field,
            f"line {line}: unknown variable {name!r}; {event.name} has: "
            f"{', '.join(sorted(allowed))}",
        )
    try:
        env.compile(tree)
    except jinja2.TemplateError as exc:
        raise ValidationError(field, describe_error(exc)) from None


def validate_template(name: str, *, mail_from: str, subject: str, body: str) -> None:
    """Refuse (`ValidationError`) a template that is not safe and correct for event `name`.

    Outcomes are remembered (core/validated_templates.py): the same template is checked once.
    """
    event = get_template(name, field="name")
    VALIDATED.check(
        VALIDATED.key(event.name, mail_from, subject, body),
        partial(_validate, event, mail_from=mail_from, subject=subject, body=body),
    )


def _validate(event: Event, *, mail_from: str, subject: str, body: str) -> None:
    _single_line("from", mail_from, MAX_FROM, required=False)
    _single_line("subject", subject, MAX_SUBJECT, required=True)
    size = len(body.encode("utf-8"))
    if size > MAX_BODY_BYTES:
        raise ValidationError("body", f"is {size} bytes; the limit is {MAX_BODY_BYTES} (256 KiB)")
    if not body.strip():
        raise ValidationError("body", "must not be empty")
    payload_vars = set(event.payload.model_fields)
    # `attachments` (the message's files, core/rendering.render_context) is every template's.
    every_var = set(variables(event.name)) | {"attachments"}
    check_source("from", mail_from, LINE_ENV, event, payload_vars)
    check_source("subject", subject, LINE_ENV, event, every_var)
    check_source("body", body, HTML_ENV, event, every_var)
    # In the default locality (UTC, en_US): a format or argument a filter refuses is refused in
    # any; entering it loads Babel's data before the test render's time budget starts.
    with rendering_in(None):
        for payload in (event.sample_payload(), event.minimal_payload()):
            context: dict[str, Any] = render_context(event, payload, "qr.preview@mailbell.invalid")
            _test_render("from", compile_line(mail_from), dict(payload))
            _check_line("subject", _test_render("subject", compile_line(subject), context))
            _test_render("body", compile_body(body).html, context)
            check_from_template(mail_from, partial(_render_line, values=dict(payload)))


def _render_line(source: str, values: dict[str, Any]) -> str:
    return one_line(compile_line(source).render(values))


def _check_line(field: str, rendered: str) -> None:
    try:
        check_line(one_line(rendered))
    except BudgetExceeded as exc:
        raise ValidationError(field, exc.message or "") from None


def _test_render(field: str, template: jinja2.Template, context: dict[str, Any]) -> str:
    try:
        return template.render(context)
    except Exception as exc:  # anything a template raises here is a reason to refuse it
        raise ValidationError(field, describe_error(exc)) from None
