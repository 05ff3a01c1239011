"""Updates with the version an editor opened (issue #19 item 4): a stale one is refused with
who changed what and nothing saved; the current one saves; a test or a sync is not a change."""

from __future__ import annotations

import socket

import pytest
from sqlmodel import select

from core.errors import Conflict
from core.models.audit import AuditEntry
from core.models.mail import (
    EmailAccount,
    EmailAccountCreate,
    EmailAccountUpdate,
    MailServer,
    MailServerUpdate,
)
from core.services.accounts import (
    create_email_account,
    delete_email_account,
    update_email_account,
)
from core.services.audit import Actor
from core.services.inbound import sync_account
from core.services.mail_servers import (
    delete_mail_server,
    set_default_mail_server,
    update_mail_server,
)
from core.services.mail_tests import test_mail_server as run_connection_test
from core.services.versions import StaleVersion, account_version, server_version
from tests.support.factories import make_mail_server, make_tenant

OTHER = Actor(name="bob", source="api")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server_id(ctx, actor) -> int:
    with ctx.session() as session:
        acme = make_tenant(session, slug="acme", name="Acme", actor=actor)
        server = make_mail_server(
            session,
            ctx.box,
            acme,
            actor=actor,
            name="relay",
            host="127.0.0.1",
            port=closed_port(),
            security="none",
            auth="DISABLE",
            mail_from="alerts@acme.example",
        )
        assert server.id is not None
        return server.id


@pytest.fixture
def account_id(ctx, actor, server_id) -> int:
    with ctx.session() as session:
        account = create_email_account(
            session=session,
            box=ctx.box,
            tenant=_acme(session),
            actor=actor,
            data=EmailAccountCreate.from_fields(
                {
                    "email": "support@acme.example",
                    "display_name": "Support",
                    "mail_server_id": server_id,
                    "imap_host": "127.0.0.1",
                    "imap_port": closed_port(),
                    "imap_tls": False,
                    "imap_password": "x",
                }
            ),
        )
        assert account.id is not None
        return account.id


def _acme(session):
    from core.services.tenants import get_tenant

    return get_tenant(session=session, slug="acme")


def server_row_version(ctx, server_id: int) -> str:
    with ctx.session() as session:
        return server_version(session.get_one(MailServer, server_id))


def account_row_version(ctx, account_id: int) -> str:
    with ctx.session() as session:
        return account_version(session.get_one(EmailAccount, account_id))


def change_server(ctx, actor, server_id: int, version, **fields) -> None:
    with ctx.session() as session:
        update_mail_server(
            session=session,
            box=ctx.box,
            tenant=_acme(session),
            server_id=server_id,
            changes=MailServerUpdate.from_fields(fields),
            actor=actor,
            expected_version=version,
        )


def change_account(ctx, actor, account_id: int, version: str | None, **fields) -> None:
    with ctx.session() as session:
        update_email_account(
            session=session,
            box=ctx.box,
            tenant=_acme(session),
            account_id=account_id,
            changes=EmailAccountUpdate.from_fields(fields),
            actor=actor,
            expected_version=version,
        )


def audit_count(ctx) -> int:
    with ctx.session() as session:
        return len(session.exec(select(AuditEntry)).all())


def test_a_stale_server_version_is_refused_and_nothing_changes(ctx, actor, server_id) -> None:
    opened = server_row_version(ctx, server_id)
    change_server(ctx, OTHER, server_id, None, mail_from="noc@acme.example")
    entries = audit_count(ctx)
    with pytest.raises(StaleVersion) as refused:
        change_server(ctx, actor, server_id, opened, name="relay 2", password="n3w-Secret")
    assert isinstance(refused.value, Conflict)  # the API's 409 family: no new error kind
    text = refused.value.message
    assert text.startswith("mail server relay was changed by someone else since you opened it")
    assert "by bob via api at " in text and "reload to see the change" in text
    with ctx.session() as session:
        row = session.get_one(MailServer, server_id)
        assert (row.name, row.mail_from, row.password_enc) == (
            "relay",
            "noc@acme.example",
            None,
        )
    assert audit_count(ctx) == entries


def test_the_current_server_version_saves(ctx, actor, server_id) -> None:
    change_server(ctx, OTHER, server_id, None, mail_from="noc@acme.example")
    current = server_row_version(ctx, server_id)
    change_server(ctx, actor, server_id, current, name="relay 2")
    with ctx.session() as session:
        assert session.get_one(MailServer, server_id).name == "relay 2"
    # A new secret is a change too: the version opened before it is stale.
    opened = server_row_version(ctx, server_id)
    change_server(ctx, OTHER, server_id, None, auth="PLAIN", username="u", password="p4ss-Word")
    with pytest.raises(StaleVersion):
        change_server(ctx, actor, server_id, opened, name="relay 3")


async def test_a_connection_test_between_read_and_write_is_no_conflict(
    ctx, actor, server_id
) -> None:
    opened = server_row_version(ctx, server_id)
    with ctx.session() as session:
        acme = _acme(session)
    report = await run_connection_test(ctx=ctx, tenant=acme, server_id=server_id)
    with ctx.session() as session:
        row = session.get_one(MailServer, server_id)
        # the test was recorded on the row (a status field moved)
        assert not report.ok and row.last_test_ok is False and row.last_test_at is not None
    change_server(ctx, actor, server_id, opened, name="relay 2")
    with ctx.session() as session:
        assert session.get_one(MailServer, server_id).name == "relay 2"


def test_a_stale_account_version_is_refused_and_nothing_changes(ctx, actor, account_id) -> None:
    opened = account_row_version(ctx, account_id)
    change_account(ctx, OTHER, account_id, None, display_name="Support desk")
    entries = audit_count(ctx)
    with pytest.raises(StaleVersion) as refused:
        change_account(ctx, actor, account_id, opened, imap_folder="Alerts")
    text = refused.value.message
    assert text.startswith(
        "email account support@acme.example was changed by someone else since you opened it"
    )
    assert "by bob via api" in text
    with ctx.session() as session:
        row = session.get_one(EmailAccount, account_id)
        assert (row.display_name, row.imap_folder) == ("Support desk", "INBOX")
    assert audit_count(ctx) == entries
    current = account_row_version(ctx, account_id)
    change_account(ctx, actor, account_id, current, imap_folder="Alerts")
    with ctx.session() as session:
        assert session.get_one(EmailAccount, account_id).imap_folder == "Alerts"


async def test_a_sync_between_read_and_write_is_no_conflict(ctx, actor, account_id) -> None:
    opened = account_row_version(ctx, account_id)
    await sync_account(ctx=ctx, account_id=account_id, progress=lambda *_: None, manual=True)
    with ctx.session() as session:
        row = session.get_one(EmailAccount, account_id)
        assert (
            row.last_sync_error and row.sync_failures == 1
        )  # the failed sync was recorded on the row
    change_account(ctx, actor, account_id, opened, display_name="Support desk")
    with ctx.session() as session:
        assert session.get_one(EmailAccount, account_id).display_name == "Support desk"


def test_losing_the_default_role_is_a_change_that_names_who(ctx, actor, server_id) -> None:
    with ctx.session() as session:
        other = make_mail_server(
            session,
            ctx.box,
            _acme(session),
            actor=actor,
            name="backup",
            host="smtp.backup.example",
            auth="DISABLE",
            mail_from="alerts@acme.example",
        )
    opened = server_row_version(ctx, server_id)  # relay: the default (acme's first server)
    with ctx.session() as session:
        set_default_mail_server(
            session=session, tenant=_acme(session), server_id=other.id, actor=OTHER
        )
    with pytest.raises(StaleVersion, match="by bob via api at "):
        change_server(ctx, actor, server_id, opened, name="relay 2")
    with ctx.session() as session:
        row = session.get_one(MailServer, server_id)
        assert (row.name, row.is_default) == ("relay", False)


def test_several_versions_any_will_do_and_a_stale_delete_deletes_nothing(
    ctx, actor, server_id, account_id
) -> None:
    """The HTTP API's If-Match may name several versions: one current is enough; none, stale."""
    opened = server_row_version(ctx, server_id)
    change_server(ctx, OTHER, server_id, None, mail_from="noc@acme.example")
    current = server_row_version(ctx, server_id)
    with pytest.raises(StaleVersion) as refused:
        change_server(ctx, actor, server_id, frozenset({opened, "0" * 32}), name="relay 2")
    assert refused.value.current == current  # the API's ETag of its 412
    with ctx.session() as session, pytest.raises(StaleVersion):
        delete_mail_server(
            session=session, tenant=_acme(session), server_id=server_id, actor=actor,
            expected_version=(opened,),
        )  # fmt: skip
    account_opened = account_row_version(ctx, account_id)
    change_account(ctx, OTHER, account_id, None, display_name="Support desk")
    with ctx.session() as session, pytest.raises(StaleVersion):
        delete_email_account(
            session=session, tenant=_acme(session), account_id=account_id, actor=actor,
            expected_version=account_opened,
        )  # fmt: skip
    with ctx.session() as session:
        assert session.get(EmailAccount, account_id) is not None
        assert session.get_one(MailServer, server_id).name == "relay"
    change_server(ctx, actor, server_id, frozenset({opened, current}), name="relay 2")
    with ctx.session() as session:
        assert session.get_one(MailServer, server_id).name == "relay 2"
