"""The management API walked end to end with one system token, as an operator would: a new
tenant, two servers (one tested unsaved, the other made default), an IMAP account synced
against Dovecot, an event and its delivery retried, the audit's before/after values, and the
tenant exported with its secrets and imported over HTTP into a fresh database, which then holds
the same settings and secrets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from core.context import Context
from tests.api.conftest import QUEUE_CALL_LOST, ApiClient, Tokens, root_token, served
from tests.support.dovecot import Mailbox, dovecot, dovecot_server, imap_mailbox  # noqa: F401
from tests.support.resend import drain
from tests.support.settings_copy import other_context, other_home, owner_view  # noqa: F401
from tests.support.smtp_servers import FaultHandler, SmtpTestServer

PASSPHRASE = {"X-Mailbell-Passphrase": "a long enough passphrase"}
SMTP_PASSWORD = "smtp-secret-1"


@pytest.fixture
async def fresh_api(other_home: Any) -> AsyncIterator[tuple[ApiClient, Context]]:  # noqa: F811
    """The API of a second, empty database, with its own system token."""
    fresh = other_context(other_home)
    root = root_token(fresh)
    try:
        async with served(fresh, Tokens(acme="", globex="", system=root)) as api:
            yield api, fresh
    finally:
        fresh.close()


def _server(smtp: SmtpTestServer, name: str, **extra: Any) -> dict[str, Any]:
    fields = {"name": name, "host": smtp.host, "port": smtp.port, "security": "none"}
    return {**fields, "auth": "DISABLE", "mail_from": "pbx@initech.example", **extra}


def _secrets(ctx: Context) -> dict[str, str | None]:
    from sqlmodel import select

    from core.models.mail import EmailAccount, MailServer

    with ctx.session() as session:
        server = session.exec(select(MailServer).where(MailServer.name == "Relay")).one()
        account = session.exec(select(EmailAccount)).one()
        return {
            "password": ctx.box.decrypt(server.password_enc or ""),
            "imap_password": ctx.box.decrypt(account.imap_password_enc or ""),
        }


async def test_an_operator_sets_up_a_tenant_and_copies_it(
    api: ApiClient,
    ctx: Context,
    smtp_servers: Callable[..., SmtpTestServer],
    imap_mailbox: Mailbox,  # noqa: F811
    fresh_api: tuple[ApiClient, Context],
) -> None:
    root = root_token(ctx)
    on = "?tenant=initech"
    made = await api.post("/api/v1/tenants", {"slug": "initech", "name": "Initech"}, token=root)
    assert made.status == 201, made.body

    # Two servers: the sink tested with unsaved settings first (nothing saved), then both added.
    sink = smtp_servers()
    relay = smtp_servers(
        auth=True,
        users={"relay-user": SMTP_PASSWORD},
        handler=FaultHandler(data="554 5.7.1 refused by policy", times=1),
    )
    draft = await api.post(f"/api/v1/mail-servers/test{on}", _server(sink, "Sink"), token=root)
    assert draft.status == 200 and draft.body["ok"] is True, draft.body
    assert (await api.get(f"/api/v1/mail-servers{on}", token=root)).body["items"] == []
    first = await api.post(f"/api/v1/mail-servers{on}", _server(sink, "Sink"), token=root)
    relay_fields = _server(relay, "Relay", auth="PLAIN", username="relay-user")
    second = await api.post(
        f"/api/v1/mail-servers{on}", {**relay_fields, "password": SMTP_PASSWORD}, token=root
    )
    assert first.status == second.status == 201, (first.body, second.body)
    assert first.body["default"] is True and SMTP_PASSWORD not in second.text
    made_default = await api.post(
        f"/api/v1/mail-servers/{second.body['id']}/default{on}", token=root
    )
    assert made_default.status == 200 and made_default.body["default"] is True

    # An IMAP account on the default server, synced against Dovecot.
    imap_mailbox.append(b"From: a@example.org\r\nSubject: hello\r\n\r\nHi.\r\n")
    account = await api.post(
        f"/api/v1/email-accounts{on}",
        {
            "email": imap_mailbox.address,
            "display_name": "Support",
            "mail_server_id": second.body["id"],
            "imap_host": imap_mailbox.server.host,
            "imap_port": imap_mailbox.server.plain_port,
            "imap_username": imap_mailbox.user,
            "imap_password": imap_mailbox.password,
            "imap_tls": False,
        },
        token=root,
    )
    assert account.status == 201, account.body
    synced = await api.post(f"/api/v1/email-accounts/{account.body['id']}/sync{on}", token=root)
    assert synced.body["ok"] is True and synced.body["fetched"] == 1, synced.body

    # An event; the relay refuses its first message for good, so the delivery fails.
    settings = {"recipients": "ops@initech.example", "notify_queue_call_lost": True}
    assert (await api.post(f"/api/tenant/notification{on}", settings, token=root)).status == 200
    emitted = await api.post(
        f"/api/events{on}", {"event": "QUEUE_CALL_LOST", "data": QUEUE_CALL_LOST}, token=root
    )
    assert emitted.status == 202, emitted.body
    [delivery] = emitted.body["deliveries"]
    await drain(ctx)
    path = f"/api/v1/deliveries/{delivery['id']}"
    retry = f"{path}/retry{on}"
    failed = await api.get(path + on, token=root)
    assert failed.body["status"] == "failed", failed.body
    assert set(failed.body["recipients"]) == {"ops@initech.example"}
    assert [a["outcome"] for a in failed.body["history"]] == ["failed"]

    # Retried, the second attempt is sent; the delivery shows both attempts.
    retried = await api.post(retry, token=root)
    assert retried.status == 200 and retried.body["status"] == "queued", retried.body
    await drain(ctx)
    sent = await api.get(path + on, token=root)
    assert sent.body["status"] == "sent"
    assert [a["outcome"] for a in sent.body["history"]] == ["failed", "sent"]
    assert len(relay.messages) == 1 and sink.messages == []

    # The audit shows what changed from what; the password only that it changed.
    renamed = await api.request(
        "PATCH", f"/api/v1/mail-servers/{second.body['id']}{on}",
        json_body={"timeout": 9, "password": SMTP_PASSWORD}, token=root,
    )  # fmt: skip
    assert renamed.status == 200, renamed.body
    audit = await api.get("/api/v1/audit?tenant=initech&limit=100", token=root)
    changes = [entry["changes"] for entry in audit.body["items"] if entry["changes"]]
    assert any(c.get("timeout", {}).get("before") not in (None, 9) for c in changes), changes
    assert any(c.get("timeout", {}).get("after") == 9 for c in changes)
    assert any(c.get("password") == {"before": "changed", "after": "changed"} for c in changes)
    assert SMTP_PASSWORD not in audit.text and imap_mailbox.password not in audit.text

    # Export with the secrets sealed under a passphrase; import into the fresh database.
    exported = await api.get(f"/api/v1/export{on}", token=root, headers=PASSPHRASE)
    assert exported.status == 200 and SMTP_PASSWORD not in exported.text
    target, fresh = fresh_api
    imported = await target.post(
        "/api/v1/import", exported.body, token="system", headers=PASSPHRASE
    )
    assert imported.status == 200 and imported.body["created"] > 0, imported.body
    assert owner_view(fresh, "initech") == owner_view(ctx, "initech")
    assert _secrets(fresh) == {"password": SMTP_PASSWORD, "imap_password": imap_mailbox.password}
    again = await target.post("/api/v1/import", exported.body, token="system", headers=PASSPHRASE)
    assert again.body["created"] == again.body["updated"] == 0
