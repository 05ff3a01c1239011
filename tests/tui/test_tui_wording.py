"""The TUI's own words: fields and choices by their labels, no CLI advice where the TUI has
the key, addresses on reserved domains accepted with a warning."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input

from core.services.tenants import get_tenant
from tests.support.tui_forms import fill, open_form, save
from tests.tui.conftest import screen_text, seed, settle


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
            await open_form(pilot, key=key, form=form)
            fields = {f.field_name: f.label.removesuffix(" *") for f in app.screen.query(Field)}
            assert len(fields) >= 8, fields
            for name, label in fields.items():
                assert FIELD_LABELS.get(name) == label, name


async def test_a_provider_preset_says_what_it_filled_in_the_forms_words(
    ctx, actor, make_app
) -> None:
    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="servers")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(pilot, key="a")
        await fill(pilot, {"provider": "GMAIL"})
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
        assert "has no IMAP host: set one with Accounts (6) → e → IMAP host" in said, said
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
    # The SSH server's log line is read by the operator at the shell that started it.
    allowed = {("data/health.py", "mailbell oauth"), ("ssh/server.py", "mailbell ssh")}
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
    # The command's own template, for the CLI's output; what only the CLI's export/import and
    # the SSH keys file's header say.
    allowed = {"mail/oauth_server.py", "services/settings_document.py", "ssh_keys.py"}
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
        await open_form(pilot)
        await fill(pilot, {"mail_from": "Alerts <alerts@relay.local>"})
        assert await save(pilot) == "ServersScreen"
        assert any("relay.local is a reserved domain" in n for n in notes(app)), notes(app)
    with ctx.session() as session:
        [server] = list_mail_servers(
            session=session, tenant=get_tenant(session=session, slug="acme")
        )
        assert server.mail_from == "Alerts <alerts@relay.local>"
