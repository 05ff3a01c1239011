"""Health states from check results: two agreeing results change a state, worse states alert
once, lasting ones remind, cleared ones recover; muting silences notices, never the state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from core.errors import NotFound, ValidationError
from core.health.store import (
    CheckResult,
    history,
    list_health,
    prune_missing,
    record_results,
    worst,
)
from core.models.audit import AuditEntry
from core.models.health import HealthChange, HealthSubject
from core.models.tenancy import Tenant
from core.services.audit import Actor
from core.services.health import mute_subject, subject_detail
from core.vocabulary import HealthKind, HealthState

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
REMIND_S = 3600.0


def result(state: HealthState, *, key: str = "mail_server:1", tenant_id: int | None = None,
           reason: str = "") -> CheckResult:  # fmt: skip
    return CheckResult(key, HealthKind.MAIL_SERVER, tenant_id, "smtp.acme.example", state, reason)


def feed(session: Session, states: list[HealthState], *, start: datetime = T0,
         step: timedelta = timedelta(minutes=15), **kw: object) -> list[list[str]]:  # fmt: skip
    """Record one result per state, `step` apart; returns the notice kinds of each."""
    out = []
    for n, state in enumerate(states):
        notices = record_results(
            session,
            [result(state, **kw)],
            now=start + n * step,
            remind_s=REMIND_S,  # type: ignore[arg-type]
        )
        session.commit()
        out.append([notice.notice for notice in notices])
    return out


OK, WARN, CRIT = HealthState.OK, HealthState.WARNING, HealthState.CRITICAL


def state_of(session: Session, key: str = "mail_server:1") -> HealthState:
    row = session.exec(select(HealthSubject).where(HealthSubject.key == key)).one()
    return HealthState(row.state)


def test_a_new_subject_is_unknown_until_two_results_agree(session: Session) -> None:
    assert feed(session, [OK]) == [[]]
    assert state_of(session) == HealthState.UNKNOWN
    assert feed(session, [OK], start=T0 + timedelta(minutes=15)) == [[]]
    assert state_of(session) == OK
    assert [c.state for c in history(session, "mail_server:1")] == [OK]


def test_a_single_blip_changes_nothing_and_alerts_nobody(session: Session) -> None:
    notices = feed(session, [OK, OK, CRIT, OK, OK])
    assert notices == [[], [], [], [], []]
    assert state_of(session) == OK
    assert len(session.exec(select(HealthChange)).all()) == 1  # unknown → ok only


def test_an_outage_alerts_once_reminds_while_it_lasts_and_recovers_once(session: Session) -> None:
    # 15 min apart: the reminder falls due an hour after the alert
    notices = feed(session, [OK, OK, CRIT, CRIT, CRIT, CRIT, CRIT, CRIT, CRIT, OK, OK, OK])
    flat = [kind for kinds in notices for kind in kinds]
    assert flat == ["alert", "reminder", "recovery"]
    assert notices[3] == ["alert"]  # the second agreeing critical result
    assert notices[7] == ["reminder"]  # 60 min after the alert
    assert notices[10] == ["recovery"]
    assert [c.state for c in history(session, "mail_server:1")] == [OK, CRIT, OK]


def test_getting_worse_alerts_again_getting_better_but_not_ok_does_not(session: Session) -> None:
    notices = feed(session, [WARN, WARN, CRIT, CRIT, WARN, WARN], step=timedelta(minutes=1))
    assert notices == [[], ["alert"], [], ["alert"], [], []]
    alert = record_results(
        session, [result(CRIT, reason="down again")], now=T0 + timedelta(minutes=7)
    )
    assert alert == []  # first of two
    alert = record_results(
        session, [result(CRIT, reason="down again")], now=T0 + timedelta(minutes=8)
    )
    assert [(n.notice, n.state, n.reason) for n in alert] == [("alert", CRIT, "down again")]


def test_the_reason_follows_the_latest_result_while_the_state_holds(session: Session) -> None:
    feed(session, [CRIT, CRIT])
    record_results(
        session, [result(CRIT, reason="connection refused")], now=T0 + timedelta(hours=1)
    )
    row = session.exec(select(HealthSubject)).one()
    assert (row.state, row.reason) == (CRIT, "connection refused")


def test_muting_silences_notices_but_not_the_state(session: Session, actor: Actor) -> None:
    feed(session, [OK, OK])
    mute_subject(session=session, key="mail_server:1", hours=24, actor=actor)
    now = datetime.now(UTC)
    for minutes in (1, 2):
        assert record_results(session, [result(CRIT)], now=now + timedelta(minutes=minutes)) == []
    assert state_of(session) == CRIT
    after_mute = now + timedelta(hours=25)
    notices = record_results(session, [result(CRIT)], now=after_mute)
    assert [n.notice for n in notices] == ["alert"]  # told once the mute is over
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "health.mute")).one()
    assert entry.target == "mail_server:1"


def test_mute_hours_are_bounded_and_tenants_see_only_their_subjects(
    session: Session, actor: Actor, acme: Tenant, globex: Tenant
) -> None:
    feed(session, [CRIT, CRIT], key="mail_server:7", tenant_id=acme.id)
    with pytest.raises(ValidationError) as bad:
        mute_subject(session=session, key="mail_server:7", tenant=acme, hours=-1, actor=actor)
    assert bad.value.field == "hours"
    with pytest.raises(NotFound):
        mute_subject(session=session, key="mail_server:7", tenant=globex, hours=1, actor=actor)
    with pytest.raises(NotFound):
        subject_detail(session=session, key="mail_server:7", tenant=globex)
    read, changes = subject_detail(session=session, key="mail_server:7", tenant=acme)
    assert (read.tenant, read.state, [c.state for c in changes]) == ("acme", CRIT, [CRIT])
    assert session.exec(select(HealthSubject)).one().muted_until is None  # nothing changed


def test_listing_by_owner_and_forgetting_subjects_that_are_gone(
    session: Session, acme: Tenant, globex: Tenant
) -> None:
    for key, tenant_id in (("mail_server:1", None), ("mail_server:2", acme.id),
                           ("mail_server:3", globex.id), ("email_account:4", acme.id)):  # fmt: skip
        feed(session, [WARN, WARN], key=key, tenant_id=tenant_id)
    assert [r.key for r in list_health(session, system=True)] == ["mail_server:1"]
    assert {r.key for r in list_health(session, tenant=acme)} == {
        "mail_server:2",
        "email_account:4",
    }
    assert len(list_health(session)) == 4
    # a pass over acme's mail servers that no longer finds server 2 forgets it, and only it
    assert prune_missing(session, seen=set(), prefixes=("mail_server:",), tenant_id=acme.id) == 1
    session.commit()
    assert {r.key for r in list_health(session)} == {
        "mail_server:1",
        "mail_server:3",
        "email_account:4",
    }
    assert worst(list_health(session)) == WARN
    assert worst([]) == OK
