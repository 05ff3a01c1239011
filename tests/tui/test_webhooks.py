"""The Webhooks page: add (secret masked, never shown again), test against a real receiver that
checks the signature, remove after a confirmation; reached with 0 and listed in help."""

from __future__ import annotations

from textual.widgets import DataTable, Input, SelectionList, Static

from core.services.audit import list_entries
from core.services.tenants import get_tenant
from core.services.webhooks import list_webhooks
from tests.support.factories import make_webhook
from tests.support.webhook_receiver import WebhookReceiver
from tests.tui.conftest import rows, screen_text, seed, settle
from tests.tui.test_deliveries import emit_for, enable

SECRET = "Hook-S3cret-4711"


def targets(ctx, slug: str | None = "acme"):
    with ctx.session() as session:
        tenant = get_tenant(session=session, slug=slug) if slug else None
        return list_webhooks(session=session, tenant=tenant)


def result_line(app) -> str:
    return str(app.screen.query_one("#webhook-result", Static).render())


async def test_add_test_and_remove_a_webhook(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="webhooks")
    async with WebhookReceiver(secret=SECRET) as receiver, app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#webhooks", DataTable)
        assert "No webhooks yet" in rows(table)[0][1]

        await pilot.press("a")
        await settle(pilot)
        dialog = app.screen
        assert type(dialog).__name__ == "WebhookFormScreen"
        assert dialog.query_one("#secret", Input).password  # typed masked
        offered = dialog.query_one("#events", SelectionList)
        assert "QUEUE_SLA" in [offered.get_option_at_index(i).value for i in range(6)]
        dialog.query_one("#url", Input).value = receiver.url("/hooks/acme")
        dialog.query_one("#secret", Input).value = SECRET
        offered.select("QUEUE_SLA")
        await pilot.press("ctrl+s")
        await settle(pilot)

        assert type(app.screen).__name__ == "WebhooksScreen"
        (target,) = targets(ctx)
        assert target.url == receiver.url("/hooks/acme")
        assert target.events == ["QUEUE_SLA"] and target.has_secret
        table = app.screen.query_one("#webhooks", DataTable)
        assert rows(table) == [[str(target.id), target.url, "QUEUE_SLA", "✓ set"]]
        assert SECRET not in screen_text(app)

        # Test: a signed POST of the sample QUEUE_SLA event, the receiver's answer shown.
        await pilot.press("t")
        await settle(pilot)
        (post,) = receiver.received("/hooks/acme")
        assert post.verified is True
        assert post.json["event"] == "QUEUE_SLA" and post.json["tenant"] == "acme"
        assert "✓" in result_line(app) and "HTTP 200" in result_line(app)

        receiver.script("/hooks/acme", 410)
        await pilot.press("t")
        await settle(pilot)
        assert len(receiver.received("/hooks/acme")) == 2
        assert "✗" in result_line(app) and "HTTP 410" in result_line(app)

        # Remove: a confirmation first; No keeps the target, Yes removes it.
        await pilot.press("d")
        await settle(pilot)
        assert type(app.screen).__name__ == "ConfirmScreen"
        await pilot.press("n")
        await settle(pilot)
        assert len(targets(ctx)) == 1
        await pilot.press("d")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert targets(ctx) == []
        assert "No webhooks yet" in rows(app.screen.query_one("#webhooks", DataTable))[0][1]

    with ctx.session() as session:
        actions = [e.action for e in list_entries(session=session, tenant="acme", limit=50)]
    assert {"webhook.create", "webhook.delete"} <= set(actions)


async def test_the_url_rule_shows_as_you_type_and_blocks_saving(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    app = make_app(tenant_slug="acme", start="webhooks")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        app.screen.query_one("#url", Input).value = "ftp://hooks.example.com/x"
        await settle(pilot)
        note = str(app.screen.query_one("#field-url .field-note", Static).render())
        assert "must start with http:// or https://" in note
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert type(app.screen).__name__ == "WebhookFormScreen"  # not saved
        assert targets(ctx) == []


async def test_a_system_webhook_is_offered_the_system_events(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    app = make_app(start="webhooks")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        offered = app.screen.query_one("#events", SelectionList)
        values = [offered.get_option_at_index(i).value for i in range(offered.option_count)]
        assert "DISK_LOW" in values and "QUEUE_SLA" not in values
        app.screen.query_one("#url", Input).value = "http://127.0.0.1:9/system"
        await pilot.press("ctrl+s")
        await settle(pilot)
        (target,) = targets(ctx, None)
        assert target.tenant is None and target.events == [] and not target.has_secret
        cells = rows(app.screen.query_one("#webhooks", DataTable))[0]
        assert cells[2:] == ["all of the scope", "none"]


async def test_webhooks_page_is_reached_with_0_and_listed_in_help(ctx, actor, make_app) -> None:
    seed(ctx, actor)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("0")
        await settle(pilot)
        assert type(app.screen).__name__ == "WebhooksScreen"
        assert "Webhooks" in screen_text(app)
        await pilot.press("f1")
        await settle(pilot)
        pages = app.screen.query_one("#help-pages")
        app.screen.query_one("#help VerticalScroll").scroll_to_widget(
            pages, animate=False, top=True
        )
        await settle(pilot)
        assert "Webhook targets: add, test, remove" in screen_text(app)


async def test_a_webhook_delivery_shows_its_json_body_with_secrets_masked(
    ctx, actor, make_app
) -> None:
    seed(ctx, actor)
    enable(ctx, actor, "acme", "notify_user_registration")
    with ctx.session() as session:
        acme = get_tenant(session=session, slug="acme")
        make_webhook(session, ctx.box, acme, "http://127.0.0.1:9/hook", events=["USER_CREATION"])
    password = "Wh-N3wUser-Pa55"
    ids = emit_for(ctx, "acme", "USER_CREATION", password=password)
    app = make_app(tenant_slug="acme", start="deliveries")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#deliveries", DataTable)
        (webhook_row,) = [row for row in rows(table) if row[6] == "webhook"]
        assert int(webhook_row[0]) in ids
        table.move_cursor(row=table.get_row_index(webhook_row[0]))
        await pilot.press("enter")
        await settle(pilot)
        shown = str(app.screen.query_one("#delivery-message", Static).render())
        assert '"event": "USER_CREATION"' in shown and '"tenant": "acme"' in shown
        assert password not in shown and "••••••" in shown
