"""Templates per language in the TUI: the page's Languages column, the editor's language
selector (save, reset and a new template from the shipped default of that language), and the
preview in the owner's zone and locale with the message's attachments."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Select, Static

from core.errors import NotFound
from core.models.tenancy import NotificationSettingsUpdate
from core.rendering import default_template
from core.services.notifications import update_notification_settings
from core.services.templates import create_custom_template, get_custom_template
from core.services.tenants import get_tenant
from tests.tui.conftest import rows, seed, settle
from tests.tui.test_templates import open_editor, preview, wait_preview
from tui.data.deliveries import load_delivery
from tui.data.templates import EVERY_LANGUAGE, emit_sample, languages, locale_choices


def parisian(ctx, actor) -> None:
    """acme (seeded) reads its mail in French, in Paris."""
    seed(ctx, actor)
    with ctx.session() as session:
        update_notification_settings(
            session=session,
            box=ctx.box,
            tenant=get_tenant(session=session, slug="acme"),
            actor=actor,
            changes=NotificationSettingsUpdate.parse(
                {"locale": "fr_FR", "timezone": "Europe/Paris"}, system=False
            ),
        )


def custom(ctx, name: str, locale: str = ""):
    with ctx.session() as session:
        acme = get_tenant(session=session, slug="acme")
        try:
            return get_custom_template(session=session, tenant=acme, name=name, locale=locale)
        except NotFound:
            return None


def shown(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def choose(pilot, locale: str) -> None:
    pilot.app.screen.query_one("#locale", Select).value = locale
    await settle(pilot)


async def test_the_preview_reads_in_the_owner_zone_and_locale(ctx, actor, make_app) -> None:
    parisian(ctx, actor)
    app = make_app(tenant_slug="acme", start="templates")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_editor(pilot, "QUEUE_SLA")
        await wait_preview(pilot)
        assert shown(app, "#preview-where") == "Preview in fr_FR, Europe/Paris"
        # the sample's 2026-11-03T14:05:00Z, in Paris (UTC+1 in November), in French
        assert "3 nov. 2026, 15:05 CET" in preview(app)
        assert shown(app, "#preview-attachments") == "No attachments"


async def test_the_preview_lists_the_attachments(ctx, actor, make_app) -> None:
    parisian(ctx, actor)
    app = make_app(tenant_slug="acme", start="templates")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_editor(pilot, "CONFERENCE_INVITATION")
        await wait_preview(pilot)
        files = shown(app, "#preview-attachments").splitlines()
        assert files[0] == "Attachments"
        # the invitation: a calendar part of the body and the same file to open
        assert any(line.startswith("invite.ics  text/calendar  ") for line in files)
        assert all(line.endswith(" KB") for line in files[1:])
        assert "10 nov. 2026, 16:00 CET" in preview(app)


async def test_the_voicemail_preview_lists_its_recording(ctx, actor, make_app) -> None:
    parisian(ctx, actor)
    app = make_app(tenant_slug="acme", start="templates")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_editor(pilot, "VOICEMAIL_RECEIVED")
        await choose(pilot, "fr_FR")
        await wait_preview(pilot)
        assert shown(app, "#preview-attachments").splitlines() == [
            "Attachments",
            "voicemail-1012.wav  audio/wav  844 bytes",
        ]
        assert "3 nov. 2026, 17:20 CET" in preview(app)


def test_the_sample_emit_carries_the_recording(ctx, actor) -> None:
    parisian(ctx, actor)
    emitted = emit_sample(ctx, "acme", "VOICEMAIL_RECEIVED")
    assert emitted.startswith("VOICEMAIL_RECEIVED emitted: #")
    delivery = int(emitted.split("#")[1].split()[0])
    message = load_delivery(ctx, "acme", delivery)["message"]
    assert "Attached: voicemail-1012.wav" in message


async def test_save_in_french_leaves_the_template_for_every_language(ctx, actor, make_app) -> None:
    parisian(ctx, actor)
    with ctx.session() as session:
        create_custom_template(
            session=session,
            tenant=get_tenant(session=session, slug="acme"),
            name="QUEUE_SLA",
            subject="Any language {{ queue_name }}",
            actor=actor,
        )
    app = make_app(tenant_slug="acme", start="templates")
    async with app.run_test(size=(80, 24)) as pilot:
        table = rows(app.screen.query_one("#templates", DataTable))
        await open_editor(pilot, "QUEUE_SLA")
        assert app.screen.query_one("#subject", Input).value == "Any language {{ queue_name }}"
        await choose(pilot, "fr_FR")
        # a new French template starts from the shipped default in French
        assert app.screen.query_one("#subject", Input).value == (
            default_template("QUEUE_SLA", "fr_FR").subject
        )
        title = shown(app, "#template-title")
        assert "fr_FR" in title and "default" in title
        app.screen.query_one("#subject", Input).value = "Appel perdu {{ queue_name }}"
        await wait_preview(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "custom" in shown(app, "#template-title")
        await pilot.press("escape")
        await settle(pilot)
        table = rows(app.screen.query_one("#templates", DataTable))
        languages = {row[0]: row[2] for row in table}
        assert languages["QUEUE_SLA"] == "any, fr_FR" and languages["QUEUE_CALLBACK"] == "—"
    french = custom(ctx, "QUEUE_SLA", "fr_FR")
    assert french is not None and french.subject == "Appel perdu {{ queue_name }}"
    every = custom(ctx, "QUEUE_SLA")
    assert every is not None and every.subject == "Any language {{ queue_name }}"


async def test_reset_deletes_only_the_chosen_language(ctx, actor, make_app) -> None:
    parisian(ctx, actor)
    with ctx.session() as session:
        acme = get_tenant(session=session, slug="acme")
        for locale in ("", "de_DE"):
            create_custom_template(
                session=session,
                tenant=acme,
                name="QUEUE_CALL_LOST",
                subject=f"Lost {locale or 'any'} {{{{ caller }}}}",
                locale=locale,
                actor=actor,
            )
    app = make_app(tenant_slug="acme", start="templates")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_editor(pilot, "QUEUE_CALL_LOST")
        await choose(pilot, "de_DE")
        assert app.screen.query_one("#subject", Input).value == "Lost de_DE {{ caller }}"
        await wait_preview(pilot)
        # a German template previews in German, in the owner's zone
        assert shown(app, "#preview-where") == "Preview in de_DE, Europe/Paris"
        assert "03.11.2026, 12:47" in preview(app)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert "Reset QUEUE_CALL_LOST (de_DE) to the default template?" in shown(
            app, "#confirm-question"
        )
        await pilot.click("#ok")
        await settle(pilot)
    assert custom(ctx, "QUEUE_CALL_LOST", "de_DE") is None
    assert custom(ctx, "QUEUE_CALL_LOST") is not None


async def test_switching_language_with_unsaved_changes_asks_first(ctx, actor, make_app) -> None:
    parisian(ctx, actor)
    app = make_app(tenant_slug="acme", start="templates")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_editor(pilot, "QUEUE_CALLBACK")
        subject = app.screen.query_one("#subject", Input)
        subject.value = "Typed, not saved"
        await wait_preview(pilot)
        await choose(pilot, "de_DE")
        assert "Edit the de_DE template? Unsaved changes are lost." in shown(
            app, "#confirm-question"
        )
        await pilot.press("escape")  # keep them
        await settle(pilot)
        editor = app.screen
        assert editor.query_one("#locale", Select).value == ""
        assert editor.query_one("#subject", Input).value == "Typed, not saved"
        await pilot.press("escape")  # leaving asks too
        await settle(pilot)
        assert "Leave the editor? Unsaved changes are lost." in shown(app, "#confirm-question")
        await pilot.press("escape")
        await settle(pilot)
        await choose(pilot, "de_DE")
        await pilot.click("#ok")
        await settle(pilot)
        assert app.screen is editor and editor.query_one("#locale", Select).value == "de_DE"
        assert editor.query_one("#subject", Input).value == (
            default_template("QUEUE_CALLBACK", "de_DE").subject
        )
    assert custom(ctx, "QUEUE_CALLBACK") is None


def test_the_language_choices() -> None:
    # every language, the owner's own, the shipped three, then other locales with a template
    choices = locale_choices("fr_CA", ["", "fr_FR", "it_IT"])
    assert [value for _, value in choices] == ["", "fr_CA", "en_US", "fr_FR", "de_DE", "it_IT"]
    assert choices[0][0] == EVERY_LANGUAGE
    assert choices[1][0] == "fr_CA · Français (Canada) (owner's)"


async def test_f6_shows_the_preview_alone_from_the_body(ctx, actor, make_app) -> None:
    parisian(ctx, actor)
    app = make_app(tenant_slug="acme", start="templates")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_editor(pilot, "VOICEMAIL_RECEIVED")
        assert app.focused is app.screen.query_one("#body")
        await pilot.press("f6")
        assert app.screen.query_one("#editor-panes").has_class("-preview-only")
        await pilot.press("f6")
        assert not app.screen.query_one("#editor-panes").has_class("-preview-only")


async def test_many_languages_fit_the_column_and_the_line_names_them(ctx, actor, make_app) -> None:
    parisian(ctx, actor)
    with ctx.session() as session:
        acme = get_tenant(session=session, slug="acme")
        for locale in ("", "fr_FR", "de_DE"):
            create_custom_template(
                session=session, tenant=acme, name="QUEUE_SLA", locale=locale, actor=actor
            )
    app = make_app(tenant_slug="acme", start="templates")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#templates", DataTable)
        assert {row[0]: row[2] for row in rows(table)}["QUEUE_SLA"] == "any, de_DE +1"
        table.move_cursor(row=table.get_row_index("QUEUE_SLA"))
        await settle(pilot)
        assert shown(app, "#templates-detail") == (
            "QUEUE_SLA  toggle: queue_sla_breached  custom: any, de_DE, fr_FR"
        )
        # every column within 80 cells: nothing scrolls sideways
        assert table.virtual_size.width <= 80


def test_languages_past_the_width_are_counted() -> None:
    assert languages(("", "fr_FR"), 14) == "any, fr_FR"
    assert languages(("", "de_DE", "fr_FR"), 14) == "any, de_DE +1"
    assert languages(("", "de_DE", "fr_FR")) == "any, de_DE, fr_FR"
