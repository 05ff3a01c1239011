"""The email-account health check (`email_account:ID`) reads what the syncs recorded: stopped after
a refused login → critical, 3 failures in a row → warning, synced → ok, never synced → unknown;
only accounts with an IMAP host, only the scope's tenant; two agreeing passes make the state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from core.context import Context
from core.health.checks.accounts import check
from core.health.runner import CheckScope
from core.health.store import list_health, record_results
from core.models.mail import EmailAccount, EmailAccountCreate
from core.models.tenancy import Tenant
from core.services.accounts import create_email_account
from core.services.audit import Actor
from core.vocabulary import HealthKind, HealthState
from tests.support.factories import make_mail_server, make_tenant

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def add(session: Session, ctx: Context, tenant: Tenant, email: str, **state: Any) -> int:
    """An account of `tenant` with an IMAP host, its sync columns set to `state`."""
    server = make_mail_server(session, ctx.box, tenant, name=f"out-{email}")
    fields = {"email": email, "display_name": email, "mail_server_id": server.id}
    if state.pop("imap", True):
        fields |= {"imap_host": "imap.example.org", "imap_password": "pw"}
    read = create_email_account(
        session=session,
        box=ctx.box,
        tenant=tenant,
        data=EmailAccountCreate.from_fields(fields),
        actor=Actor("test", "cli"),
    )
    account = session.get(EmailAccount, read.id)
    assert account is not None
    for name, value in state.items():
        setattr(account, name, value)
    session.add(account)
    session.commit()
    assert account.id is not None
    return account.id


async def test_each_state_with_its_reason_and_action(ctx: Context, actor: Actor) -> None:
    with ctx.session() as session:
        acme = make_tenant(session, actor=actor)
        ids = {
            "synced": add(session, ctx, acme, "ok@acme.org", last_sync_at=T0, imap_last_uid=7),
            "blip": add(
                session, ctx, acme, "blip@acme.org", last_sync_at=T0, imap_last_uid=7,
                sync_failures=2, last_sync_error="timeout: no answer",
            ),
            "failing": add(
                session, ctx, acme, "down@acme.org", last_sync_at=T0, imap_last_uid=7,
                sync_failures=3, sync_next_at=T0 + timedelta(minutes=20),
                last_sync_error="connection refused: nothing accepts IMAP connections",
            ),
            "stopped": add(
                session, ctx, acme, "locked@acme.org", last_sync_at=T0, sync_failures=1,
                sync_stopped_reason="authentication failed for 'locked' on imap.example.org",
                last_sync_error="authentication failed for 'locked' on imap.example.org",
            ),
            "new": add(session, ctx, acme, "new@acme.org"),
            "first_failed": add(
                session, ctx, acme, "first@acme.org", last_sync_at=T0, sync_failures=1,
                last_sync_error="host not found",
            ),
        }  # fmt: skip
        add(session, ctx, acme, "noimap@acme.org", imap=False)

    results = {r.detail["account_id"]: r for r in await check(ctx, CheckScope())}
    assert set(results) == set(ids.values())  # the account without IMAP host is no subject
    states = {name: results[i].state for name, i in ids.items()}
    assert states == {
        "synced": HealthState.OK,
        "blip": HealthState.OK,
        "failing": HealthState.WARNING,
        "stopped": HealthState.CRITICAL,
        "new": HealthState.UNKNOWN,
        "first_failed": HealthState.UNKNOWN,
    }
    stopped = results[ids["stopped"]]
    assert stopped.key == f"email_account:{ids['stopped']}"
    assert stopped.kind == HealthKind.EMAIL_ACCOUNT and stopped.subject == "locked@acme.org"
    assert stopped.tenant_id == acme.id
    assert stopped.reason.startswith("scheduled syncs stopped: authentication failed")
    assert "fix the credentials" in stopped.reason and '"sync now"' in stopped.reason
    assert set(stopped.detail) == {"account_id", "action"}
    assert f"mailbell accounts sync {ids['stopped']} --tenant acme" in stopped.detail["action"]
    assert "--imap-password -" in stopped.detail["action"]
    failing = results[ids["failing"]]
    assert failing.reason == (
        "3 syncs failed in a row: connection refused: nothing accepts IMAP connections; "
        "next try at 2026-12-01 09:20 UTC"
    )
    assert "retrying: timeout" in results[ids["blip"]].reason
    assert results[ids["synced"]].detail == {"account_id": ids["synced"], "action": "none"}
    assert "host not found" in results[ids["first_failed"]].reason


async def test_scope_limits_the_subjects_to_the_tenant_and_the_system_has_none(
    ctx: Context, actor: Actor
) -> None:
    with ctx.session() as session:
        acme = make_tenant(session, actor=actor)
        globex = make_tenant(session, slug="globex", actor=actor)
        mine = add(session, ctx, acme, "a@acme.org")
        theirs = add(session, ctx, globex, "g@globex.org", sync_stopped_reason="refused")
    everything = await check(ctx, CheckScope())
    assert {r.detail["account_id"] for r in everything} == {mine, theirs}
    only_acme = await check(ctx, CheckScope(tenant_id=acme.id))
    assert [r.detail["account_id"] for r in only_acme] == [mine]
    assert await check(ctx, CheckScope(system=True)) == []


async def test_two_agreeing_passes_make_a_stopped_account_critical(
    ctx: Context, actor: Actor
) -> None:
    with ctx.session() as session:
        acme = make_tenant(session, actor=actor)
        account_id = add(
            session, ctx, acme, "locked@acme.org", last_sync_at=T0,
            sync_stopped_reason="authentication failed for 'locked'",
        )  # fmt: skip
    for minutes in (0, 1):
        results = await check(ctx, CheckScope(tenant_id=acme.id))
        with ctx.session() as session:
            record_results(session, results, now=T0 + timedelta(minutes=minutes), remind_s=86400)
            session.commit()
    with ctx.session() as session:
        (read,) = list_health(session, tenant=acme)
    assert read.state == HealthState.CRITICAL
    assert read.subject == "locked@acme.org" and read.kind == HealthKind.EMAIL_ACCOUNT
    assert read.key == f"email_account:{account_id}" and read.tenant == "acme"
