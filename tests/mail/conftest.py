"""Fixtures of the mail tests: a real Dovecot (tests/support/dovecot.py) trusted through its test
CA, a fresh mailbox per test, and accounts of tenant "acme" that read it."""

from __future__ import annotations

import pytest

from core.context import Context
from core.models.mail import EmailAccountCreate
from core.services.accounts import create_email_account
from core.services.audit import Actor
from tests.mail.imap_helpers import AccountFactory, numbers
from tests.support import dovecot as dovecot_support
from tests.support.dovecot import DovecotServer, Mailbox
from tests.support.factories import make_mail_server, make_tenant

dovecot_server = dovecot_support.dovecot_server
dovecot = dovecot_support.dovecot
imap_mailbox = dovecot_support.imap_mailbox


@pytest.fixture
def trust_test_ca(dovecot: DovecotServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's system trust store holds the test CA (OpenSSL reads SSL_CERT_FILE)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot.certs.ca_file))


@pytest.fixture
def mailbox(imap_mailbox: Mailbox) -> Mailbox:
    return imap_mailbox


@pytest.fixture
def make_account(ctx: Context, actor: Actor, dovecot: DovecotServer) -> AccountFactory:
    """`make_account(mailbox, port=, tls=, password=, folder=, ca_file=)` -> an account id of
    tenant "acme" on the test server (TLS port unless told), with its own outbound server."""
    with ctx.session() as session:
        tenant = make_tenant(session, actor=actor)

    def make(
        mailbox: Mailbox,
        *,
        port: int | None = None,
        tls: bool = True,
        password: str | None = None,
        folder: str = "INBOX",
        ca_file: str | None = None,
    ) -> int:
        with ctx.session() as session:
            extra = {"ca_file": ca_file} if ca_file else {}
            server = make_mail_server(session, ctx.box, tenant, actor=actor, **extra)
            account = create_email_account(
                session=session,
                box=ctx.box,
                tenant=tenant,
                data=EmailAccountCreate.from_fields(
                    {
                        "email": f"{next(numbers)}.{mailbox.address}",
                        "display_name": f"Inbox of {mailbox.user}",
                        "mail_server_id": server.id,
                        "imap_host": dovecot.host,
                        "imap_port": port or (dovecot.tls_port if tls else dovecot.plain_port),
                        "imap_username": mailbox.user,
                        "imap_password": mailbox.password if password is None else password,
                        "imap_tls": tls,
                        "imap_folder": folder,
                    }
                ),
                actor=actor,
            )
            assert account.id is not None
            return account.id

    return make
