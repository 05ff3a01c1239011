"""Fixtures for the TUI tests: seeded data, a settle helper for Pilot, real SMTP servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from core.context import Context
from core.services.audit import Actor
from tests.support import fixtures as _smtp_fixtures
from tests.support.factories import configure_tenant, make_mail_server, make_tenant

# The SMTP server and certificate fixtures of tests/support, under the names that module exports.
globals().update({name: getattr(_smtp_fixtures, name) for name in _smtp_fixtures.__all__})

PASSWORD = "Sup3r-Secret-Pa55"
CLIENT_SECRET = "0auth-Cl1ent-S3cret"
IMAP_PASSWORD = "Imap-Pa55w0rd-XYZ"
NEW_USER_PASSWORD = "N3wUser-Pa55-4711"


async def settle(pilot: Pilot[Any], rounds: int = 3) -> None:
    """Let workers finish and their messages be handled (a few rounds: jobs start jobs)."""
    for _ in range(rounds):
        jobs = [w for w in pilot.app.workers if w.group != "background"]  # demo's worker runs on
        if jobs:
            await pilot.app.workers.wait_for_complete(jobs)
        await pilot.pause()


def page_key(mode: str) -> str:
    """The key that opens page `mode` (the scheme is tui/widgets/nav.py's)."""
    from tui.widgets.nav import PAGES

    return next(page.key for page in PAGES if page.mode == mode)


def rows(table: DataTable[Any]) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def screen_text(app: Any) -> str:
    """Everything the screen shows, as plain text (the SVG screenshot without markup)."""
    import html
    import re

    svg = re.sub(r"<style.*?</style>", "", app.export_screenshot(), flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


@dataclass
class Seeded:
    acme_server: int
    system_server: int


def seed(ctx: Context, actor: Actor, *, smtp_port: int | None = None) -> Seeded:
    """acme with its own server and recipients, globex unconfigured, a system server."""
    host = (
        {"host": "127.0.0.1", "port": smtp_port, "security": "none", "auth": "DISABLE"}
        if smtp_port
        else {}
    )
    relay = {
        "name": "acme relay",
        "host": "smtp.acme.example",
        "port": 587,
        "auth": "PLAIN",
        "username": "mailer@acme.example",
        "password": PASSWORD,
        "mail_from": "alerts@acme.example",
        **host,
    }
    with ctx.session() as session:
        acme = make_tenant(session, slug="acme", name="Acme Corp", actor=actor)
        make_tenant(session, slug="globex", name="Globex", actor=actor)
        system = make_mail_server(
            session,
            ctx.box,
            None,
            actor=actor,
            name="shared",
            host="smtp.system.example",
            auth="DISABLE",
            mail_from="noc@system.example",
        )
        own = make_mail_server(session, ctx.box, acme, actor=actor, **relay)
        configure_tenant(
            session,
            ctx.box,
            acme,
            recipients=("ops@acme.example", "boss@acme.example"),
            toggles=(),
            actor=actor,
        )
        assert own.id is not None and system.id is not None
        return Seeded(acme_server=own.id, system_server=system.id)


@pytest.fixture
def make_app(ctx: Context) -> Callable[..., Any]:
    from tui.app import MailbellApp

    def make(**kwargs: Any) -> MailbellApp:
        return MailbellApp(ctx, **kwargs)

    return make


@pytest.fixture
def session_as(ctx: Context, settings: Any) -> Iterator[Callable[..., Any]]:
    """An app acting as a new console key of `role` (over `tenants`; named `name`, else after
    the role), started where `mailbell tui --as` starts it; the local login again afterwards."""
    from tests.support.console_keys import add_console_key
    from tui.app import MailbellApp
    from tui.data.session import enter_as
    from tui.runtime import set_session_actor

    def make(
        role: str, tenants: list[str] | None = None, *, name: str = "", **kwargs: Any
    ) -> MailbellApp:
        name = name or f"{role.split('-')[0]}-key"
        add_console_key(settings, name, role, tenants)
        start = enter_as(ctx, name, None)
        return MailbellApp(ctx, tenant_slug=start, **kwargs)

    yield make
    set_session_actor(None)


def notices(app: Any) -> str:
    """The app's notifications so far, one string."""
    return " | ".join(str(n.message) for n in app._notifications)


@pytest.fixture(autouse=True)
def _stable_actor(monkeypatch: pytest.MonkeyPatch) -> None:
    """The audit name of the person at the terminal, the same on every machine."""
    monkeypatch.setenv("SUDO_USER", "admin")
