"""DIGEST on the Templates page: listed in both scopes, edited with its live preview, never sent
as a sample event."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Static

from core.services.templates import get_custom_template
from core.services.tenants import get_tenant
from tests.tui.conftest import rows, seed, settle
from tests.tui.test_templates import open_editor, preview, wait_preview
from tui.data.templates import load_rows


def test_digest_is_editable_in_either_scope(ctx, actor) -> None:
    seed(ctx, actor)
    for slug in ("acme", None):
        digest = {row.name: row for row in load_rows(ctx, slug)}["DIGEST"]
        assert digest.editable and digest.scope == "any"
        assert digest.audience == "a burst's recipients"


async def test_edit_the_digest_template_and_no_sample_emit(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="templates")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#templates", DataTable)
        table.move_cursor(row=table.get_row_index("DIGEST"))
        await pilot.press("x")  # no sample emit: DIGEST is no event
        await settle(pilot)
        assert [n.message for n in app._notifications][-1].startswith("DIGEST is not an event")
        await open_editor(pilot, "DIGEST")
        await wait_preview(pilot)
        assert "Subject: 3 more lost calls in queue Sales (10:05\u201310:15)" in preview(app)
        app.screen.query_one("#subject", Input).value = "Burst: {{ count }} {{ what }}"
        await wait_preview(pilot)
        assert "Subject: Burst: 3 lost calls" in preview(app)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "custom" in str(app.screen.query_one("#template-title", Static).render())
        await pilot.press("escape")
        await settle(pilot)
        listed = rows(app.screen.query_one("#templates", DataTable))
        assert {row[0]: row[1].strip() for row in listed}["DIGEST"] == "custom"
    with ctx.session() as session:
        acme = get_tenant(session=session, slug="acme")
        saved = get_custom_template(session=session, tenant=acme, name="DIGEST")
    assert saved.subject == "Burst: {{ count }} {{ what }}"
