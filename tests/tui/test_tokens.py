"""API tokens in the TUI (`t` on a Tenants row): a system admin creates one with chosen scopes
and expiry (its secret shown once, and it authenticates as made) and revokes it; a tenant admin
manages its tenant's tokens only; a viewer reads the list and changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select
from textual.widgets import Checkbox, DataTable, Input, Static

from core.errors import Forbidden, NotFound, ValidationError
from core.models._common import utcnow
from core.models.auth import ApiToken
from core.services.audit import list_entries
from core.services.token_identity import identify_token
from core.vocabulary import TokenScope
from tests.support.factories import make_tenant
from tests.support.tokens import make_token, token_row
from tests.tui.conftest import notices, rows, screen_text, settle
from tests.tui.test_snapshots import _fixed_times, steps  # noqa: F401  (fixture)
from tui.app import MailbellApp
from tui.data import tokens
from tui.widgets.form import Field


def owners(ctx, actor) -> dict[str, str]:
    """acme and globex, and a token of each and of the system: name → plaintext."""
    with ctx.session() as session:
        acme = make_tenant(session, slug="acme", name="Acme Corp", actor=actor)
        globex = make_tenant(session, slug="globex", name="Globex", actor=actor)
        return {
            "acme-portal": make_token(session, acme, name="acme-portal"),
            "globex-portal": make_token(session, globex, name="globex-portal"),
            "system-ops": make_token(session, None, name="system-ops", scopes=["admin"]),
        }


def count(ctx) -> int:
    with ctx.session() as session:
        return len(session.exec(select(ApiToken)).all())


def identify(ctx, plaintext: str) -> Any:
    with ctx.session() as session:
        return identify_token(session=session, plaintext=plaintext)


async def open_tokens(pilot, slug: str | None) -> DataTable[Any] | None:
    """From the Tenants page: select the row of `slug` (None: System) and press t; the token
    table (None when nothing opened)."""
    app = pilot.app
    table = app.screen.query_one("#tenants", DataTable)
    table.focus()
    table.move_cursor(row=table.get_row_index("__system__" if slug is None else slug))
    await pilot.press("t")
    await settle(pilot)
    found = app.screen.query("#tokens")
    return found.first(DataTable) if found else None


def field_note(app, name: str) -> str:
    field = app.screen.query_one(f"#field-{name}", Field)
    assert field.has_class("-invalid"), name
    return str(field.query_one(".field-note", Static).content)


async def test_a_system_admin_creates_a_scoped_expiring_token_and_revokes_it(
    ctx, actor, make_app
) -> None:
    made = owners(ctx, actor)
    app = make_app(start="tenants")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = await open_tokens(pilot, "acme")
        assert table is not None and type(app.screen).__name__ == "TokensScreen"
        assert "API tokens · tenant acme" in screen_text(app)
        assert [row[0] for row in rows(table)] == ["acme-portal"]  # not globex's, not the system's
        assert made["acme-portal"] not in screen_text(app)  # the prefix only
        before = count(ctx)

        await pilot.press("n")
        await settle(pilot)
        assert type(app.screen).__name__ == "NewTokenScreen"
        defaults = {s.value for s in TokenScope if app.screen.query_one(f"#scope-{s.value}").value}
        assert defaults == {"read", "write", "events"}
        await pilot.press(*"portal")
        app.screen.query_one("#scope-write", Checkbox).value = False
        for bad, rule in (("yesterday", "is not a duration"), ("4000d", "too far ahead")):
            app.screen.query_one("#expires", Input).value = bad
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert type(app.screen).__name__ == "NewTokenScreen"  # still open
            assert rule in field_note(app, "expires")
            assert app.screen.query_one("#field-expires", Field).label == "Expires"
            assert count(ctx) == before
        app.screen.query_one("#expires", Input).value = "30d"
        asked = utcnow()
        await pilot.press("ctrl+s")
        await settle(pilot)
        done = utcnow()

        assert type(app.screen).__name__ == "TokenSecretScreen"
        secret = str(app.screen.query_one("#token-secret", Static).content)
        assert secret.startswith("mb_")
        assert "will not be shown again" in screen_text(app)
        identity = identify(ctx, secret)
        assert identity is not None and identity.tenant is not None
        assert identity.tenant.slug == "acme" and identity.name == "portal"
        assert identity.scopes == {TokenScope.READ, TokenScope.EVENTS}
        assert asked + timedelta(days=30) <= identity.expires_at <= done + timedelta(days=30)
        await pilot.press("c")
        assert app.clipboard == secret
        await pilot.press("escape")
        await settle(pilot)

        assert type(app.screen).__name__ == "TokensScreen"
        assert secret not in screen_text(app)
        assert all(secret not in note for note in notices(app).split(" | "))
        shown = {row[0]: row for row in rows(table)}
        assert shown["portal"][1:4] == [
            secret[:11],
            "read,events",
            identity.expires_at.strftime("%Y-%m-%d"),
        ]
        assert shown["portal"][5] == "live"
        assert table.cursor_row == list(shown).index("portal")  # the new token is selected

        await pilot.press("x")
        await settle(pilot)
        assert type(app.screen).__name__ == "ConfirmScreen"
        await pilot.press("escape")  # cancelled: nothing changes
        await settle(pilot)
        assert identify(ctx, secret) is not None
        assert {row[0]: row[5] for row in rows(table)}["portal"] == "live"
        await pilot.press("x")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert {row[0]: row[5] for row in rows(table)}["portal"] == "revoked"
        assert identify(ctx, secret) is None
        assert identify(ctx, made["acme-portal"]) is not None  # the other one still works

        await pilot.press("escape")
        await settle(pilot)
        assert type(app.screen).__name__ == "TenantsScreen"
        await open_tokens(pilot, None)  # a system admin opens the system's too
        assert "API tokens · system" in screen_text(app)
    with ctx.session() as session:
        entries = list_entries(session=session, tenant="acme", limit=2)
    assert [(e.action, e.actor, e.source) for e in entries] == [
        ("token.revoke", "admin", "tui"),
        ("token.create", "admin", "tui"),
    ]
    assert all(secret not in str(e.changes) for e in entries)


async def test_a_tenant_admin_manages_its_tenants_tokens_only(ctx, actor, session_as) -> None:
    made = owners(ctx, actor)
    app = session_as("tenant-admin", ["acme"], start="tenants")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        # The palette's entry opens the tokens of the scope worked on.
        [entry] = [c for c in app.get_system_commands(app.screen) if c.title == "API tokens"]
        entry.callback()
        await settle(pilot)
        assert "API tokens · tenant acme" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert await open_tokens(pilot, None) is None  # the system's: refused
        assert type(app.screen).__name__ == "TenantsScreen"
        assert "the system's tokens are not yours to open" in notices(app)
        table = await open_tokens(pilot, "acme")
        assert table is not None and [row[0] for row in rows(table)] == ["acme-portal"]
        await pilot.press("n")
        await settle(pilot)
        await pilot.press(*"delegate")
        app.screen.query_one("#scope-admin", Checkbox).value = True  # as the API allows it
        await pilot.press("ctrl+s")
        await settle(pilot)
        secret = str(app.screen.query_one("#token-secret", Static).content)
        await pilot.press("escape")
        await settle(pilot)
        assert {row[0]: row[2] for row in rows(table)}["delegate"] == "read,write,events,admin"
    identity = identify(ctx, secret)
    assert identity is not None and identity.tenant is not None
    assert identity.tenant.slug == "acme" and TokenScope.ADMIN in identity.scopes

    # The data layer holds the same line on its own.
    with ctx.session() as session:
        globex_id = token_row(session, made["globex-portal"]).id
        system_id = token_row(session, made["system-ops"]).id
    with pytest.raises(Forbidden, match="the system's settings"):
        tokens.load(ctx, None)
    with pytest.raises(Forbidden, match="tenant globex"):
        tokens.create(ctx, "globex", "sneaky", ["read"], "")
    with pytest.raises(Forbidden):
        tokens.revoke(ctx, None, system_id)
    with pytest.raises(NotFound):
        tokens.revoke(ctx, "acme", globex_id)  # another owner's token, named through acme
    assert identify(ctx, made["globex-portal"]) is not None
    assert identify(ctx, made["system-ops"]) is not None


async def test_a_viewer_reads_the_tokens_and_is_refused_creating_and_revoking(
    ctx, actor, session_as
) -> None:
    made = owners(ctx, actor)
    before = count(ctx)
    app = session_as("viewer", ["acme"], start="tenants")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = await open_tokens(pilot, "acme")
        assert table is not None and [row[0] for row in rows(table)] == ["acme-portal"]
        await pilot.press("n")
        await settle(pilot)
        assert type(app.screen).__name__ == "TokensScreen"  # no dialog
        await pilot.press("x")
        await settle(pilot)
        assert type(app.screen).__name__ == "TokensScreen"  # no question
        assert notices(app).count("read-only: a viewer of acme cannot change anything") == 2
    with ctx.session() as session:
        acme_id = token_row(session, made["acme-portal"]).id
    with pytest.raises(Forbidden, match="read-only"):
        tokens.create(ctx, "acme", "sneaky", ["read"], "")
    with pytest.raises(Forbidden, match="read-only"):
        tokens.revoke(ctx, "acme", acme_id)
    assert count(ctx) == before and identify(ctx, made["acme-portal"]) is not None
    with ctx.session() as session:
        assert not [e for e in list_entries(session=session) if e.actor == "viewer-key"]


def test_the_data_layer_refuses_a_bad_expiry_by_its_field(ctx, actor) -> None:
    owners(ctx, actor)
    before = count(ctx)
    with pytest.raises(ValidationError) as refused:
        tokens.create(ctx, "acme", "late", ["read"], "yesterday")
    assert refused.value.field == "expires"
    with pytest.raises(ValidationError) as refused:
        tokens.create(ctx, "acme", "nothing", [], "")
    assert refused.value.field == "scopes"
    assert count(ctx) == before


def test_the_token_screen_at_80x24(snap_compare, ctx, actor, monkeypatch) -> None:
    """Live, events-only, expired and revoked tokens of acme; secrets and dates pinned."""
    from rich.text import Text

    from core.services.tokens import revoke_token
    from tests.support.tokens import expire_token
    from tui.screens import tokens as screen

    words = iter(f"{word:x<43}" for word in ("portal", "emitter", "oldscript", "replaced"))
    monkeypatch.setattr("core.services.tokens.secrets.token_urlsafe", lambda _n: next(words))
    live = screen.expires_text
    monkeypatch.setattr(
        screen,
        "expires_text",
        lambda token, now: (
            Text("2027-03-01") if live(token, now).plain[:2] == "20" else live(token, now)
        ),
    )
    with ctx.session() as session:
        acme = make_tenant(session, slug="acme", name="Acme Corp", actor=actor)
        make_tenant(session, slug="globex", name="Globex", actor=actor)
        in_90_days = utcnow() + timedelta(days=90)
        portal = make_token(session, acme, name="customer portal", expires_at=in_90_days)
        make_token(session, acme, name="event emitter", scopes=["events"])
        expire_token(session, make_token(session, acme, name="old script", scopes=["read"]))
        replaced = make_token(session, acme, name="replaced", scopes=list(TokenScope))
        identify_token(session=session, plaintext=portal)  # last used: now
        session.commit()
        revoke_token(session=session, token_id=token_row(session, replaced).id, actor=actor)

    async def opened(pilot) -> None:
        await settle(pilot)
        await open_tokens(pilot, "acme")
        await steps()(pilot)

    app = MailbellApp(ctx, start="tenants")
    assert snap_compare(app, terminal_size=(80, 24), run_before=opened)
