"""Payload data can never choose the sender. Real CLI, real `mailbell serve`, a
real aiosmtpd capture server.

- The spoofing case: a tenant template `from` of `{{ caller }} <pbx@acme.example>` and a caller
  of `"evil@evil.example" <evil@evil.example>, Bob` could give two From mailboxes and
  `MAIL FROM:<evil@evil.example>`; it must give one mailbox, the name quoted, MAIL FROM the
  literal.
- `reply_to` / `mail_from` given an address list: 400 (API) and exit 1 (CLI), nothing changed.
- A From that is not one mailbox (a server row written before the rule) fails the delivery.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from core.catalog import sample
from core.context import Context
from core.models.mail import MailServer
from core.services.audit import Actor
from core.services.tenants import get_tenant
from core.services.tokens import create_token
from tests.api.serve_process import ServeProcess
from tests.cli_fixtures import Result
from tests.support.factories import configure_tenant, make_mail_server, make_tenant
from tests.support.smtp_servers import SmtpTestServer

EVIL_CALLER = '"evil@evil.example" <evil@evil.example>, Bob'
INJECTED_FROM = "{{ caller }} <pbx@acme.example>"
SERVER_FROM = "Acme alerts <alerts@acme.example>"
Cli = Callable[..., Result]


@pytest.fixture
def acme(session: Session, ctx: Context, smtp_server: SmtpTestServer) -> int:
    """Tenant acme with a mail server on the capture server and QUEUE_CALL_LOST on; its id."""
    tenant = make_tenant(session, name="Acme Corp")
    server = make_mail_server(
        session, ctx.box, tenant, smtp=smtp_server, name="capture", mail_from=SERVER_FROM
    )
    configure_tenant(session, ctx.box, tenant, recipients=("ops@acme.example",))
    assert server.id is not None
    return server.id


def _emit(cli: Cli, **changes: Any) -> dict[str, Any]:
    data = json.dumps({**sample("QUEUE_CALL_LOST"), **changes})
    emitted = cli("emit", "QUEUE_CALL_LOST", "--tenant", "acme", "--data", data, "--json")
    assert emitted.code == 0, emitted.err
    [row] = json.loads(emitted.out)
    assert isinstance(row, dict)
    return row


def test_payload_in_the_display_name_cannot_add_a_mailbox_or_set_mail_from(
    cli: Cli, acme: int, smtp_server: SmtpTestServer
) -> None:
    saved = cli("template", "set", "QUEUE_CALL_LOST", "--tenant", "acme", "--from", INJECTED_FROM)
    assert saved.code == 0, saved.err
    assert _emit(cli, caller=EVIL_CALLER)["status"] == "queued"
    worker = cli("worker", "--once")
    assert worker.code == 0 and "1 sent" in worker.out, worker.out + worker.err
    [received] = smtp_server.messages
    assert received.mail_from == "pbx@acme.example"
    message = BytesParser(policy=default_policy).parsebytes(received.data)
    assert len(message.get_all("From") or []) == 1
    header = message["From"]
    assert not header.defects
    assert [(a.display_name, a.addr_spec) for a in header.addresses] == [
        (EVIL_CALLER, "pbx@acme.example")
    ]
    raw_from = next(
        line for line in received.data.split(b"\r\n") if line.lower().startswith(b"from:")
    )
    assert raw_from.startswith(b'From: "')  # the display name went out quoted
    assert received.rcpt_tos == ["ops@acme.example"]


def test_a_display_name_only_from_sends_from_the_server_address(
    cli: Cli, acme: int, smtp_server: SmtpTestServer
) -> None:
    saved = cli("template", "set", "QUEUE_CALL_LOST", "--tenant", "acme", "--from", "{{ caller }}")
    assert saved.code == 0, saved.err
    _emit(cli, caller="x@evil.example, y@evil.example")
    assert cli("worker", "--once").code == 0
    [received] = smtp_server.messages
    assert received.mail_from == "alerts@acme.example"
    header = BytesParser(policy=default_policy).parsebytes(received.data)["From"]
    assert [(a.display_name, a.addr_spec) for a in header.addresses] == [
        ("x@evil.example, y@evil.example", "alerts@acme.example")
    ]


def test_a_template_address_with_template_syntax_is_refused_at_save(
    cli: Cli, acme: int, db_dump: Callable[[], str]
) -> None:
    before = db_dump()
    for source in ("{{ caller }}@acme.example", "PBX <{{ caller }}>"):
        refused = cli("template", "set", "QUEUE_CALL_LOST", "--tenant", "acme", "--from", source)
        assert refused.code == 1, refused.out
        assert refused.err.startswith("error: from: ") and "literal" in refused.err
        assert "Traceback" not in refused.err
    assert db_dump() == before


@pytest.mark.parametrize("value", ["a@x.org, b@y.org", "a@x.org;b@y.org"])
@pytest.mark.parametrize("field", ["reply_to", "mail_from"])
def test_cli_refuses_an_address_list(
    cli: Cli, acme: int, db_dump: Callable[[], str], field: str, value: str
) -> None:
    before = db_dump()
    by_settings = cli("settings", "set", "--tenant", "acme", f"{field}={value}")
    option = "--reply-to" if field == "reply_to" else "--from"
    by_server = cli("server", "edit", str(acme), "--tenant", "acme", option, value)
    for refused in (by_settings, by_server):
        assert refused.code == 1, refused.out
        assert refused.err.startswith(f"error: {field}: ") and "exactly one mailbox" in refused.err
    assert db_dump() == before


def _request(serve: ServeProcess, method: str, path: str, token: str, body: Any) -> tuple[int, Any]:
    request = urllib.request.Request(
        serve.url + path,
        method=method,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@pytest.fixture
def serve(
    acme: int, ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[ServeProcess, str]]:
    """`mailbell serve` and a tenant token of acme (whose server is on 127.0.0.1)."""
    monkeypatch.setenv("MAILBELL_TENANT_SMTP_NETWORKS", "127.0.0.0/8,::1/128")
    with ctx.session() as session:
        tenant = get_tenant(session=session, slug="acme")
        token = create_token(
            session=session, tenant=tenant, name="acme-ci", actor=Actor(name="t", source="cli")
        ).plaintext
    with ServeProcess("--no-worker", log_path=tmp_path / "serve.log") as process:
        yield process, token


def test_api_refuses_address_lists_and_non_literal_from_addresses(
    serve: tuple[ServeProcess, str], db_dump: Callable[[], str], ctx: Context
) -> None:
    process, token = serve
    # A first request of the token records its use: snapshot the state after it.
    assert _request(process, "GET", "/api/tenant/notification", token, None)[0] == 200
    before = db_dump()
    for field, value in (
        ("reply_to", "a@x.org, b@y.org"),
        ("reply_to", "a@x.org;b@y.org"),
        ("mail_from", "Ops <a@x.org>, b@y.org"),
    ):
        status, body = _request(process, "POST", "/api/tenant/notification", token, {field: value})
        assert status == 400, body
        assert body["field"] == field and "exactly one mailbox" in body["error"], body
    for source in ("{{ caller }}@acme.example", "PBX <{{ caller }}>"):
        status, body = _request(
            process,
            "POST",
            "/api/custom_email_templates",
            token,
            {"name": "QUEUE_CALL_LOST", "from": source},
        )
        assert status == 400, body
        assert body["field"] == "from" and "literal" in body["error"], body
    assert db_dump() == before
    assert "Traceback" not in process.logs
    with ctx.session() as session:
        server = session.exec(select(MailServer)).one()
        assert server.reply_to is None and server.mail_from == SERVER_FROM
    # The spoofing case's template itself is accepted: its address is literal.
    status, body = _request(
        process,
        "POST",
        "/api/custom_email_templates",
        token,
        {"name": "QUEUE_CALL_LOST", "from": INJECTED_FROM},
    )
    assert status == 200, body


def test_a_from_of_two_mailboxes_fails_the_delivery_with_a_reason(
    cli: Cli, acme: int, ctx: Context, smtp_server: SmtpTestServer
) -> None:
    # A row written before the one-mailbox rule (the old rule cut lists only on the way in).
    with ctx.session() as session:
        server = session.get(MailServer, acme)
        assert server is not None
        server.mail_from = "a@acme.example, evil@evil.example"
        session.add(server)
        session.commit()
    row = _emit(cli)
    assert row["status"] == "failed"
    assert "From has 2 mailboxes" in row["last_error"]
    assert cli("worker", "--once").code == 0
    assert smtp_server.messages == []
    listed = json.loads(cli("deliveries", "list", "--tenant", "acme", "--json").out)
    assert [(d["status"], d["last_error"]) for d in listed] == [("failed", row["last_error"])]
