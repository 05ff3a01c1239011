"""SMTP through a proxy: the mail server is reachable only through a SOCKS5 or HTTP CONNECT
proxy started by the test (its host name is known to the proxy alone), with STARTTLS or
implicit TLS and AUTH running over the tunnel."""

from __future__ import annotations

import json
import logging

import pytest
from sqlmodel import select

from core.errors import PermanentError, ValidationError
from core.models.delivery import Delivery
from core.models.mail import MailServer, MailServerCreate, MailServerUpdate
from core.pipeline.worker import Worker
from core.services.audit import Actor, list_entries
from core.services.keys import rotate_keys
from core.services.mail_servers import create_mail_server, update_mail_server
from core.services.mail_tests import test_mail_server
from tests.support import fixtures
from tests.support.certs import TestCerts, make_test_certs
from tests.support.factories import configure_tenant, emit_events
from tests.support.proxies import TestProxy

smtp_server = fixtures.smtp_server
smtp_servers = fixtures.smtp_servers
tls_certs = fixtures.tls_certs

BEHIND = "smtp.behind-proxy.test"  # a name only the test proxies resolve
SECRET = "pr0xy-S3cret!"
TENANT_TOKEN = Actor(name="token:acme", source="api", tenant_scoped=True)


@pytest.fixture(scope="module")
def behind_certs(tmp_path_factory: pytest.TempPathFactory) -> TestCerts:
    return make_test_certs(tmp_path_factory.mktemp("behind"), hostnames=(BEHIND,))


def proxy(kind: str, **kwargs) -> TestProxy:
    return TestProxy(kind, names={BEHIND: "127.0.0.1"}, **kwargs)


def add_server(ctx, actor, srv, tenant=None, **fields) -> int:
    data = {"name": "behind", "mail_from": "PBX <pbx@acme.org>", **srv.server_fields()}
    data.update({"host": BEHIND, **fields})
    with ctx.session() as session:
        return create_mail_server(
            session=session,
            box=ctx.box,
            tenant=tenant,
            data=MailServerCreate.from_fields(data),
            actor=actor,
        ).id


def row(ctx, server_id: int) -> MailServer:
    with ctx.session() as session:
        return session.get(MailServer, server_id)


def deliveries(ctx) -> list[Delivery]:
    with ctx.session() as session:
        return list(session.exec(select(Delivery).order_by(Delivery.id)))


async def drain(ctx) -> None:
    worker = Worker(ctx)
    try:
        await worker.run_once()
    finally:
        await worker.close()


# --- the field: validation, storage, write-only ------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("ftp://bob:hunter22@proxy.example:21", "has scheme 'ftp': use socks5://"),
        ("socks5://bob:hunter22@proxy.example", "has no port"),
        ("http://proxy.example:70000", "has an invalid port: use 1-65535"),
        ("http://proxy.example:3128/path?x=1", "has a path or query"),
        ("proxy.example:1080", "has no scheme"),
        ("socks5://:hunter22@proxy.example:1080", "has a password but no user name"),
    ],
)
def test_a_bad_proxy_is_refused_naming_the_field_never_the_password(value, rule) -> None:
    with pytest.raises(ValidationError) as caught:
        MailServerUpdate.from_fields({"proxy": value})
    assert caught.value.field == "proxy"
    assert rule in caught.value.message
    assert "hunter22" not in str(caught.value)


def test_the_url_is_stored_without_its_password_which_is_encrypted(ctx, actor, smtp_server):
    server_id = add_server(ctx, actor, smtp_server, proxy=f"socks5h://bob:{SECRET}@proxy.ex:1080")
    saved = row(ctx, server_id)
    assert saved.proxy_url == "socks5h://bob@proxy.ex:1080"
    assert SECRET not in (saved.proxy_password_enc or "")
    assert ctx.box.decrypt(saved.proxy_password_enc) == SECRET

    def edit(**fields):
        with ctx.session() as session:
            read = update_mail_server(
                session=session,
                box=ctx.box,
                tenant=None,
                server_id=server_id,
                changes=MailServerUpdate.from_fields(fields),
                actor=actor,
            )
        return read.proxy, read.has_proxy_password

    # What a read shows, posted back, keeps the password; the URL with another port drops it
    # (a stored password goes only to the proxy it was given for); empty clears the proxy.
    assert edit(proxy="socks5h://bob@proxy.ex:1080") == ("socks5h://bob@proxy.ex:1080", True)
    assert edit(proxy="socks5h://bob@proxy.ex:1081") == ("socks5h://bob@proxy.ex:1081", False)
    assert edit(proxy_password=SECRET) == ("socks5h://bob@proxy.ex:1081", True)
    assert edit(proxy="") == (None, False)
    assert row(ctx, server_id).proxy_password_enc is None


def test_keys_rotate_re_encrypts_the_proxy_password(ctx, actor, smtp_server) -> None:
    server_id = add_server(ctx, actor, smtp_server, proxy=f"http://bob:{SECRET}@proxy.ex:3128")
    before = row(ctx, server_id).proxy_password_enc
    with ctx.session() as session:
        rotate_keys(session=session, box=ctx.box, actor=actor)
    after = row(ctx, server_id).proxy_password_enc
    assert after != before
    assert ctx.box.decrypt(after) == SECRET


# --- connection tests and sends go through it --------------------------------------------------


@pytest.mark.parametrize("scheme", ["socks5h", "http"])
async def test_connection_report_has_a_proxy_step(
    ctx, actor, smtp_servers, behind_certs, scheme
) -> None:
    srv = smtp_servers(mode="starttls", auth=True, certs=behind_certs)
    with proxy("socks5" if scheme == "socks5h" else "http", coalesce=True) as px:
        server_id = add_server(ctx, actor, srv, proxy=px.url(scheme))
        report = await test_mail_server(ctx=ctx, tenant=None, server_id=server_id)
    assert report.ok, report.summary()
    steps = [step.step for step in report.steps]
    assert steps == ["proxy", "greeting", "ehlo", "starttls", "ehlo", "auth", "mail"]
    first = report.steps[0]
    assert first.detail.startswith(f"connected through {px.url(scheme)} to {BEHIND}:{srv.port}")
    assert px.tunnels == [(BEHIND, srv.port)]
    assert "CN=smtp.behind-proxy.test" in report.steps[3].detail  # TLS over the tunnel


@pytest.mark.parametrize("kind", ["socks5", "http"])
async def test_a_send_goes_through_the_proxy_with_credentials(
    ctx, session, actor, acme, smtp_servers, behind_certs, kind
) -> None:
    srv = smtp_servers(mode="tls", auth=True, certs=behind_certs)
    with proxy(kind, users={"bob": SECRET}) as px:
        scheme = "socks5h" if kind == "socks5" else "http"
        configure_tenant(
            session,
            ctx.box,
            acme,
            smtp=srv,
            server={"host": BEHIND, "proxy": px.url(scheme, user="bob", password=SECRET)},
            actor=actor,
        )
        [delivery_id] = emit_events(session, ctx.box, acme, 1)
        await drain(ctx)
    [delivery] = deliveries(ctx)
    assert (delivery.id, delivery.status) == (delivery_id, "sent")
    assert len(srv.messages) == 1 and srv.messages[0].tls
    assert px.tunnels == [(BEHIND, srv.port)]
    assert px.auth_failures == 0


@pytest.mark.parametrize("kind", ["socks5", "http"])
async def test_a_wrong_proxy_password_fails_for_good_naming_the_proxy(
    ctx, session, actor, acme, smtp_servers, caplog, kind
) -> None:
    caplog.set_level(logging.DEBUG)
    srv = smtp_servers()
    with proxy(kind, users={"bob": "the-right-one"}) as px:
        url = px.url("socks5h" if kind == "socks5" else "http", user="bob", password=SECRET)
        configure_tenant(
            session, ctx.box, acme, smtp=srv, server={"host": BEHIND, "proxy": url}, actor=actor
        )
        emit_events(session, ctx.box, acme, 1)
        await drain(ctx)
        server_id = session.exec(select(MailServer.id)).one()
        report = await test_mail_server(ctx=ctx, tenant=acme, server_id=server_id)
    [delivery] = deliveries(ctx)
    assert delivery.status == "failed"
    shown = url.replace(f":{SECRET}", "")
    assert (
        delivery.last_error == f"[proxy] proxy {shown} refused the user name and password of 'bob'"
    )
    assert [(s.step, s.ok) for s in report.steps] == [("proxy", False)]
    assert "user name and password" in (report.steps[0].hint or "")
    assert px.auth_failures == 2 and srv.messages == []
    assert SECRET not in caplog.text and SECRET not in json.dumps(report.as_dict())


async def test_an_unreachable_proxy_is_retried(ctx, session, actor, acme, smtp_server) -> None:
    with proxy("socks5") as px:
        url = px.url("socks5h")
    configure_tenant(  # the proxy is gone: nothing listens on its port
        session, ctx.box, acme, smtp=smtp_server, server={"host": BEHIND, "proxy": url}
    )
    emit_events(session, ctx.box, acme, 1)
    await drain(ctx)
    [delivery] = deliveries(ctx)
    assert delivery.status == "queued"
    assert delivery.last_error == f"[proxy] cannot connect to proxy {url}: connection refused"


async def test_the_http_proxy_answer_is_read_without_the_greeting_behind_it(
    smtp_server,
) -> None:
    """The proxy sends `200` and the server's greeting in one write: the greeting is left on
    the socket for aiosmtplib (python-socks' own HTTP reader would swallow it)."""
    from core.mail.proxy import open_tunnel
    from core.mail.proxy_url import parse_proxy
    from core.mail.smtp_connection import open_connection, quit_quietly

    with proxy("http", coalesce=True) as px:
        config = smtp_server.smtp_config(host=BEHIND, proxy=parse_proxy("proxy", px.url()))
        sock = await open_tunnel(config)
        sock.close()
        smtp = await open_connection(config)
        await quit_quietly(smtp)
    assert px.tunnels == [(BEHIND, smtp_server.port)] * 2


# --- the tenant fence --------------------------------------------------------------------------


def test_a_tenant_proxy_host_outside_the_fence_is_refused(
    ctx, session, acme, smtp_server, monkeypatch
) -> None:
    monkeypatch.setenv("MAILBELL_TENANT_SMTP_NETWORKS", "127.0.0.2/32")
    fields = {**smtp_server.server_fields(), "host": "127.0.0.2"}
    fields.pop("ca_file", None)
    data = {"name": "t", "mail_from": "a@acme.org", **fields, "proxy": "socks5://127.0.0.1:1080"}
    with pytest.raises(ValidationError) as caught:
        create_mail_server(
            session=session,
            box=ctx.box,
            tenant=acme,
            data=MailServerCreate.from_fields(data),
            actor=TENANT_TOKEN,
        )
    assert caught.value.field == "proxy"
    assert "MAILBELL_TENANT_SMTP_NETWORKS" in caught.value.message


async def test_a_tenant_server_asks_the_proxy_for_a_checked_address_never_a_name(
    ctx, session, acme, smtp_server, monkeypatch
) -> None:
    """socks5h would let the proxy resolve the name; for a tenant mailbell resolves it, checks
    it, and names the address. A fence that no longer allows the proxy stops the connection."""
    from core.mail.smtp_connection import SmtpConfig, open_connection, quit_quietly

    with proxy("socks5") as px:
        server_id = add_server(
            ctx, TENANT_TOKEN, smtp_server, tenant=acme, host="localhost", proxy=px.url("socks5h")
        )
        assert row(ctx, server_id).fenced
        report = await test_mail_server(ctx=ctx, tenant=acme, server_id=server_id)
        assert report.ok, report.summary()
        assert px.tunnels == [("127.0.0.1", smtp_server.port)]
        config = SmtpConfig.from_server(row(ctx, server_id), ctx.box)
        await quit_quietly(await open_connection(config))
        assert px.tunnels == [("127.0.0.1", smtp_server.port)] * 2
        monkeypatch.setenv("MAILBELL_TENANT_SMTP_NETWORKS", "127.0.0.2/32")
        with pytest.raises(PermanentError) as caught:
            await open_connection(config)
    assert caught.value.step == "proxy"
    assert "'127.0.0.1' is not allowed for a tenant's mail server" in caught.value.message
    assert len(px.tunnels) == 2


# --- every front end: the password never shows -------------------------------------------------


def test_cli_add_show_and_test_never_show_the_password(
    cli, ctx, smtp_servers, behind_certs, caplog
) -> None:
    from mailbell import cli as root
    from mailbell.commands import mailtest, server

    mailtest.register(server.app, root.app)
    caplog.set_level(logging.DEBUG)
    srv = smtp_servers(mode="starttls", auth=True, certs=behind_certs)
    assert cli("tenant", "add", "acme").code == 0
    with proxy("http", users={"bob": "the-right-one"}) as px:
        fields = srv.server_fields()
        added = cli(
            "server", "add", "--tenant", "acme", "--name", "behind", "--host", BEHIND,
            "--port", str(srv.port), "--security", "starttls", "--username",
            fields["username"], "--password", fields["password"], "--ca-file",
            fields["ca_file"], "--from", "pbx@acme.org",
            "--proxy", px.url(user="bob", password=SECRET),
        )  # fmt: skip
        assert added.code == 0, added.err
        server_id = added.out.split()[2]
        tested = cli("server", "test", server_id, "--tenant", "acme")
    assert tested.code == 1
    assert f"✗ proxy     proxy {px.url(user='bob')} refused the user name and password" in (
        tested.out
    )
    listed = json.loads(cli("server", "list", "--tenant", "acme", "--json").out)
    assert (listed[0]["proxy"], listed[0]["has_proxy_password"]) == (px.url(user="bob"), True)
    settings = json.loads(cli("settings", "show", "--tenant", "acme", "--json").out)
    assert settings["proxy"] == px.url(user="bob")
    with ctx.session() as session:
        entries = [entry.model_dump(mode="json") for entry in list_entries(session=session)]
    audit = json.dumps(entries)
    assert "mail_server.create" in audit and "proxy" in audit
    for text in (added.out, added.err, tested.out, tested.err, json.dumps(listed), audit):
        assert SECRET not in text
    assert SECRET not in json.dumps(settings) and SECRET not in caplog.text


def test_settings_carry_the_proxy_and_unsaved_tests_go_through_it(cli, smtp_server) -> None:
    """The flat object's `proxy` (a mailbell extension) is written with `settings set` and read
    without its password; `server test` with unsaved options goes through a proxy too."""
    from mailbell import cli as root
    from mailbell.commands import mailtest, server

    mailtest.register(server.app, root.app)
    assert cli("tenant", "add", "acme").code == 0
    with proxy("socks5", users={"bob": SECRET}) as px:
        url = px.url("socks5h", user="bob", password=SECRET)
        given = cli(
            "settings", "set", "--tenant", "acme", f"server={BEHIND}",
            f"port={smtp_server.port}", "security=none", "auth=DISABLE",
            "mail_from=pbx@acme.org", f"proxy={url}",
        )  # fmt: skip
        assert given.code == 0, given.err
        shown = json.loads(cli("settings", "show", "--tenant", "acme", "--json").out)
        assert shown["proxy"] == px.url("socks5h", user="bob")
        refused = cli("settings", "set", "--tenant", "acme", "proxy=gopher://bob:hunter22@x:1")
        tested = cli(
            "server", "test", "--tenant", "acme", "--host", BEHIND, "--port",
            str(smtp_server.port), "--security", "none", "--auth", "DISABLE",
            "--from", "pbx@acme.org", "--proxy", url,
        )  # fmt: skip
    assert refused.code == 1
    assert refused.err.startswith("error: proxy: 'gopher://bob:***@x:1' has scheme 'gopher'")
    assert "hunter22" not in refused.err
    assert tested.code == 0, tested.out + tested.err
    assert f"✓ proxy     connected through {px.url('socks5h', user='bob')}" in tested.out
    assert px.tunnels == [(BEHIND, smtp_server.port)]
    assert SECRET not in given.out + given.err + tested.out + json.dumps(shown)


def test_unsaved_settings_carry_the_proxy_and_its_password(ctx, session) -> None:
    from core.services.mail_drafts import draft_server
    from core.services.mail_tests import smtp_config_for

    fields = {"name": "unsaved", "host": "h.example", "auth": "DISABLE",
              "proxy": "http://bob@p.example:3128", "proxy_password": SECRET}  # fmt: skip
    draft = draft_server(
        session=session,
        box=ctx.box,
        tenant=None,
        server_id=None,
        changes=MailServerCreate.from_fields(fields),
        need_sender=False,
    )
    config = smtp_config_for(ctx, draft, store_tokens=False)
    assert config.proxy is not None
    assert (config.proxy.url, config.proxy.password) == ("http://bob@p.example:3128", SECRET)
    assert SECRET not in repr(config) and SECRET not in repr(config.proxy)
