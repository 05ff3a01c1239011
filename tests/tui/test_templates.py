"""Templates: badges, editor with live preview, validation with line numbers, save, reset."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input, Static, TextArea

from core.catalog import TEMPLATE_NAMES
from core.errors import NotFound
from core.services.templates import get_custom_template
from core.services.tenants import get_tenant
from tests.tui.conftest import rows, seed, settle
from tui.screens.template_editor import PREVIEW_DELAY_S


def custom(ctx, slug: str, name: str):
    with ctx.session() as session:
        try:
            return get_custom_template(
                session=session, tenant=get_tenant(session=session, slug=slug), name=name
            )
        except NotFound:
            return None


RENDERING = "Rendering"


def preview(app) -> str:
    return str(app.screen.query_one("#preview", Static).render())


async def wait_preview(pilot, timeout_s: float = 10.0) -> None:
    """Past the editor's debounce, until the preview has rendered (a render runs in a worker:
    on a loaded machine it takes longer than the debounce)."""
    await pilot.pause(PREVIEW_DELAY_S + 0.1)
    await settle(pilot)
    for _ in range(int(timeout_s / 0.05)):
        if not preview(pilot.app).startswith(RENDERING):
            return
        await pilot.pause(0.05)


async def open_editor(pilot, name: str) -> None:
    await settle(pilot)
    table = pilot.app.screen.query_one("#templates", DataTable)
    table.move_cursor(row=table.get_row_index(name))
    await pilot.press("enter")
    await settle(pilot)


async def test_lists_every_template_with_badges(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="templates")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = rows(app.screen.query_one("#templates", DataTable))
        # the reference's 14, then mailbell's own (the health alerts, DIGEST)
        assert [row[0] for row in table] == list(TEMPLATE_NAMES)
        assert {row[1].strip() for row in table} == {"default"}
        assert table[0][0] == "USER_CREATION" and table[-1][0] == "DIGEST"


async def test_edit_a_template_and_see_the_preview_change(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="templates")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_editor(pilot, "QUEUE_CALL_LOST")
        assert type(app.screen).__name__ == "TemplateEditorScreen"
        await wait_preview(pilot)
        assert "Subject: Lost call in queue" in preview(app)
        subject = app.screen.query_one("#subject", Input)
        subject.value = "Missed caller {{ caller }} — please call back"
        await wait_preview(pilot)
        assert "Subject: Missed caller" in preview(app)
        body = app.screen.query_one("#body", TextArea)
        body.text = "<p>Hello team,</p>\n<p>queue <b>{{ queue_name }}</b> lost a call.</p>"
        await wait_preview(pilot)
        assert "Hello team," in preview(app) and "lost a call." in preview(app)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "custom" in str(app.screen.query_one("#template-title", Static).render())
        await pilot.press("escape")
        await settle(pilot)
        table = rows(app.screen.query_one("#templates", DataTable))
        assert {row[0]: row[1].strip() for row in table}["QUEUE_CALL_LOST"] == "custom"
    saved = custom(ctx, "acme", "QUEUE_CALL_LOST")
    assert saved is not None and saved.subject.startswith("Missed caller")


async def test_errors_carry_their_line_and_save_does_nothing(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="templates")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_editor(pilot, "QUEUE_SLA")
        body = app.screen.query_one("#body", TextArea)
        body.text = "<p>one</p>\n<p>two</p>\n<p>{{ no_such_variable }}</p>\n"
        await wait_preview(pilot)
        error = str(app.screen.query_one("#body-error", Static).render())
        assert "line 3: unknown variable 'no_such_variable'" in error
        subject = app.screen.query_one("#subject", Input)
        subject.value = "{% if %}"
        await wait_preview(pilot)
        assert "syntax error" in str(app.screen.query_one("#field-subject .field-note").render())
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert type(app.screen).__name__ == "TemplateEditorScreen"
    assert custom(ctx, "acme", "QUEUE_SLA") is None


async def test_reset_to_default_asks_first(ctx, actor, make_app) -> None:
    from core.services.templates import create_custom_template

    seed(ctx, actor)
    with ctx.session() as session:
        create_custom_template(
            session=session,
            tenant=get_tenant(session=session, slug="acme"),
            name="QUEUE_SLA",
            subject="Custom SLA {{ queue_name }}",
            actor=actor,
        )
    app = make_app(tenant_slug="acme", start="templates")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_editor(pilot, "QUEUE_SLA")
        await wait_preview(pilot)
        assert "Subject: Custom SLA" in preview(app)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert "Reset QUEUE_SLA to the default template?" in str(
            app.screen.query_one("#confirm-question").render()
        )
        await pilot.press("escape")
        await settle(pilot)
        assert custom(ctx, "acme", "QUEUE_SLA") is not None
        await pilot.press("ctrl+r")
        await settle(pilot)
        await pilot.click("#ok")
        await settle(pilot)
        await wait_preview(pilot)
        assert custom(ctx, "acme", "QUEUE_SLA") is None
        assert "Subject: SLA breached in queue" in preview(app)


async def test_html_preview_is_written_to_a_file(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="templates")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_editor(pilot, "QUEUE_CALLBACK")
        await pilot.press("ctrl+o")
        await pilot.pause()
        path = Path(ctx.settings.home) / "previews" / "QUEUE_CALLBACK.html"
        assert path.exists() and "<html" in path.read_text().lower()
        assert any(str(path) in str(n.message) for n in app._notifications)


async def test_system_templates_are_read_only_in_a_tenant(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="templates")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_editor(pilot, "DISK_LOW")
        assert app.screen.query_one("#body", TextArea).read_only
        assert "read-only here" in str(app.screen.query_one("#template-title").render())
