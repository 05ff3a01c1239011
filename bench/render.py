"""Rendering speed: mailbell's sandboxed, cached rendering next to bare Jinja2, in one process.

    .venv/bin/python bench/render.py [--event QUEUE_SLA] [--seconds 1.0]

Rows (each the best of 3 timed runs):
- bare Jinja2: `Environment(loader=DictLoader)` with autoescape, `get_template().render` of the
  same subject and body, same filters: the baseline;
- plain sandbox: Jinja2's own `ImmutableSandboxedEnvironment` on the same templates (what
  mailbell rendered with before the render budget);
- render step: mailbell's budgeted sandbox (core/sandbox.py), through the compiled-template
  caches; its ratio to the plain sandbox is the cost of the budget;
- render(): a full message as parts (subject, HTML, derived text, From, Message-ID, Date);
- render_message(): the same as an `email.message.EmailMessage`;
- ... + as_bytes(): serialised for SMTP.

Localized render (the cost of locales): the render step of the same default template in
Locality("Europe/Paris", "fr_FR") (Babel: dates with the zone, durations, numbers) against the
same template rendered as before locales existed (a strftime `datetime` filter in UTC, the old
`duration`, numbers as they come: copied below as the baseline), in the same budgeted sandbox,
both over the same stream of 10,000 events (each a minute after the last, its numbers
changing). The ratio localized / before is printed (aim: at least 0.7).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from datetime import UTC, datetime, timedelta
from typing import Any

from jinja2 import DictLoader, Environment, StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from core import catalog, rendering
from core.locality import FILTERS, Locality, rendering_in
from core.mail.mime import serialize
from core.sandbox import BudgetSandbox

SERVER_FROM = "PBX Notifications <noreply@pbx.example.com>"
TO = ("ops@acme.example", "oncall@acme.example")
PARIS = Locality("Europe/Paris", "fr_FR")
TARGET_RATIO = 0.7
ROTATION = 10_000  # distinct events the localized rows cycle through


# -- the filters as they were before locales (core/rendering.py before issue 20) ---------------


def old_format_datetime(value: Any, fmt: str = "%Y-%m-%d %H:%M UTC") -> str:
    """Filter `datetime` before locales: an aware datetime in UTC as text."""
    if isinstance(value, datetime):
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.strftime(fmt)
    return "" if value is None else str(value)


def old_format_duration(value: Any) -> str:
    """Filter `duration` before locales: seconds as "45 s", "3 min 05 s" or "2 h 07 min"."""
    if value is None or value == "":
        return ""
    seconds = int(value)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def old_as_is(value: Any, *_args: Any, **_kwargs: Any) -> Any:
    """`number`, `currency`: before locales a template printed the value as it came."""
    return value


OLD_FILTERS = {
    "datetime": old_format_datetime,
    "date": old_format_datetime,
    "time": old_format_datetime,
    "duration": old_format_duration,
    "number": old_as_is,
    "currency": old_as_is,
}


def event_stream(context: dict[str, Any], count: int) -> Iterator[dict[str, Any]]:
    """`context` again and again, each time an event later: `occurred_at` a minute and a second
    on, every datetime and number of the payload changed with it (`count` distinct ones)."""
    step = timedelta(seconds=61)
    contexts = []
    for n in range(count):
        values = dict(context)
        for key, value in context.items():
            if isinstance(value, datetime):
                values[key] = value + n * step
            elif isinstance(value, int) and not isinstance(value, bool):
                values[key] = value + n % 97
        contexts.append(values)
    return itertools.cycle(contexts)


def before_locales_env(*, autoescape: bool) -> BudgetSandbox:
    """mailbell's budgeted sandbox with the filters it had before locales (unguarded, as then)."""
    env = BudgetSandbox(
        autoescape=autoescape,
        undefined=StrictUndefined,
        finalize=rendering._finalize,
        auto_reload=False,
    )
    env.filters.update(OLD_FILTERS)
    env.globals["range"] = rendering._limited_range
    return env


def rate(run: Callable[[], object], seconds: float) -> float:
    """Calls per second: the best of 3 runs of about `seconds` / 3 each."""
    run()
    best = 0.0
    for _ in range(3):
        count, start = 0, time.perf_counter()
        deadline = start + seconds / 3
        while True:
            for _ in range(100):
                run()
            count += 100
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, count / (now - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--event", default="QUEUE_SLA", help="template to render")
    parser.add_argument("--seconds", type=float, default=1.5, help="time per row")
    args = parser.parse_args()

    event = catalog.get_event(args.event)
    payload = event.sample_payload()
    template = rendering.default_template(event.name)
    context = rendering.render_context(event, payload, "qr.bench@pbx.example.com")

    bare = Environment(
        loader=DictLoader({"subject": template.subject, "body": template.body}),
        autoescape=True,
        undefined=StrictUndefined,
        auto_reload=False,
    )
    bare.filters.update(FILTERS)

    plain = ImmutableSandboxedEnvironment(
        loader=DictLoader({"subject": template.subject, "body": template.body}),
        autoescape=True,
        undefined=StrictUndefined,
        auto_reload=False,
    )
    plain.filters.update(FILTERS)

    def plain_sandbox() -> object:
        return (
            plain.get_template("subject").render(context),
            plain.get_template("body").render(context),
        )

    def baseline() -> object:
        return (
            bare.get_template("subject").render(context),
            bare.get_template("body").render(context),
        )

    def render_step() -> object:
        return (
            rendering.compile_line(template.subject).render(context),
            rendering.compile_body(template.body).html.render(context),
        )

    old_subject = before_locales_env(autoescape=False).from_string(template.subject)
    old_body = before_locales_env(autoescape=True).from_string(template.body)
    new_subject = rendering.compile_line(template.subject)
    new_body = rendering.compile_body(template.body).html
    # Both rows render the same stream of events: each a minute after the last, its numbers
    # changing, so no row reads one value over and over (the filters cache what repeats).
    stream = event_stream(context, ROTATION)

    def before_locales() -> object:
        values = next(stream)
        return old_subject.render(values), old_body.render(values)

    def localized() -> object:
        values = next(stream)
        with rendering_in(PARIS):
            return new_subject.render(values), new_body.render(values)

    def full_localized() -> object:
        return rendering.render(event.name, payload, to=TO, server_from=SERVER_FROM, locality=PARIS)

    def full() -> object:
        return rendering.render(event.name, payload, to=TO, server_from=SERVER_FROM)

    def message() -> object:
        return rendering.render_message(event.name, payload, to=TO, server_from=SERVER_FROM)

    def fast_wire() -> object:
        return serialize(rendering.render(event.name, payload, to=TO, server_from=SERVER_FROM))

    def wire() -> object:
        return message().as_bytes()  # type: ignore[attr-defined]

    # The rows measure what they say: the localized one reads French in Paris time.
    assert "CET" in str(localized()) and " nov. " in str(localized()), localized()
    assert "UTC" in str(before_locales()), before_locales()

    rows = [
        ("bare Jinja2 get_template().render (subject + body)", baseline),
        ("plain Jinja2 sandbox get_template().render", plain_sandbox),
        ("mailbell render step (budgeted sandbox, cached)", render_step),
        ("mailbell render() (subject + HTML + text + headers)", full),
        ("mailbell render() + mime.serialize() (what emit stores)", fast_wire),
        ("mailbell render_message() (EmailMessage)", message),
        ("mailbell render_message().as_bytes()", wire),
        ("render step, filters as before locales (UTC strftime)", before_locales),
        ("render step, localized (fr_FR, Europe/Paris)", localized),
        ("mailbell render() localized (fr_FR, Europe/Paris)", full_localized),
    ]
    results = [(label, rate(run, args.seconds)) for label, run in rows]
    base = results[0][1]
    body_size = len(template.body.encode("utf-8"))
    print(f"template {event.name}: body {body_size} bytes; best of 3 runs per row")
    budget_ratio = results[2][1] / results[1][1]
    print(f"budgeted sandbox / plain sandbox (the cost of the budget): {budget_ratio:.2f}")
    rates = dict(results)
    locale_ratio = (
        rates["render step, localized (fr_FR, Europe/Paris)"]
        / rates["render step, filters as before locales (UTC strftime)"]
    )
    verdict = "ok" if locale_ratio >= TARGET_RATIO else "BELOW TARGET"
    print(
        f"localized render / render before locales (the cost of locales): {locale_ratio:.2f} "
        f"(target >= {TARGET_RATIO}: {verdict})"
    )
    print(f"{'what':<56} {'renders/s':>10} {'us each':>9} {'vs bare':>8}")
    for label, per_second in results:
        print(
            f"{label:<56} {per_second:>10,.0f} {1e6 / per_second:>9.1f} {per_second / base:>8.2f}"
        )


if __name__ == "__main__":
    main()
