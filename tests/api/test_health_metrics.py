"""`/metrics` counts the health subjects by kind and state (every pair, 0 included) and gives the
days left on each checked mail server's certificate, labelled by the server's id: no tenant
name, server name, host or address in the page."""

from __future__ import annotations

import re

from sqlmodel import Session

from core.context import Context
from core.metrics import health_gauges
from core.services.tenants import get_tenant
from core.vocabulary import HealthKind, HealthState
from tests.api.conftest import ApiClient
from tests.support.factories import make_mail_server
from tests.support.health import mail_server_key, put_certificate, put_state

SAMPLE = re.compile(r"^(\w+)\{([^}]*)\} (\S+)$")


def _samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found = {}
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match and match.group(1) == name:
            labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', match.group(2))))
            found[labels] = float(match.group(3))
    return found


def _state(kind: str, state: str) -> tuple[tuple[str, str], ...]:
    return (("kind", kind), ("state", state))


async def test_states_by_kind_and_certificate_days_by_server_id(
    api: ApiClient, session: Session, ctx: Context
) -> None:
    acme, globex = (
        get_tenant(session=session, slug="acme"),
        get_tenant(session=session, slug="globex"),
    )
    soon = make_mail_server(session, ctx.box, acme, name="Acme relay", host="relay.acme.example")
    gone = make_mail_server(session, ctx.box, globex, name="Globex MX", host="mx.globex.example")
    fine = make_mail_server(session, ctx.box, None, name="System relay", host="smtp.ops.example")
    plain = make_mail_server(session, ctx.box, acme, name="Acme plain", host="10.1.2.3")
    put_certificate(session, soon.id, acme.id, soon.name, 5)
    put_certificate(session, gone.id, globex.id, gone.name, -2)
    put_certificate(session, fine.id, None, fine.name, 40)
    put_state(session, mail_server_key(plain.id), HealthKind.MAIL_SERVER, acme.id, plain.name,
              HealthState.OK, detail={"server_id": plain.id})  # fmt: skip
    put_state(session, "email_account:1", HealthKind.EMAIL_ACCOUNT, globex.id,
              "support@globex.example", HealthState.CRITICAL, reason="login refused")  # fmt: skip
    put_state(session, "backlog:tenant:1", HealthKind.BACKLOG, acme.id, "queue",
              HealthState.WARNING)  # fmt: skip

    scraped = await api.get("/metrics", token=None)
    assert scraped.status == 200
    text = scraped.text

    states = _samples(text, "mailbell_health_state")
    assert len(states) == len(HealthKind) * len(HealthState)  # every pair, zeros included
    nonzero = {labels: n for labels, n in states.items() if n}
    assert nonzero == {
        _state("mail_server", "ok"): 2,
        _state("mail_server", "warning"): 1,
        _state("mail_server", "critical"): 1,
        _state("email_account", "critical"): 1,
        _state("backlog", "warning"): 1,
    }
    assert states[_state("slack", "unknown")] == 0
    assert "# TYPE mailbell_health_state gauge" in text

    days = _samples(text, "mailbell_certificate_expiry_days")
    assert days == {
        (("server", str(soon.id)),): 5,
        (("server", str(gone.id)),): -2,
        (("server", str(fine.id)),): 40,
    }
    for private in ("acme", "Acme", "globex", "Globex", "relay", "example", "10.1.2.3", "@"):
        assert private not in text, private


def test_no_subjects_counts_zero_everywhere_and_no_certificates(session: Session) -> None:
    gauges = health_gauges(session)
    assert set(gauges.by_kind_state) == {
        (k.value, s.value) for k in HealthKind for s in HealthState
    }
    assert set(gauges.by_kind_state.values()) == {0}
    assert gauges.certificate_days == {}


def test_a_server_subject_without_a_number_gives_no_certificate_sample(session: Session) -> None:
    """Only numbers become samples: a missing, textual or boolean detail is left out."""
    for n, days in enumerate(("soon", True, None), start=1):
        put_state(session, mail_server_key(n), HealthKind.MAIL_SERVER, None, f"s{n}",
                  HealthState.OK, detail={"certificate_days": days})  # fmt: skip
    put_state(session, mail_server_key(9), HealthKind.MAIL_SERVER, None, "s9", HealthState.OK,
              detail={"certificate_days": 3.5})  # fmt: skip
    gauges = health_gauges(session)
    assert gauges.certificate_days == {"9": 3.5}
    assert gauges.by_kind_state[("mail_server", "ok")] == 4
