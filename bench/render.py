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
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jinja2 import DictLoader, Environment, StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from core import catalog, rendering
from core.mail.mime import serialize

SERVER_FROM = "PBX Notifications <noreply@pbx.example.com>"
TO = ("ops@acme.example", "oncall@acme.example")


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
    bare.filters.update(datetime=rendering.format_datetime, duration=rendering.format_duration)

    plain = ImmutableSandboxedEnvironment(
        loader=DictLoader({"subject": template.subject, "body": template.body}),
        autoescape=True,
        undefined=StrictUndefined,
        auto_reload=False,
    )
    plain.filters.update(datetime=rendering.format_datetime, duration=rendering.format_duration)

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

    def full() -> object:
        return rendering.render(event.name, payload, to=TO, server_from=SERVER_FROM)

    def message() -> object:
        return rendering.render_message(event.name, payload, to=TO, server_from=SERVER_FROM)

    def fast_wire() -> object:
        return serialize(rendering.render(event.name, payload, to=TO, server_from=SERVER_FROM))

    def wire() -> object:
        return message().as_bytes()  # type: ignore[attr-defined]

    rows = [
        ("bare Jinja2 get_template().render (subject + body)", baseline),
        ("plain Jinja2 sandbox get_template().render", plain_sandbox),
        ("mailbell render step (budgeted sandbox, cached)", render_step),
        ("mailbell render() (subject + HTML + text + headers)", full),
        ("mailbell render() + mime.serialize() (what emit stores)", fast_wire),
        ("mailbell render_message() (EmailMessage)", message),
        ("mailbell render_message().as_bytes()", wire),
    ]
    results = [(label, rate(run, args.seconds)) for label, run in rows]
    base = results[0][1]
    body_size = len(template.body.encode("utf-8"))
    print(f"template {event.name}: body {body_size} bytes; best of 3 runs per row")
    budget_ratio = results[2][1] / results[1][1]
    print(f"budgeted sandbox / plain sandbox (the cost of the budget): {budget_ratio:.2f}")
    print(f"{'what':<56} {'renders/s':>10} {'us each':>9} {'vs bare':>8}")
    for label, per_second in results:
        print(
            f"{label:<56} {per_second:>10,.0f} {1e6 / per_second:>9.1f} {per_second / base:>8.2f}"
        )


if __name__ == "__main__":
    main()
