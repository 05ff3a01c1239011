"""Inbound mirroring: `/mailbell route inbox ACCOUNT [from:PATTERN]` through the real bolt app,
and synced messages of a real Dovecot arriving in the channel as Block Kit messages."""

from __future__ import annotations

import email.message
import email.policy
import itertools

import pytest
from sqlmodel import col, select

from core.channels.slack import SlackChannel
from core.errors import ValidationError
from core.models.delivery import Delivery, EventRecord
from core.models.mail import EmailAccountCreate
from core.models.slack import SlackInboxRoute
from core.pipeline.worker import Worker
from core.services.accounts import create_email_account
from core.services.audit import Actor
from core.services.inbound import sync_account
from core.services.slack import get_link
from core.services.slack_inbox import (
    add_inbox_route,
    clean_from_pattern,
    list_inbox_routes,
    sender_matches,
)
from core.services.tenants import get_tenant
from tests.slackbot.conftest import (
    ACME_ADMIN,
    ACME_CHANNEL,
    GLOBEX_ADMIN,
    GLOBEX_CHANNEL,
    STRANGER,
    SYSTEM_ADMIN,
)
from tests.support import dovecot as dovecot_support
from tests.support.dovecot import DovecotServer, Mailbox
from tests.support.factories import make_mail_server
from tests.support.slack_api import TEAM_ID

dovecot_server = dovecot_support.dovecot_server
dovecot = dovecot_support.dovecot
imap_mailbox = dovecot_support.imap_mailbox

SETUP = Actor("setup", "cli")
ACME_INBOX = "support@acme.example"
ACME_OTHER = "billing@acme.example"
GLOBEX_INBOX = "help@globex.example"
_numbers = itertools.count(1)


def _account(ctx, slug: str, address: str, **imap) -> int:
    with ctx.session() as session:
        tenant = get_tenant(session=session, slug=slug)
        server = make_mail_server(session, ctx.box, tenant, actor=SETUP)
        account = create_email_account(
            session=session,
            box=ctx.box,
            tenant=tenant,
            data=EmailAccountCreate.from_fields(
                {
                    "email": address,
                    "display_name": f"Inbox {address}",
                    "mail_server_id": server.id,
                    **imap,
                }
            ),
            actor=SETUP,
        )
        assert account.id is not None
        return account.id


@pytest.fixture
def accounts(tenants):
    """acme: support@ and billing@; globex: help@ (no IMAP: routes only)."""
    ids = {
        ACME_INBOX: _account(tenants, "acme", ACME_INBOX),
        ACME_OTHER: _account(tenants, "acme", ACME_OTHER),
        GLOBEX_INBOX: _account(tenants, "globex", GLOBEX_INBOX),
    }
    return ids


def _routes(ctx, channel=ACME_CHANNEL) -> list[tuple[str, str]]:
    with ctx.session() as session:
        link = get_link(session=session, team_id=TEAM_ID, channel_id=channel)
        assert link is not None
        views = list_inbox_routes(session=session, link_id=link.id)
    return [(view.account, view.from_pattern) for view in views]


async def _announced(api, text, channel=ACME_CHANNEL):
    await api.wait_for(lambda: any(text in p["text"] for p in api.posts(channel)))


# -- commands ---------------------------------------------------------------------------------


async def test_route_and_unroute_inbox(bot, tenants, accounts, slack_api, audit) -> None:
    # Slack sends addresses escaped (`should_escape`): <mailto:…|…>
    answer = await bot.command(
        f"route inbox <mailto:{ACME_INBOX}|{ACME_INBOX}> from:*@Carrier.example", user=ACME_ADMIN
    )
    assert answer.status == 200 and answer.json["response_type"] == "ephemeral"
    assert "now mirrors new mail of support@acme.example from `*@carrier.example`" in answer.message
    assert _routes(tenants) == [(ACME_INBOX, "*@carrier.example")]
    await _announced(
        slack_api, f"<@{ACME_ADMIN}> set this channel to mirror new mail of {ACME_INBOX}"
    )
    answer = await bot.command(f"route inbox {accounts[ACME_OTHER]}", user=SYSTEM_ADMIN)
    assert "billing@acme.example (every sender)" in answer.message
    answer = await bot.command(f"route inbox {ACME_INBOX} from:*@carrier.example", user=ACME_ADMIN)
    assert "Nothing to change" in answer.message
    assert _routes(tenants) == [(ACME_OTHER, ""), (ACME_INBOX, "*@carrier.example")]
    assert _routes(tenants, GLOBEX_CHANNEL) == []
    entries = audit("slack.inbox_route")
    assert len(entries) == 2
    first = entries[-1]
    assert first.actor == f"{ACME_ADMIN}@{TEAM_ID}" and first.source == "slack"
    assert first.tenant == "acme" and first.target == f"slack:{TEAM_ID}/{ACME_CHANNEL}"
    assert first.fields == ["email_account:" + str(accounts[ACME_INBOX]), "from_pattern"]

    answer = await bot.command("route", user=ACME_ADMIN)
    assert "New mail of: billing@acme.example (every sender); support@acme.example from" in (
        answer.message
    )
    status = await bot.command("status", user=ACME_ADMIN)
    assert "*New mail mirrored here:* billing@acme.example (every sender); " in status.message
    assert "support@acme.example from `*@carrier.example`" in status.message

    answer = await bot.command(
        f"unroute inbox {ACME_INBOX.upper()} from:*@CARRIER.EXAMPLE", user=ACME_ADMIN
    )
    assert "Stopped mirroring new mail of support@acme.example from" in answer.message
    await _announced(slack_api, f"<@{ACME_ADMIN}> stopped mirroring new mail of {ACME_INBOX}")
    assert _routes(tenants) == [(ACME_OTHER, "")]
    answer = await bot.command(f"unroute inbox {ACME_INBOX}", user=ACME_ADMIN)
    assert "Nothing to change" in answer.message
    [removal] = audit("slack.inbox_unroute")
    assert removal.actor == f"{ACME_ADMIN}@{TEAM_ID}"


async def test_unroute_inbox_without_pattern_stops_every_route_of_the_account(
    bot, accounts, tenants
) -> None:
    for text in ("", " from:*@a.example", " from:ops@b.example"):
        await bot.command(f"route inbox {ACME_INBOX}{text}", user=ACME_ADMIN)
    await bot.command(f"route inbox {ACME_OTHER}", user=ACME_ADMIN)
    assert len(_routes(tenants)) == 4
    answer = await bot.command(f"unroute inbox {ACME_INBOX}", user=ACME_ADMIN)
    assert answer.message.count(ACME_INBOX) == 3
    assert _routes(tenants) == [(ACME_OTHER, "")]
    assert _routes(tenants, GLOBEX_CHANNEL) == []


@pytest.mark.parametrize(
    "text, field, words",
    [
        pytest.param(
            "route inbox nobody@acme.example",
            "account",
            ["'nobody@acme.example' is not an email account of tenant acme", ACME_INBOX],
            id="unknown-account",
        ),
        pytest.param(
            f"route inbox {GLOBEX_INBOX}",
            "account",
            ["is not an email account of tenant acme"],
            id="other-tenants-account",
        ),
        pytest.param(
            "route inbox 999999", "account", ["'999999' is not an email account"], id="unknown-id"
        ),
        pytest.param(f"route inbox {ACME_INBOX} from:", "from", ["is empty"], id="empty-pattern"),
        pytest.param(
            f"route inbox {ACME_INBOX} from:{'x' * 201}",
            "from",
            ["201 characters long; at most 200"],
            id="long-pattern",
        ),
        pytest.param(
            f"route inbox {ACME_INBOX} *@carrier.example",
            "from",
            ["is not a sender pattern", "from:*@carrier.example"],
            id="pattern-without-from",
        ),
        pytest.param(
            f"route inbox {ACME_INBOX} from:a@b.example from:c@d.example",
            "from",
            ["is not a sender pattern"],
            id="two-patterns",
        ),
        pytest.param(
            f"unroute inbox {GLOBEX_INBOX}",
            "account",
            ["is not an email account of tenant acme"],
            id="unroute-other-tenants-account",
        ),
    ],
)
async def test_bad_input_is_refused_naming_the_field_and_changes_nothing(
    bot, accounts, state, text, field, words
) -> None:
    await bot.command(f"route inbox {ACME_OTHER}", user=ACME_ADMIN)
    before = state()
    answer = await bot.command(text, user=ACME_ADMIN)
    assert answer.status == 200 and answer.json["response_type"] == "ephemeral"
    assert answer.message.startswith(f":warning: {field}: "), answer.message
    for word in words:
        assert word in answer.message
    assert state() == before


async def test_the_other_tenants_account_is_refused_by_id_too(bot, accounts, tenants) -> None:
    answer = await bot.command(f"route inbox {accounts[GLOBEX_INBOX]}", user=SYSTEM_ADMIN)
    assert answer.message.startswith(":warning: account: ")
    assert _routes(tenants) == [] and _routes(tenants, GLOBEX_CHANNEL) == []


async def test_usage_is_shown_without_an_account(bot, accounts, state) -> None:
    before = state()
    for text in ("route inbox", "unroute inbox", "route inbox from:*@x.example"):
        answer = await bot.command(text, user=ACME_ADMIN)
        assert "Usage: `/mailbell " in answer.message and "inbox ACCOUNT" in answer.message
    assert state() == before


@pytest.mark.parametrize(
    "user",
    [pytest.param(STRANGER, id="stranger"), pytest.param(GLOBEX_ADMIN, id="other-tenants-admin")],
)
@pytest.mark.parametrize(
    "text", [f"route inbox {ACME_INBOX}", f"unroute inbox {ACME_INBOX} from:*@carrier.example"]
)
async def test_unauthorized_users_are_refused_and_change_nothing(
    bot, accounts, tenants, state, audit, user, text
) -> None:
    with tenants.session() as session:
        link = get_link(session=session, team_id=TEAM_ID, channel_id=ACME_CHANNEL)
        add_inbox_route(
            session=session,
            link=link,
            account_ref=ACME_INBOX,
            from_pattern="*@carrier.example",
            actor=SETUP,
        )
    before = state()
    answer = await bot.command(text, user=user)
    assert ":no_entry:" in answer.message and "Nothing was changed" in answer.message
    assert state() == before
    [refusal] = audit("slack.refused")
    assert refusal.actor == f"{user}@{TEAM_ID}" and refusal.target == f"/mailbell {text.split()[0]}"


async def test_relinking_or_unlinking_a_channel_drops_its_inbox_routes(
    bot, accounts, tenants
) -> None:
    await bot.command(f"route inbox {ACME_INBOX}", user=ACME_ADMIN)
    assert _routes(tenants) == [(ACME_INBOX, "")]
    answer = await bot.command("link globex", user=SYSTEM_ADMIN)
    assert answer.status == 200
    assert _routes(tenants) == []
    await bot.command(f"route inbox {GLOBEX_INBOX}", user=SYSTEM_ADMIN)
    assert _routes(tenants) == [(GLOBEX_INBOX, "")]
    await bot.command("unlink", user=SYSTEM_ADMIN)
    with tenants.session() as session:
        assert session.exec(select(SlackInboxRoute)).all() == []


def test_pattern_rules() -> None:
    assert clean_from_pattern(None) == "" and clean_from_pattern(" * ") == ""
    assert clean_from_pattern("*@Carrier.Example") == "*@carrier.example"
    for bad, why in (
        ("", "is empty"),
        ("a\r\nBcc: x@y", "single line"),
        ("a\nb", "single line"),
        ("a\tb", "control characters"),
        ("x" * 201, "at most 200"),
    ):
        with pytest.raises(ValidationError) as caught:
            clean_from_pattern(bad)
        assert caught.value.field == "from" and why in caught.value.message
    assert sender_matches("", None)
    assert sender_matches("*@carrier.example", "Dispatch <DISPATCH@Carrier.Example>")
    assert not sender_matches("*@carrier.example", "x@carrier.example.evil.org")
    assert not sender_matches("*@carrier.example", None)
    assert sender_matches("ops-?@*.example", "ops-1@b.example")


# -- end to end: Dovecot → sync → outbox → worker → Slack -------------------------------------


def _mail(sender: str, subject: str, body: str) -> bytes:
    message = email.message.EmailMessage()
    message["From"] = sender
    message["To"] = "support@acme.example"
    message["Subject"] = subject
    message["Date"] = "Sun, 22 Nov 2026 10:00:00 +0100"
    message["Message-ID"] = f"<m{next(_numbers)}@example.org>"
    message.set_content(body)
    return message.as_bytes(policy=email.policy.SMTP)


@pytest.fixture
def imap_account(tenants, dovecot: DovecotServer, imap_mailbox: Mailbox, monkeypatch) -> int:
    """acme's support@ account on the test Dovecot (TLS, the test CA trusted)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot.certs.ca_file))
    return _account(
        tenants,
        "acme",
        ACME_INBOX,
        imap_host=dovecot.host,
        imap_port=dovecot.tls_port,
        imap_username=imap_mailbox.user,
        imap_password=imap_mailbox.password,
    )


def _slack_deliveries(ctx) -> list[Delivery]:
    with ctx.session() as session:
        query = select(Delivery).where(Delivery.channel == "slack").order_by(col(Delivery.id))
        return list(session.exec(query))


async def _run_worker(ctx) -> None:
    worker = Worker(ctx, channels={"slack": SlackChannel(ctx, pace_interval_s=0)})
    try:
        await worker.run_once()
    finally:
        await worker.close()


async def test_synced_mail_from_matching_senders_arrives_in_the_channel(
    bot, tenants, imap_account, imap_mailbox, slack_api
) -> None:
    ctx = tenants
    answer = await bot.command(f"route inbox {ACME_INBOX} from:*@carrier.example", user=ACME_ADMIN)
    assert "now mirrors" in answer.message
    await _announced(slack_api, "set this channel to mirror new mail")
    slack_api.calls.clear()
    # The first sync backfills old mail: stored, not announced.
    imap_mailbox.append(_mail("Old <old@carrier.example>", "Last week's load", "Done."))
    backfill = await sync_account(ctx=ctx, account_id=imap_account)
    assert backfill.ok and backfill.fetched == 1, backfill.error
    assert _slack_deliveries(ctx) == []
    imap_mailbox.append(
        _mail("Dispatch <dispatch@carrier.example>", "Load 4711 ready", "Pick-up at dock 3.\nBye"),
        _mail("Ann Other <ann@other.example>", "Lunch?", "Not for the channel"),
        _mail("DOCKS@Carrier.Example", "<!channel> Dock closed", "Dock 5 is closed & locked."),
    )

    result = await sync_account(ctx=ctx, account_id=imap_account)
    assert result.ok and result.fetched == 3, result.error
    queued = _slack_deliveries(ctx)
    assert [(d.target, d.status, d.event) for d in queued] == [
        (ACME_CHANNEL, "queued", "INBOUND_EMAIL")
    ] * 2
    with ctx.session() as session:
        events = list(session.exec(select(EventRecord).where(EventRecord.name == "INBOUND_EMAIL")))
    assert [e.payload["subject"] for e in events] == ["Load 4711 ready", "<!channel> Dock closed"]
    assert events[0].payload == {
        "account": ACME_INBOX,
        "from": "Dispatch <dispatch@carrier.example>",
        "subject": "Load 4711 ready",
        "date": "2026-11-22T09:00:00+00:00",
    }
    assert all(e.payload_enc is None and e.tenant_id == queued[0].tenant_id for e in events)

    await _run_worker(ctx)
    posts = slack_api.posts()
    assert [p["channel"] for p in posts] == [ACME_CHANNEL, ACME_CHANNEL]
    first, second = posts
    blocks = first["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": ":incoming_envelope: Load 4711 ready",
            "emoji": True,
        },
    }
    fields = [f["text"] for f in blocks[1]["fields"]]
    assert fields[:3] == [
        "*From*\nDispatch &lt;dispatch@carrier.example&gt;",
        "*Subject*\nLoad 4711 ready",
        f"*Account*\n{ACME_INBOX}",
    ]
    assert fields[3].startswith("*Date*\n<!date^1795338000^")
    assert blocks[2]["text"]["text"] == ">Pick-up at dock 3. Bye"
    context = blocks[-1]["elements"][0]["text"]
    assert "Tenant *acme*" in context and f"delivery {queued[0].id}" in context
    assert first["text"].startswith(
        f"[acme] New mail for {ACME_INBOX} from Dispatch &lt;dispatch@carrier.example&gt;: "
        "Load 4711 ready — Pick-up at dock 3. Bye"
    )
    # The sender's text is escaped in mrkdwn (the header is plain_text, never parsed): no
    # channel ping, no forged link.
    assert second["blocks"][0]["text"]["type"] == "plain_text"
    assert "<!channel>" not in str(second["blocks"][1:])
    assert "&lt;!channel&gt; Dock closed" in second["text"]
    assert second["blocks"][2]["text"]["text"] == ">Dock 5 is closed &amp; locked."
    assert "Not for the channel" not in str(posts) and "Lunch" not in str(posts)
    assert {d.status for d in _slack_deliveries(ctx)} == {"sent"}

    # A second sync stores nothing new and mirrors nothing new.
    again = await sync_account(ctx=ctx, account_id=imap_account)
    assert again.ok and again.fetched == 0
    assert len(_slack_deliveries(ctx)) == 2
    # New mail: only the matching sender's is mirrored, once.
    imap_mailbox.append(
        _mail("ann@other.example", "Again", "no"),
        _mail("dispatch@carrier.example", "Load 4712 ready", "Dock 1"),
    )
    assert (await sync_account(ctx=ctx, account_id=imap_account)).fetched == 2
    await _run_worker(ctx)
    assert [p["blocks"][0]["text"]["text"] for p in slack_api.posts()[2:]] == [
        ":incoming_envelope: Load 4712 ready"
    ]
    assert len(_slack_deliveries(ctx)) == 3


async def test_unrouted_and_removed_routes_mirror_nothing(
    bot, tenants, imap_account, imap_mailbox, slack_api
) -> None:
    ctx = tenants
    imap_mailbox.append(_mail("dispatch@carrier.example", "Before any route", "x"))
    assert (await sync_account(ctx=ctx, account_id=imap_account)).fetched == 1
    await bot.command(f"route inbox {ACME_INBOX}", user=ACME_ADMIN)
    await bot.command(f"unroute inbox {ACME_INBOX}", user=ACME_ADMIN)
    imap_mailbox.append(_mail("dispatch@carrier.example", "After the route was removed", "y"))
    assert (await sync_account(ctx=ctx, account_id=imap_account)).fetched == 1
    assert _slack_deliveries(ctx) == []
    with ctx.session() as session:
        assert session.exec(select(SlackInboxRoute)).all() == []
