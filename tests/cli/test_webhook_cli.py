"""`mailbell webhook add|list|remove|test` against a real receiver that checks the signature, and
one event through the real worker to it, shown in `mailbell deliveries list|show`."""

from __future__ import annotations

import io
import json

import pytest

from core.catalog import sample
from core.services.audit import list_entries
from tests.support.factories import configure_tenant, make_tenant
from tests.support.receiver_thread import webhook_receiver

SECRET = "s3cret-for-the-receiver"


@pytest.fixture
def acme_slug(session, ctx, actor) -> str:
    """Tenant acme with QUEUE_CALL_LOST on (no mail server: email deliveries fail at once)."""
    configure_tenant(session, ctx.box, make_tenant(session, actor=actor), actor=actor)
    return "acme"


def _add(cli, monkeypatch, url: str, *extra: str, secret: str | None = SECRET) -> int:
    args = ["webhook", "add", "--tenant", "acme", "--url", url, *extra]
    if secret is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(secret + "\n"))
        args += ["--secret", "-"]
    result = cli(*args)
    assert result.code == 0, result.err
    return int(result.out.strip())


def test_add_list_remove_and_the_secret_is_never_shown(cli, monkeypatch, acme_slug, ctx) -> None:
    first = _add(cli, monkeypatch, "https://hooks.example.org/a", "--events", "queue_call_lost")
    second = _add(cli, monkeypatch, "https://hooks.example.org/b", secret=None)
    assert second > first

    listed = cli("webhook", "list", "--tenant", "acme", "--json")
    assert listed.code == 0 and SECRET not in listed.out
    rows = json.loads(listed.out)
    assert [(r["id"], r["url"], r["events"], r["has_secret"]) for r in rows] == [
        (first, "https://hooks.example.org/a", ["QUEUE_CALL_LOST"], True),
        (second, "https://hooks.example.org/b", [], False),
    ]
    table = cli("webhook", "list", "--tenant", "acme")
    assert table.out.splitlines()[0].split()[:3] == ["ID", "URL", "EVENTS"]
    assert "all" in table.out.splitlines()[2] and SECRET not in table.out
    assert cli("webhook", "list", "--system", "--json").out.strip() == "[]"

    removed = cli("webhook", "remove", str(first))
    assert removed.code == 0 and f"webhook {first} removed" in removed.out
    assert [
        r["id"] for r in json.loads(cli("webhook", "list", "--tenant", "acme", "--json").out)
    ] == [second]
    with ctx.session() as session:
        actions = [(e.action, e.source) for e in list_entries(session=session, tenant="acme")]
    assert ("webhook.create", "cli") in actions and ("webhook.delete", "cli") in actions


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--url", "ftp://hooks.example.org/"], "url"),
        (["--url", "https://user:pw@hooks.example.org/"], "url"),
        (["--url", "https://hooks.example.org/", "--events", "NO_SUCH_EVENT"], "events"),
        (["--url", "https://hooks.example.org/", "--events", "DISK_LOW"], "events"),
    ],
)
def test_add_refusals_exit_1_naming_the_field(cli, acme_slug, db_dump, args, field) -> None:
    before = db_dump()
    result = cli("webhook", "add", "--tenant", "acme", *args)
    assert result.code == 1 and result.out == ""
    [line] = result.err.splitlines()
    assert line.startswith(f"error: {field}:")
    assert db_dump() == before


@pytest.mark.parametrize("owner", [[], ["--tenant", "acme", "--system"]])
def test_add_needs_exactly_one_owner(cli, acme_slug, owner) -> None:
    result = cli("webhook", "add", *owner, "--url", "https://hooks.example.org/")
    assert result.code == 2 and "--tenant SLUG or --system" in result.err


def test_remove_and_test_refuse_unknown_and_other_owners_ids(
    cli, monkeypatch, acme_slug, session, actor
) -> None:
    make_tenant(session, slug="globex", actor=actor)
    hook = _add(cli, monkeypatch, "https://hooks.example.org/a")
    for command in ("remove", "test"):
        for ident in ("999", "2147483648", "9" * 19):  # past a 32-bit id column too
            unknown = cli("webhook", command, ident)
            assert unknown.code == 1 and f"webhook {ident} does not exist" in unknown.err
        foreign = cli("webhook", command, str(hook), "--tenant", "globex")
        assert foreign.code == 1 and "does not exist" in foreign.err
    assert len(json.loads(cli("webhook", "list", "--tenant", "acme", "--json").out)) == 1


def test_test_posts_a_signed_sample_and_exits_by_the_answer(cli, monkeypatch, acme_slug) -> None:
    with webhook_receiver(SECRET, answers=[200, 410]) as receiver:
        hook = _add(cli, monkeypatch, receiver.url)
        ok = cli("webhook", "test", str(hook))
        assert ok.code == 0, ok.err
        assert ok.out.startswith(f"ok: webhook {hook} answered 200")
        refused = cli("webhook", "test", str(hook))
        [got_ok, got_refused] = receiver.wait_for(2)
    assert refused.code == 1 and "410" in refused.err
    assert got_ok.verified and got_refused.verified
    body = got_ok.json
    assert set(body) == {"event", "tenant", "data", "delivery_id", "occurred_at"}
    assert body["tenant"] == "acme" and body["delivery_id"] is None


def test_an_event_reaches_the_receiver_through_the_worker_and_the_delivery_log(
    cli, monkeypatch, acme_slug
) -> None:
    with webhook_receiver(SECRET) as receiver:
        hook = _add(cli, monkeypatch, receiver.url, "--events", "QUEUE_CALL_LOST")
        data = json.dumps(sample("QUEUE_CALL_LOST"))
        emitted = cli("emit", "QUEUE_CALL_LOST", "--tenant", "acme", "--data", data, "--json")
        assert emitted.code == 0, emitted.err
        rows = json.loads(emitted.out)
        [webhook_row] = [r for r in rows if r["channel"] == "webhook"]
        worker = cli("worker", "--once")
        assert worker.code == 0, worker.err
        [post] = receiver.wait_for(1)
    assert post.verified is True
    body = post.json
    assert body["event"] == "QUEUE_CALL_LOST" and body["tenant"] == "acme"
    assert body["delivery_id"] == webhook_row["id"]
    assert body["data"] == json.loads(data)

    log = json.loads(cli("deliveries", "list", "--tenant", "acme", "--json").out)
    [row] = [r for r in log if r["id"] == webhook_row["id"]]
    assert row["channel"] == "webhook" and row["status"] == "sent"
    assert str(hook) in row["target"] or receiver.url in row["target"]
    table = cli("deliveries", "list", "--tenant", "acme").out
    assert any(line.split()[0] == str(row["id"]) for line in table.splitlines()[1:])
    shown = json.loads(cli("deliveries", "show", str(row["id"]), "--json").out)
    assert shown["channel"] == "webhook" and shown["status"] == "sent"
    assert [a["outcome"] for a in shown["attempts"]] == ["sent"]
