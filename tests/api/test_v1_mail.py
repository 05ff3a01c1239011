"""`/api/v1/mail-servers` and `/api/v1/email-accounts`: one flow per resource, through the real
app on a socket, the real SMTP test servers, the local OAuth token endpoint and a real Dovecot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from core.context import Context
from core.mail.presets import preset_for
from core.models.audit import AuditEntry
from core.models.mail import MailServer
from core.services.tenants import get_tenant
from tests.api.conftest import ApiClient
from tests.support.dovecot import Mailbox, dovecot, dovecot_server, imap_mailbox  # noqa: F401
from tests.support.fixtures import oauth_env, token_endpoint  # noqa: F401
from tests.support.smtp_servers import SmtpTestServer
from tests.support.token_endpoint import TokenEndpoint
from tests.support.tokens import make_token

SERVERS = "/api/v1/mail-servers"
ACCOUNTS = "/api/v1/email-accounts"


def _plain(smtp: SmtpTestServer, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "host": smtp.host,
        "port": smtp.port,
        "security": "none",
        "auth": "DISABLE",
        "mail_from": "pbx@acme.example",
        "timeout": 5,
    }


def _read_only_token(ctx: Context) -> str:
    with ctx.session() as session:
        return make_token(session, get_tenant(session=session, slug="acme"), scopes=["read"])


def _audit_count(ctx: Context) -> int:
    with ctx.session() as session:
        return len(session.exec(AuditEntry.__table__.select()).all())  # type: ignore[attr-defined]


async def test_mail_servers_flow(
    oauth_env: TokenEndpoint,  # noqa: F811  (before `api`: its ctx takes the endpoint's URLs)
    api: ApiClient,
    ctx: Context,
    smtp_servers: Callable[..., SmtpTestServer],
) -> None:
    sink = smtp_servers()
    tenant = "?tenant=acme"

    # Unsaved settings, tested step by step against the sink: 200 with the report, nothing saved.
    tested = await api.post(f"{SERVERS}/test{tenant}", _plain(sink, "draft"), token="system")
    assert tested.status == 200, tested.body
    assert tested.body["ok"] is True and tested.body["port"] == sink.port
    assert [step["ok"] for step in tested.body["steps"]] == [True] * len(tested.body["steps"])
    assert sink.messages == []  # a connection test sends nothing
    refused = await api.post(
        f"{SERVERS}/test{tenant}", {**_plain(sink, "draft"), "port": 1}, token="system"
    )
    assert refused.status == 200 and refused.body["ok"] is False, refused.body
    assert any(not step["ok"] for step in refused.body["steps"])

    # Two servers of the tenant: the first becomes its default; the GMAIL preset fills the host.
    first = await api.post(f"{SERVERS}{tenant}", _plain(sink, "Sink"), token="system")
    assert first.status == 201, first.body
    assert first.body["default"] is True and first.headers["ETag"].startswith('"')
    gmail = {
        "name": "Gmail",
        "provider": "GMAIL",
        "username": "ops@gmail.example",
        "password": "app-password",
        "oauth_client_id": "client-id",
        "oauth_client_secret": "client-secret",
    }
    second = await api.post(f"{SERVERS}{tenant}", gmail, token="system")
    assert second.status == 201, second.body
    preset = preset_for("GMAIL")
    assert {name: second.body[name] for name in ("host", "port", "security")} == {
        name: preset[name] for name in ("host", "port", "security")
    }
    assert second.body["has_password"] is True and "app-password" not in second.text
    sink_id, gmail_id = first.body["id"], second.body["id"]

    # The tenant's own token sees both, a page at a time; the other tenant's sees none of them.
    page = await api.get(f"{SERVERS}?limit=1")
    assert page.status == 200 and [s["id"] for s in page.body["items"]] == [sink_id]
    rest = await api.get(f"{SERVERS}?limit=1&cursor={page.body['next_cursor']}")
    assert [s["id"] for s in rest.body["items"]] == [gmail_id] and rest.body["next_cursor"] is None
    assert (await api.get(f"{SERVERS}/{sink_id}", token="globex")).status == 404
    assert (await api.get(f"{SERVERS}/{2**31}")).status == 404  # past the id column: no row
    stolen = await api.request(
        "PATCH", f"{SERVERS}/{sink_id}", json_body={"name": "x"}, token="globex"
    )
    assert stolen.status == 404
    assert (await api.get(SERVERS, token="globex")).body["items"] == []

    # The saved server's test records its outcome on it.
    saved_test = await api.post(f"{SERVERS}/{sink_id}/test")
    assert saved_test.status == 200 and saved_test.body["ok"] is True, saved_test.body

    # Make the other one the default.
    made = await api.post(f"{SERVERS}/{gmail_id}/default")
    assert made.status == 200 and made.body["default"] is True
    assert (await api.get(f"{SERVERS}/{sink_id}")).body["default"] is False

    # Optimistic concurrency: a stale If-Match is 412 and changes nothing; a fresh one works.
    read = await api.get(f"{SERVERS}/{sink_id}")
    etag = read.headers["ETag"]
    other = await api.request("PATCH", f"{SERVERS}/{sink_id}", json_body={"timeout": 7})
    assert other.status == 200 and other.headers["ETag"] != etag  # someone else's change
    audits = _audit_count(ctx)
    stale = await api.request(
        "PATCH", f"{SERVERS}/{sink_id}", json_body={"name": "Mine"}, headers={"If-Match": etag}
    )
    assert stale.status == 412, stale.body
    assert "was changed since you read it" in stale.body["error"]
    assert stale.headers["ETag"] == stale.body["etag"] == other.headers["ETag"]
    assert (await api.get(f"{SERVERS}/{sink_id}")).body["name"] == "Sink"
    assert _audit_count(ctx) == audits
    gone = await api.delete(f"{SERVERS}/{sink_id}", headers={"If-Match": etag})
    assert gone.status == 412 and gone.headers["ETag"] == other.headers["ETag"]
    # Several tags: any one will do; a weak tag compares as its strong form.
    fresh = await api.request(
        "PATCH",
        f"{SERVERS}/{sink_id}",
        json_body={"name": "Mine", "password": ""},
        headers={"If-Match": f"{etag}, W/{other.headers['ETag']}"},
    )
    assert fresh.status == 200 and fresh.body["name"] == "Mine", fresh.body
    # A new password changes the ETag though nothing shown changes.
    before = fresh.headers["ETag"]
    # (the system token: a tenant's save checks the host's addresses, and this one is not local)
    repass = await api.request(
        "PATCH", f"{SERVERS}/{gmail_id}{tenant}", json_body={"password": "new"}, token="system"
    )
    gmail_now = await api.get(f"{SERVERS}/{gmail_id}")
    assert repass.status == 200 and gmail_now.headers["ETag"] == repass.headers["ETag"]
    assert (await api.get(f"{SERVERS}/{sink_id}")).headers["ETag"] == before

    # OAuth: start gives the consent URL and state; the redirect URL completes it.
    started = await api.post(f"{SERVERS}/{gmail_id}/oauth/start")
    assert started.status == 200, started.body
    assert started.body["state"] in started.body["url"]
    redirect = oauth_env.authorize(started.body["url"])
    foreign = await api.post(
        f"{SERVERS}/{gmail_id}/oauth/complete", {"redirect_url": redirect}, token="globex"
    )
    assert foreign.status == 404
    done = await api.post(f"{SERVERS}/{gmail_id}/oauth/complete", {"redirect_url": redirect})
    assert done.status == 200, done.body
    assert done.body["server_id"] == gmail_id and done.body["tenant"] == "acme"
    assert (await api.get(f"{SERVERS}/{gmail_id}")).body["oauth_authorized"] is True
    again = await api.post(f"{SERVERS}/{gmail_id}/oauth/complete", {"redirect_url": redirect})
    assert again.status == 400 and again.body["field"] == "state"
    # The other form: the code and the state, as a front end that caught the redirect has them.
    restarted = await api.post(f"{SERVERS}/{gmail_id}/oauth/start")
    query = parse_qs(urlsplit(oauth_env.authorize(restarted.body["url"])).query)
    by_code = await api.post(
        f"{SERVERS}/{gmail_id}/oauth/complete",
        {"code": query["code"][0], "state": restarted.body["state"]},
    )
    assert by_code.status == 200 and by_code.body["auth"] == done.body["auth"], by_code.body

    # A read-only token reads and cannot write; bad input names its field; nothing changed.
    reader = _read_only_token(ctx)
    assert (await api.get(SERVERS, token=reader)).status == 200
    denied = await api.post(SERVERS, _plain(sink, "No"), token=reader)
    assert denied.status == 403 and denied.body["scope"] == "write"
    for body, field in (
        ({**_plain(sink, "Bad"), "port": "587"}, "port"),
        ({**_plain(sink, "Bad"), "colour": "red"}, "colour"),
        ({**_plain(sink, "Bad"), "security": "sometimes"}, "security"),
        ({"host": sink.host}, "name"),
    ):
        bad = await api.post(SERVERS, body)
        assert bad.status == 400 and bad.body["field"] == field, bad.body
    bad_patch = await api.request("PATCH", f"{SERVERS}/{sink_id}", json_body={"port": 0})
    assert bad_patch.status == 400 and bad_patch.body["field"] == "port"
    assert (await api.get(f"{SERVERS}?cursor=nonsense")).body["field"] == "cursor"
    # A host path is the system's to name: 403 for a tenant token, saved or tested unsaved.
    ca_file = {"ca_file": "/etc/ssl/certs/ca-certificates.crt"}
    for refused in (
        await api.request("PATCH", f"{SERVERS}/{sink_id}", json_body=ca_file),
        await api.post(f"{SERVERS}/test", {**_plain(sink, "Ca"), **ca_file}),
    ):
        assert refused.status == 403 and refused.body["field"] == "ca_file", refused.body
    with ctx.session() as session:
        assert session.get(MailServer, sink_id).port == sink.port  # type: ignore[union-attr]

    # Delete: the detach rule's outcome is in the answer.
    account = await api.post(
        ACCOUNTS, {"email": "help@acme.example", "display_name": "Help", "mail_server_id": sink_id}
    )
    assert account.status == 201, account.body
    deleted = await api.delete(f"{SERVERS}/{sink_id}")
    assert deleted.status == 200, deleted.body
    assert deleted.body["deleted"]["id"] == sink_id and deleted.body["new_default"] is None
    assert [a["id"] for a in deleted.body["detached_accounts"]] == [account.body["id"]]
    assert (await api.get(f"{ACCOUNTS}/{account.body['id']}")).body["mail_server_id"] is None


def _message(subject: str) -> bytes:
    return (
        f"From: ann@example.org\r\nTo: bob@example.org\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '.')}@example.org>\r\n\r\nHello.\r\n"
    ).encode()


async def test_email_accounts_flow(
    api: ApiClient,
    ctx: Context,
    smtp_server: SmtpTestServer,
    imap_mailbox: Mailbox,  # noqa: F811
) -> None:
    server = await api.post(SERVERS, _plain(smtp_server, "Out"))
    assert server.status == 201, server.body
    imap_mailbox.append(*(_message(f"note {n}") for n in range(3)))
    fields = {
        "email": imap_mailbox.address,
        "display_name": "Support",
        "mail_server_id": server.body["id"],
        "imap_host": imap_mailbox.server.host,
        "imap_port": imap_mailbox.server.plain_port,
        "imap_username": imap_mailbox.user,
        "imap_password": imap_mailbox.password,
        "imap_tls": False,
    }
    created = await api.post(ACCOUNTS, fields)
    assert created.status == 201, created.body
    assert created.body["has_imap_password"] is True and imap_mailbox.password not in created.text
    account_id = created.body["id"]
    spare = await api.post(
        ACCOUNTS,
        {
            "email": "spare@acme.example",
            "display_name": "Spare",
            "mail_server_id": server.body["id"],
        },
    )
    assert spare.status == 201 and spare.body["default"] is False

    synced = await api.post(f"{ACCOUNTS}/{account_id}/sync")
    assert synced.status == 200, synced.body
    assert synced.body["ok"] is True and synced.body["fetched"] == 3, synced.body
    first = await api.get(f"{ACCOUNTS}/{account_id}/messages?limit=2")
    assert first.status == 200 and len(first.body["items"]) == 2
    rest = await api.get(
        f"{ACCOUNTS}/{account_id}/messages?limit=2&cursor={first.body['next_cursor']}"
    )
    assert len(rest.body["items"]) == 1 and rest.body["next_cursor"] is None
    subjects = {m["subject"] for m in first.body["items"] + rest.body["items"]}
    assert subjects == {"note 0", "note 1", "note 2"}

    # A sync changes the counters, not the ETag: an admin's PATCH read before it still applies.
    etag = created.headers["ETag"]
    assert (await api.get(f"{ACCOUNTS}/{account_id}")).headers["ETag"] == etag
    renamed = await api.request(
        "PATCH", f"{ACCOUNTS}/{account_id}", json_body={"display_name": "Help"},
        headers={"If-Match": etag},
    )  # fmt: skip
    assert renamed.status == 200 and renamed.body["display_name"] == "Help"
    stale = await api.delete(f"{ACCOUNTS}/{account_id}", headers={"If-Match": etag})
    assert stale.status == 412 and "email account" in stale.body["error"]
    assert stale.headers["ETag"] == stale.body["etag"] == renamed.headers["ETag"]
    assert (await api.get(f"{ACCOUNTS}/{account_id}")).status == 200

    made = await api.post(f"{ACCOUNTS}/{spare.body['id']}/default")
    assert made.status == 200 and made.body["default"] is True
    assert (await api.get(f"{ACCOUNTS}/{account_id}", token="globex")).status == 404
    assert (await api.get(f"{ACCOUNTS}/{account_id}/messages", token="globex")).status == 404
    assert (await api.post(f"{ACCOUNTS}/{account_id}/sync", token="globex")).status == 404
    no_tenant = await api.get(ACCOUNTS, token="system")
    assert no_tenant.status == 400 and no_tenant.body["field"] == "tenant"
    listed = await api.get(f"{ACCOUNTS}?tenant=acme", token="system")
    assert [a["id"] for a in listed.body["items"]] == [account_id, spare.body["id"]]

    bad = await api.request("PATCH", f"{ACCOUNTS}/{account_id}", json_body={"imap_port": 70000})
    assert bad.status == 400 and bad.body["field"] == "imap_port"
    reader = _read_only_token(ctx)
    denied = await api.post(f"{ACCOUNTS}/{account_id}/sync", token=reader)
    assert denied.status == 403 and denied.body["scope"] == "write"

    removed = await api.delete(
        f"{ACCOUNTS}/{spare.body['id']}", headers={"If-Match": made.headers["ETag"]}
    )
    assert removed.status == 200, removed.body
    assert removed.body["new_default"]["id"] == account_id
    assert (await api.get(f"{ACCOUNTS}/{spare.body['id']}")).status == 404
