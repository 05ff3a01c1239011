"""Rough edges of the TUI found at 80x24 (issue #18, item 4): page keys whatever has focus, Esc on
a filled form asks, labels instead of internal names, help and footer, Enter and empty tables."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input, TextArea

from core.services.tenants import get_tenant
from tests.support.factories import emit_event
from tests.tui.conftest import screen_text, seed, settle


def footer_keys(app: Any) -> dict[str, str]:
    """The footer's keys as shown: key display → description."""
    from textual.widgets._footer import FooterKey

    return {key.key_display or key.key: key.description for key in app.screen.query(FooterKey)}


async def test_ctrl_e_opens_the_test_email_while_the_recipient_input_has_focus(
    ctx, actor, make_app
) -> None:
    seed(ctx, actor)
    app = make_app(tenant_slug="acme")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        field = app.screen.query_one("#recipient-input", Input)
        field.focus()
        await pilot.press(*"ops@")
        await pilot.pause()
        assert app.focused is field
        assert "Test email" in footer_keys(app).values()
        await pilot.press("ctrl+e")
        await settle(pilot)
        assert type(app.screen).__name__ == "TestEmailScreen"


async def test_enter_is_in_the_footer_while_a_table_with_rows_has_focus(
    ctx, actor, make_app
) -> None:
    seed(ctx, actor)
    for start, slug, action in (
        ("servers", "acme", "Edit"),
        ("templates", "acme", "Edit"),
        ("accounts", "acme", None),  # acme has no account: nothing to open
        ("deliveries", "acme", None),
    ):
        app = make_app(tenant_slug=slug, start=start)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert type(app.focused).__name__ == "DataTable", start
            assert footer_keys(app).get("⏎") == action, start


async def test_enter_on_a_row_opens_it_and_a_filter_keeps_its_enter(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    with ctx.session() as session:
        emit_event(session, ctx.box, get_tenant(session=session, slug="acme"), "QUEUE_SLA")
    app = make_app(tenant_slug="acme", start="deliveries")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert footer_keys(app).get("⏎") == "Details"
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "DeliveryDetailScreen"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("slash")  # the status filter: Enter opens its list, not a delivery
        await pilot.pause()
        assert "⏎" not in footer_keys(app)
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "DeliveriesScreen"
        assert app.screen.query_one("#status-filter").expanded


async def test_empty_tables_say_why_and_what_to_do(ctx, actor, make_app) -> None:
    from textual.widgets import Select

    seed(ctx, actor)
    cases = (
        ("servers", "globex", "No mail servers for tenant globex yet — press a to add one"),
        ("accounts", "globex", "an account needs a mail server first"),
        ("deliveries", "acme", "No deliveries for acme yet"),
    )
    for start, slug, words in cases:
        app = make_app(tenant_slug=slug, start=start)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert words in screen_text(app), start
            assert app.screen.query_one(f"#{start}-empty").display
    app = make_app(tenant_slug="acme", start="deliveries")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.query_one("#status-filter", Select).value = "failed"
        await settle(pilot)
        text = screen_text(app)
        assert "No deliveries for acme match the filter (status failed) — press / to change" in text
    app = make_app(tenant_slug="acme", start="servers")  # a table with rows shows no such line
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert not app.screen.query_one("#servers-empty").display
        assert "No mail servers" not in screen_text(app)


async def test_esc_on_a_filled_server_form_asks_and_an_untouched_one_closes(
    ctx, actor, make_app
) -> None:
    from core.services.mail_servers import list_mail_servers

    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="servers")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        assert type(app.screen).__name__ == "ServerFormScreen"
        await pilot.press("escape")  # nothing changed: closes at once
        await settle(pilot)
        assert type(app.screen).__name__ == "ServersScreen"

        await pilot.press("e")
        await settle(pilot)
        app.screen.query_one("#host", Input).value = "smtp.changed.example"
        await pilot.press("escape")
        await settle(pilot)
        assert type(app.screen).__name__ == "ConfirmScreen"
        assert "Unsaved changes are lost" in screen_text(app)
        await pilot.press("escape")  # keep editing: the typed value is still there
        await settle(pilot)
        assert type(app.screen).__name__ == "ServerFormScreen"
        assert app.screen.query_one("#host", Input).value == "smtp.changed.example"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.click("#ok")  # Discard
        await settle(pilot)
        assert type(app.screen).__name__ == "ServersScreen"
    with ctx.session() as session:
        acme = get_tenant(session=session, slug="acme")
        assert [s.host for s in list_mail_servers(session=session, tenant=acme)] == [
            "smtp.acme.example"
        ]


async def test_esc_on_a_filled_account_form_asks_and_an_untouched_one_closes(
    ctx, actor, make_app
) -> None:
    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="accounts")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert type(app.screen).__name__ == "AccountFormScreen"
        await pilot.press("escape")
        await settle(pilot)
        assert type(app.screen).__name__ == "AccountsScreen"

        await pilot.press("a")
        await settle(pilot)
        await pilot.press(*"sales@acme.example")
        await pilot.press("escape")
        await settle(pilot)
        assert type(app.screen).__name__ == "ConfirmScreen"
        await pilot.press("y")  # discard
        await settle(pilot)
        assert type(app.screen).__name__ == "AccountsScreen"
        assert "sales@acme.example" not in screen_text(app)


def help_text(app: Any) -> str:
    """Everything the help screen holds, scrolled or not, as plain text."""
    import io

    from rich.console import Console
    from textual.widgets import Static

    console = Console(width=200, record=True, file=io.StringIO())
    for static in app.screen.query(Static):
        console.print(static.content)
    return console.export_text()


async def test_help_lists_each_page_once_and_captured_only_in_the_demo(
    ctx, actor, make_app
) -> None:
    from tui.widgets.nav import PAGES

    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="servers")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)
        assert type(app.screen).__name__ == "HelpScreen"
        text = help_text(app)
        first_words = [line.split()[0] for line in text.splitlines() if line.strip()]
        for page in app.pages:
            assert first_words.count(page.key) == 1, page.label
            assert text.count(page.help) == 1, page.label
        captured = next(p for p in PAGES if p.mode == "captured")
        assert captured.key not in first_words
        assert "Captured" not in text and captured.help not in text
        assert "Test connection" in text  # the page's own keys are still there


async def test_every_footer_key_is_visible_at_80_columns(ctx, actor, make_app) -> None:
    """The keys the footer lays out are those the page shows, and each ends left of the palette
    key at the right edge (an overflowing footer scrolls its last keys out of sight)."""
    from textual.widgets._footer import FooterKey

    seed(ctx, actor)
    for slug, start in ((None, "slack"), ("acme", "slack"), ("acme", "servers")):
        app = make_app(tenant_slug=slug, start=start)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            keys = list(app.screen.query(FooterKey))
            palette = next(k for k in keys if k.has_class("-command-palette"))
            shown = {
                active.binding.description
                for active in app.screen.active_bindings.values()
                if active.binding.show
            }
            assert {k.description for k in keys if k is not palette} == shown, start
            for key in keys:
                if key is not palette:
                    assert key.region.right <= palette.region.x, (start, key.description)
            assert "Help" in {k.description for k in keys}


async def test_the_palette_screenshot_saves_into_the_data_directory(
    ctx, actor, make_app, tmp_path, monkeypatch
) -> None:
    account = tmp_path / "account-without-downloads"
    account.mkdir()
    monkeypatch.setenv("HOME", str(account))
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    seed(ctx, actor)
    folder = ctx.settings.home / "screenshots"
    app = make_app(tenant_slug="acme", start="servers")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Screenshot")
        await pilot.pause(0.5)
        await pilot.press("enter")
        for _ in range(100):  # the palette runs it on a timer; the save runs on a thread
            if folder.is_dir() and any(folder.glob("*.svg")):
                break
            await pilot.pause(0.05)
        [saved] = list(folder.glob("*.svg"))
        assert "Mail servers" in saved.read_text() or "Servers" in saved.read_text()
        await settle(pilot)
        notes = [str(n.message) for n in app._notifications]
        assert any(str(folder) in note for note in notes), notes
        assert not (account / "Downloads").exists()


async def test_f6_shows_the_preview_while_the_template_body_has_focus(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="templates")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "TemplateEditorScreen"
        body = app.screen.query_one("#body", TextArea)
        body.focus()
        await pilot.pause()
        assert app.focused is body
        assert footer_keys(app).get("f6") == "Preview"
        panes = app.screen.query_one("#editor-panes")
        assert not panes.has_class("-preview-only")
        await pilot.press("f6")
        await pilot.pause()
        assert panes.has_class("-preview-only")
        await pilot.press("f6")
        await pilot.pause()
        assert not panes.has_class("-preview-only")


def notes(app: Any) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_the_forms_labels_are_those_the_tui_names_fields_by(ctx, actor, make_app) -> None:
    """tui/data/wording.FIELD_LABELS (how a refusal names a field) says what the forms say."""
    from tui.data.wording import FIELD_LABELS
    from tui.widgets.form import Field

    seed(ctx, actor)
    for start, key, form in (("servers", "a", "ServerFormScreen"), ("accounts", "a", None)):
        app = make_app(tenant_slug="acme", start=start)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press(key)
            await settle(pilot)
            assert form is None or type(app.screen).__name__ == form
            fields = {f.field_name: f.label.removesuffix(" *") for f in app.screen.query(Field)}
            assert len(fields) >= 8, fields
            for name, label in fields.items():
                assert FIELD_LABELS.get(name) == label, name


async def test_a_provider_preset_says_what_it_filled_in_the_forms_words(
    ctx, actor, make_app
) -> None:
    from textual.widgets import Select

    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="servers")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        app.screen.query_one("#provider", Select).value = "GMAIL"
        await settle(pilot)
        [said] = [n for n in notes(app) if "filled" in n]
        assert said.startswith("Gmail: filled Host, Port, Security"), said
        assert "GMAIL" not in said and "host" not in said


def test_refusals_name_the_fields_label_and_the_choices_label() -> None:
    from core.errors import NotConfigured, ValidationError
    from tui.runtime import check, error_text, message_of

    refused = ValidationError("rate_limit_per_minute", "is 9999; at most 6000 are allowed")
    assert error_text(refused) == "Rate / min: is 9999; at most 6000 are allowed"
    assert "rate_limit_per_minute" not in error_text(refused)
    needs = ValidationError("username", "is required when auth is AUTO (or set auth to DISABLE)")
    assert message_of(needs) == (
        "is required when Auth is Auto (or set Auth to Disabled (no AUTH))"
    )
    assert error_text(NotConfigured("turn on apply_to_all_tenants")) == (
        'turn on "Apply mail settings to all tenants"'
    )

    def rule(value: str) -> None:
        raise ValidationError("auth", f"auth is {value}: not for this provider")

    assert check(rule, "XOAUTH2") == "Auth is XOAUTH2 (OAuth 2.0): not for this provider"


async def test_a_sync_without_an_imap_host_names_the_page_key_and_field(
    ctx, actor, make_app
) -> None:
    from tests.tui.test_accounts import add_account

    seeded = seed(ctx, actor)
    add_account(ctx, actor, seeded.acme_server)  # no IMAP host
    app = make_app(tenant_slug="acme", start="accounts")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        said = " ".join(notes(app))
        assert "has no IMAP host: set one with Accounts (5) → e → IMAP host" in said, said
        assert "mailbell" not in said


# Commands a TUI user is never sent to: what no page does (the service, key files, the schema).
NOT_IN_THE_TUI = {"serve", "worker", "keys", "db", "token", "emit", "demo", "tui"}


def _cli_commands() -> set[str]:
    from mailbell.cli import app

    names = {group.name for group in app.registered_groups if group.name}
    names |= {command.name for command in app.registered_commands if command.name}
    return names - NOT_IN_THE_TUI


def _strings(path: Any) -> list[tuple[int, str]]:
    """The string literals of a module, docstrings left out; an f-string with `1` for each
    value it formats."""
    import ast

    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = body[0] if body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skipped.add(id(first.value))
        if isinstance(node, ast.JoinedStr):
            skipped |= {id(value) for value in node.values}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "1" for v in node.values)
            found.append((node.lineno, text))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in skipped
        ):
            found.append((node.lineno, node.value))
    return found


def _cli_pattern() -> Any:
    import re

    return re.compile(r"(?<![/\w])mailbell (" + "|".join(sorted(_cli_commands())) + r")\b")


def test_the_tuis_own_strings_send_nobody_to_the_cli() -> None:
    from pathlib import Path

    import tui

    # The Health detail offers re-authorizing with its `a` key and, for a shell, the command.
    allowed = {("data/health.py", "mailbell oauth")}
    pattern = _cli_pattern()
    root = Path(tui.__file__).parent
    found = [
        (str(path.relative_to(root)), line, match.group(0))
        for path in sorted(root.rglob("*.py"))
        for line, text in _strings(path)
        for match in pattern.finditer(text)
        if (str(path.relative_to(root)), match.group(0)) not in allowed
    ]
    assert found == []
    assert pattern.search("set one with `mailbell accounts edit 1 --imap-host HOST`")


def test_every_core_message_naming_a_cli_command_reads_as_a_tui_key() -> None:
    """Core's messages (errors, health advice) reach the TUI through tui/data and tui.runtime,
    which reword them with `for_tui`: every command core names has its page and key there."""
    from pathlib import Path

    import core
    from tui.data.wording import for_tui

    pattern = _cli_pattern()
    root = Path(core.__file__).parent
    messages = [
        (str(path.relative_to(root)), text)
        for path in sorted(root.rglob("*.py"))
        for _, text in _strings(path)
        if pattern.search(text)
    ]
    assert len(messages) >= 10  # the scan finds what it looks for
    left = [(where, for_tui(text)) for where, text in messages if pattern.search(for_tui(text))]
    allowed = {"mail/oauth_server.py"}  # the command's own template, for the CLI's output
    assert [(where, text) for where, text in left if where not in allowed] == []


async def test_a_local_recipient_is_added_with_a_warning_and_bad_syntax_is_refused(
    ctx, actor, make_app
) -> None:
    from tui.widgets.recipients import RecipientsEditor

    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="settings")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        editor = app.screen.query_one("#recipients", RecipientsEditor)
        editor.query_one("#recipient-input", Input).focus()
        await pilot.press(*"noc@pbx.local", "enter")
        await settle(pilot)
        assert editor.value[-1] == "noc@pbx.local"
        assert any(
            "pbx.local is a reserved domain: mail to it only works through an internal relay" in n
            for n in notes(app)
        )
        await pilot.press(*"n oc@lab.test", "enter")
        await settle(pilot)
        assert "n oc@lab.test" not in editor.value
        assert "is not a valid email address" in screen_text(app)


async def test_a_server_sending_from_a_local_address_saves_with_a_warning(
    ctx, actor, make_app
) -> None:
    from core.services.mail_servers import list_mail_servers

    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="servers")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        app.screen.query_one("#mail_from", Input).value = "Alerts <alerts@relay.local>"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert type(app.screen).__name__ == "ServersScreen"
        assert any("relay.local is a reserved domain" in n for n in notes(app)), notes(app)
    with ctx.session() as session:
        [server] = list_mail_servers(
            session=session, tenant=get_tenant(session=session, slug="acme")
        )
        assert server.mail_from == "Alerts <alerts@relay.local>"
