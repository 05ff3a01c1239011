"""Emit reads configuration from memory, and a change committed anywhere is seen at once.

"Elsewhere" is a second context on the same database: its own engine and connections, as
another `mailbell` process would have.
"""

from __future__ import annotations

from collections.abc import Iterator
from email import policy
from email.parser import BytesParser

import pytest
from sqlalchemy import event as sa_event

from core.catalog import sample
from core.context import Context, build_context
from core.models.tenancy import NotificationSettingsUpdate
from core.pipeline.emit import emit, prepare_emit, write_emits
from core.services.notifications import update_notification_settings
from core.services.slack import add_routes, link_channel
from core.services.templates import create_custom_template
from core.services.tenants import get_tenant
from tests.support.factories import ACME_SERVER, emit_event, make_configured_tenant

EVENT = "QUEUE_CALL_LOST"
SERVER = {**ACME_SERVER, "password": "pw"}


@pytest.fixture
def other(settings) -> Iterator[Context]:
    """Another process's view of the same database."""
    context = build_context(settings)
    yield context
    context.close()


@pytest.fixture
def tenant(session, ctx, actor):
    return make_configured_tenant(session, ctx.box, server=SERVER, actor=actor)


def _emit(ctx: Context, slug: str = "acme"):
    with ctx.session() as session:
        return emit_event(session, ctx.box, get_tenant(session=session, slug=slug), EVENT)


def _change(context: Context, actor, **changes) -> None:
    with context.session() as session:
        update_notification_settings(
            session=session,
            box=context.box,
            tenant=get_tenant(session=session, slug="acme"),
            changes=NotificationSettingsUpdate.parse(changes, system=False),
            actor=actor,
        )


def _subject(ctx: Context, delivery) -> str:
    parsed = BytesParser(policy=policy.default).parsebytes(ctx.box.decrypt_bytes(delivery.content))
    return str(parsed["Subject"])


def _count_statements(ctx: Context) -> list[str]:
    seen: list[str] = []
    sa_event.listen(ctx.engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    return seen


def test_repeated_emits_read_configuration_once(ctx, tenant) -> None:
    _emit(ctx)
    statements = _count_statements(ctx)
    _emit(ctx)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    # The tenant lookup of the test and the generation check; no settings, server or template.
    assert len(selects) == 2, selects
    assert any("config_generation" in s for s in selects)


def test_toggle_and_recipients_changed_by_another_process_apply_to_the_next_emit(
    ctx, other, tenant, actor
) -> None:
    [first] = _emit(ctx).deliveries
    assert (first.status, first.target) == ("queued", "ops@acme.org")
    _change(other, actor, recipients="noc@acme.org,cto@acme.org")
    [second] = _emit(ctx).deliveries
    assert second.target == "noc@acme.org,cto@acme.org"
    _change(other, actor, notify_queue_call_lost=False)
    [third] = _emit(ctx).deliveries
    assert third.status == "suppressed"


def test_server_change_by_another_process_changes_the_sender(ctx, other, tenant, actor) -> None:
    assert _emit(ctx).deliveries[0].sender == "alerts@acme.org"
    _change(other, actor, mail_from="pbx@acme.org")
    assert _emit(ctx).deliveries[0].sender == "pbx@acme.org"


def test_custom_template_saved_elsewhere_is_used_next(ctx, other, tenant, actor) -> None:
    assert "Sales" in _subject(ctx, _emit(ctx).deliveries[0])
    with other.session() as session:
        create_custom_template(
            session=session,
            tenant=get_tenant(session=session, slug="acme"),
            name=EVENT,
            subject="Lost call in {{ queue_name }}!",
            body="<p>x</p>",
            actor=actor,
        )
    assert _subject(ctx, _emit(ctx).deliveries[0]) == "Lost call in Sales!"


def test_slack_route_added_elsewhere_is_mirrored_next(ctx, other, tenant, actor) -> None:
    assert [d.channel for d in _emit(ctx).deliveries] == ["email"]
    with other.session() as session:
        link = link_channel(
            session=session, team_id="T1", channel_id="C1", tenant_slug="acme", actor=actor
        )
        add_routes(session=session, link=link, names=["queue_call_lost"], actor=actor)
    assert [(d.channel, d.target) for d in _emit(ctx).deliveries] == [
        ("email", "ops@acme.org"),
        ("slack", "C1"),
    ]


def test_uncommitted_change_in_the_same_session_is_seen_and_not_cached(ctx, tenant, actor) -> None:
    _emit(ctx)  # warm the cache
    with ctx.session() as session:
        acme = get_tenant(session=session, slug="acme")
        from core.models.tenancy import NotificationSettings

        row = session.get(NotificationSettings, acme.id)
        row.recipients = ["late@acme.org"]
        session.add(row)
        session.flush()
        [delivery] = emit(
            session=session, box=ctx.box, tenant=acme, event=EVENT, data=sample(EVENT)
        ).deliveries
        assert delivery.target == "late@acme.org"
    assert _emit(ctx).deliveries[0].target == "late@acme.org"  # emit committed it


def test_rolled_back_change_leaves_the_cache_right(ctx, tenant, actor) -> None:
    _emit(ctx)
    with ctx.session() as session:
        from core.models.tenancy import NotificationSettings

        row = session.get(NotificationSettings, get_tenant(session=session, slug="acme").id)
        row.recipients = ["never@acme.org"]
        session.add(row)
        session.flush()
        session.rollback()
    assert _emit(ctx).deliveries[0].target == "ops@acme.org"


def test_events_sharing_a_transaction_check_the_generation_once(ctx, tenant) -> None:
    _emit(ctx)
    statements = _count_statements(ctx)
    with ctx.session() as session:
        acme = get_tenant(session=session, slug="acme")
        batch = [
            prepare_emit(session=session, box=ctx.box, tenant=acme, event=EVENT, data=sample(EVENT))
            for _ in range(3)
        ]
        write_emits(session, batch)  # type: ignore[arg-type]
        session.commit()
    assert sum("config_generation" in s for s in statements) == 1
    assert _emit(ctx).deliveries[0].status == "queued"
