"""`mailbell health [check] [--tenant SLUG | --system] [--json]`: every subject with its glyph,
state, reason and since-when; exit 0 only when every state is ok; scoped by owner; refused flag
combinations are usage errors; `health check` runs the real checks (one result per run), and a
check that fails is one line on stderr; the demo's data shows a warning."""

from __future__ import annotations

import json

import pytest

from core.vocabulary import HealthKind, HealthState
from tests.support.factories import make_mail_server, make_tenant
from tests.support.health import mail_server_key, put_state

WIRE = {"kind", "tenant", "subject", "state", "reason", "since"}


@pytest.fixture
def watched(session, ctx, actor):
    """acme's server down, globex's fine, the system's database fine."""
    acme = make_tenant(session, actor=actor)
    globex = make_tenant(session, slug="globex", actor=actor)
    down = make_mail_server(session, ctx.box, acme, name="Acme relay", host="relay.acme.example")
    up = make_mail_server(session, ctx.box, globex, name="Globex relay")
    refused = "connect: connection refused (is the port right?)"
    put_state(session, mail_server_key(down.id), HealthKind.MAIL_SERVER, acme.id, down.name,
              HealthState.CRITICAL, reason=refused)  # fmt: skip
    put_state(session, mail_server_key(up.id), HealthKind.MAIL_SERVER, globex.id, up.name,
              HealthState.OK)  # fmt: skip
    put_state(session, "service:database", HealthKind.SERVICE, None, "database", HealthState.OK)
    return acme, globex


def test_every_subject_with_glyph_state_and_reason_exit_1_when_one_is_not_ok(cli, watched) -> None:
    shown = cli("health")
    assert shown.code == 1, shown.err
    lines = shown.out.splitlines()
    assert lines[0].split() == ["STATE", "KIND", "TENANT", "SUBJECT", "SINCE", "REASON"]
    rows = {line.split("  ")[0].strip(): line for line in lines[1:4]}
    assert set(rows) == {"✓ ok", "✗ critical"} and len(lines) == 5
    critical = next(line for line in lines if line.startswith("✗ critical"))
    assert "mail_server" in critical and "acme" in critical and "Acme relay" in critical
    assert "connect: connection refused" in critical
    assert lines[1].split()[2:4] == ["service", "system"]  # the system's subjects come first
    assert lines[-1] == "3 subjects: 1 critical, 2 ok"


def test_json_rows_are_the_contract_s_six_fields(cli, watched) -> None:
    shown = cli("health", "--json")
    assert shown.code == 1
    rows = json.loads(shown.out)
    assert all(set(row) == WIRE for row in rows)
    assert [(r["kind"], r["tenant"], r["subject"], r["state"]) for r in rows] == [
        ("service", None, "database", "ok"),
        ("mail_server", "acme", "Acme relay", "critical"),
        ("mail_server", "globex", "Globex relay", "ok"),
    ]
    assert rows[1]["reason"].startswith("connect: connection refused")
    assert rows[1]["since"][:4].isdigit() and "T" in rows[1]["since"]


def test_scoped_to_one_tenant_or_to_the_system(cli, watched) -> None:
    globex = cli("health", "--tenant", "globex", "--json")
    assert globex.code == 0, "every state of globex is ok"
    assert [(r["tenant"], r["subject"]) for r in json.loads(globex.out)] == [
        ("globex", "Globex relay")
    ]
    acme = cli("health", "--tenant", "acme")
    assert acme.code == 1 and "Globex" not in acme.out and "database" not in acme.out
    system = cli("health", "--system", "--json")
    assert system.code == 0
    assert [r["subject"] for r in json.loads(system.out)] == ["database"]


def test_unknown_is_not_ok_and_nothing_watched_is(cli, session, actor) -> None:
    assert cli("health").code == 0  # nothing watched yet: nothing is wrong
    assert "no health subjects yet" in cli("health").out
    assert json.loads(cli("health", "--json").out) == []
    from core.health.store import CheckResult, record_results

    # one result alone does not make a state: the new subject stays unknown
    record_results(session, [CheckResult("service:keys", HealthKind.SERVICE, None, "key ring",
                                         HealthState.OK)])  # fmt: skip
    session.commit()
    shown = cli("health", "--system")
    assert shown.code == 1 and "? unknown" in shown.out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("health", "--tenant", "acme", "--system"), 2, "at most one of --tenant SLUG or --system"),
        (("health", "check", "--tenant", "acme", "--system"), 2, "at most one of --tenant"),
        (("health", "--json", "check"), 2, "give the options after `health check`"),
        (("health", "--tenant", "nope"), 1, "tenant 'nope' does not exist"),
        (("health", "check", "--tenant", "nope"), 1, "tenant 'nope' does not exist"),
        (("health", "--verbose"), 2, "No such option"),
    ],
)
def test_refused_flags(cli, watched, args, code, message) -> None:
    refused = cli(*args)
    assert refused.code == code
    assert message in refused.err and "Traceback" not in refused.err
    assert refused.out == ""


def test_health_check_is_one_result_per_run(cli, session, ctx, actor, smtp_server) -> None:
    """Against a real SMTP server: the first run leaves the new subject unknown (exit 1), the
    second agrees (ok, exit 0); once the server is stopped, two runs make it critical."""
    acme = make_tenant(session, actor=actor)
    make_mail_server(session, ctx.box, acme, smtp=smtp_server, name="Main")
    key_row = ("mail_server", "acme", "Main")

    def states() -> tuple[int, dict[tuple[str, str, str], str]]:
        ran = cli("health", "check", "--tenant", "acme", "--json")
        rows = json.loads(ran.out)
        assert all(row["tenant"] == "acme" for row in rows)
        return ran.code, {(r["kind"], r["tenant"], r["subject"]): r["state"] for r in rows}

    code, first = states()
    assert code == 1 and first[key_row] == "unknown"
    code, second = states()
    assert second[key_row] == "ok"
    assert code == (0 if set(second.values()) == {"ok"} else 1)

    smtp_server.stop()
    code, blip = states()
    assert blip[key_row] == "ok"  # one failed result is not yet a state
    code, down = states()
    assert code == 1 and down[key_row] == "critical"
    assert cli("health", "--tenant", "acme").code == 1


def test_the_demo_shows_a_warning(cli, ctx) -> None:
    """`mailbell demo`'s data: the capture server's three bounces in a row are a warning."""
    from mailbell.commands.demo import seed

    seed(ctx, 2525)  # nothing connects to the capture server while seeding
    shown = cli("health", "--json")
    assert shown.code == 1
    rows = {(r["kind"], r["tenant"], r["subject"]): r for r in json.loads(shown.out)}
    warning = rows[("mail_server", None, "Demo capture server deliveries")]
    assert warning["state"] == "warning"
    assert warning["reason"].startswith("3 deliveries in a row failed for good")
    assert rows[("mail_server", None, "Demo capture server")]["state"] == "ok"
    assert rows[("mail_server", "globex", "Globex relay")]["state"] == "ok"


def test_a_check_that_fails_is_one_line_not_a_traceback(cli, watched, monkeypatch) -> None:
    """A check whose module does not load fails alone: the others' subjects and the stored
    states are still listed, and stderr says so in one line."""
    from core.health import runner

    monkeypatch.setattr(runner, "CHECKS", (runner.Check("no_such_check", ("nothing:",)),))
    ran = cli("health", "check", "--tenant", "globex")
    assert ran.code == 0, ran.err  # globex's stored state is ok and stays so
    assert ran.err.splitlines() == [
        "warning: health check no_such_check failed (ModuleNotFoundError)"
    ]
    assert "Globex relay" in ran.out
