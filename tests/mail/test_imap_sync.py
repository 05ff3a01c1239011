"""IMAP sync against a real Dovecot (tests/support/dovecot.py): arrival, flags, incremental sync,
UIDVALIDITY, quarantine, large attachments, and the faults of a sync (wrong password, untrusted
certificate, TLS port spoken to in plain, server stopped mid-sync), each in plain language."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime, timedelta

import pytest

from core.context import Context
from core.mail.imap import ImapConfig, ImapError, SyncLimits, security_for, sync_mailbox
from core.services.inbound import sync_account
from tests.mail.imap_helpers import AccountFactory, account, make_message, rows
from tests.support.dovecot import DovecotServer, Mailbox, free_port

pytestmark = pytest.mark.usefixtures("trust_test_ca")


async def test_appended_messages_arrive_once_and_server_flags_do_not_change(
    ctx: Context, mailbox: Mailbox, make_account: AccountFactory
) -> None:
    mailbox.append(make_message("first", message_id="<one@example.org>"))
    mailbox.append(make_message("second"), flags="(\\Flagged)")
    mailbox.append(make_message("third"), flags="(\\Seen \\Answered)")
    before = mailbox.flags()
    account_id = make_account(mailbox)

    result = await sync_account(ctx=ctx, account_id=account_id)
    assert result.ok, result.error
    assert (result.fetched, result.total, result.message_count) == (3, 3, 3)
    assert mailbox.flags() == before  # BODY.PEEK on an EXAMINEd folder: nothing set or cleared
    assert "\\Seen" not in mailbox.flags()[1]

    again = await sync_account(ctx=ctx, account_id=account_id)
    assert again.ok and again.fetched == 0
    stored = rows(ctx, account_id)
    assert [r.subject for r in stored] == ["first", "second", "third"]
    first = stored[0]
    assert first.message_id == "<one@example.org>"
    assert first.from_addr == "Ann Example <ann@example.org>"
    assert first.to_addr == "Bob <bob@example.org>, carol@example.org"
    assert first.date == datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    assert first.snippet == "Hello there, this is the body."
    assert not first.quarantined and first.attachments == []
    assert [set(r.flags) for r in stored] == [set(), {"\\Flagged"}, {"\\Seen", "\\Answered"}]
    state = account(ctx, account_id)
    assert state.imap_last_uid == 3 and state.imap_uidvalidity == mailbox.uidvalidity()
    assert state.message_count == 3 and state.last_sync_error is None
    assert state.last_sync_at is not None


async def test_incremental_sync_fetches_only_new_messages(
    ctx: Context, mailbox: Mailbox, make_account: AccountFactory
) -> None:
    mailbox.append(make_message("a"), make_message("b"))
    account_id = make_account(mailbox)
    assert (await sync_account(ctx=ctx, account_id=account_id)).fetched == 2

    mailbox.append(make_message("c"), make_message("d"), make_message("e"))
    seen: list[tuple[int, int]] = []
    result = await sync_account(
        ctx=ctx,
        account_id=account_id,
        progress=lambda done, total: seen.append((done, total)),
        limits=SyncLimits(batch_size=2),
    )
    assert result.ok and (result.fetched, result.total) == (3, 3)
    assert seen == [(0, 3), (2, 3), (3, 3)]
    assert [r.subject for r in rows(ctx, account_id)] == ["a", "b", "c", "d", "e"]

    nothing = await sync_account(ctx=ctx, account_id=account_id)
    assert nothing.ok and nothing.total == 0 and nothing.bytes_received < 4000


async def test_uidvalidity_change_rebaselines_without_duplicates(
    ctx: Context, mailbox: Mailbox, make_account: AccountFactory
) -> None:
    mailbox.command("create", "Feed")
    old = [make_message(f"old {i}") for i in range(3)]
    mailbox.append(*old, folder="Feed")
    account_id = make_account(mailbox, folder="Feed")
    assert (await sync_account(ctx=ctx, account_id=account_id)).fetched == 3
    first_validity = account(ctx, account_id).imap_uidvalidity

    mailbox.command("delete", "Feed")
    mailbox.command("create", "Feed")
    mailbox.append(make_message("brand new"), *old, folder="Feed")  # new order, new UIDs
    assert mailbox.uidvalidity("Feed") != first_validity

    result = await sync_account(ctx=ctx, account_id=account_id)
    assert result.ok and result.rebaselined
    stored = rows(ctx, account_id)
    assert sorted(r.subject or "" for r in stored) == ["brand new", "old 0", "old 1", "old 2"]
    assert {r.uidvalidity for r in stored} == {mailbox.uidvalidity("Feed")}
    assert {r.subject: r.uid for r in stored}["old 0"] == 2  # moved to its new UID
    assert account(ctx, account_id).message_count == 4
    assert (await sync_account(ctx=ctx, account_id=account_id)).fetched == 0


async def test_malformed_message_is_quarantined_once(
    ctx: Context, mailbox: Mailbox, make_account: AccountFactory
) -> None:
    mailbox.append(b"\xff\xfe this is not a mail at all\r\n\r\njust bytes\r\n", make_message("ok"))
    account_id = make_account(mailbox)
    result = await sync_account(ctx=ctx, account_id=account_id)
    assert result.ok and (result.fetched, result.quarantined) == (2, 1)
    bad, good = rows(ctx, account_id)
    assert bad.quarantined and "header" in (bad.quarantine_reason or "")
    assert not good.quarantined and good.subject == "ok"

    mailbox.append(make_message("later"))
    later = await sync_account(ctx=ctx, account_id=account_id)
    assert later.ok and later.fetched == 1 and later.quarantined == 0
    again = rows(ctx, account_id)
    assert len(again) == 3 and again[0].fetched_at == bad.fetched_at  # not fetched again


async def test_large_attachment_is_not_downloaded(
    ctx: Context, mailbox: Mailbox, make_account: AccountFactory
) -> None:
    big = bytes(range(256)) * (5 * 1024 * 1024 // 256)
    raw = make_message("report", "See the attached report.", attachment=("Q3 report ü.bin", big))
    mailbox.append(raw)
    account_id = make_account(mailbox)
    result = await sync_account(ctx=ctx, account_id=account_id)
    assert result.ok and result.fetched == 1
    assert result.bytes_received < 64 * 1024  # the 5 MB stay on the server
    (row,) = rows(ctx, account_id)
    assert row.size == len(raw) > 5 * 1024 * 1024
    assert row.attachments == ["Q3 report ü.bin"]
    assert row.snippet == "See the attached report."


async def test_snippet_comes_from_the_text_part_and_is_bounded(
    ctx: Context, mailbox: Mailbox, make_account: AccountFactory
) -> None:
    long_text = "word " * 20_000
    mailbox.append(
        make_message("long", long_text),
        make_message("html only", "", html="<p>Hello <b>HTML</b> world</p>"),
    )
    account_id = make_account(mailbox)
    result = await sync_account(ctx=ctx, account_id=account_id)
    assert result.ok and result.bytes_received < 40_000
    long_row, html_row = rows(ctx, account_id)
    assert len(long_row.snippet) == 500 and long_row.snippet.startswith("word word")
    assert html_row.snippet == "Hello HTML world"


async def test_backfill_window_on_first_sync(
    ctx: Context, mailbox: Mailbox, make_account: AccountFactory
) -> None:
    month_ago = datetime.now(UTC) - timedelta(days=30)
    mailbox.append(make_message("ancient"), date=month_ago)
    mailbox.append(*(make_message(f"recent {i}") for i in range(4)))
    account_id = make_account(mailbox)
    result = await sync_account(
        ctx=ctx, account_id=account_id, limits=SyncLimits(backfill_days=7, backfill_messages=3)
    )
    assert result.ok and result.rebaselined
    assert [r.subject for r in rows(ctx, account_id)] == ["recent 1", "recent 2", "recent 3"]
    assert account(ctx, account_id).imap_last_uid == 5

    mailbox.append(make_message("late arrival"), date=month_ago)  # new UID: incremental takes it
    assert (await sync_account(ctx=ctx, account_id=account_id)).fetched == 1


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong password", "authentication failed for"),
        ("wrong port", "connection refused"),
        ("TLS to plain port", "TLS to a plain port"),
        ("missing folder", "folder 'Nope' cannot be opened"),
    ],
)
async def test_faults_are_recorded_in_plain_language(
    ctx: Context,
    mailbox: Mailbox,
    make_account: AccountFactory,
    dovecot: DovecotServer,
    case: str,
    expected: str,
) -> None:
    options: dict[str, object] = {
        "wrong password": {"password": "not-the-password"},
        "wrong port": {"port": free_port()},
        "TLS to plain port": {"port": dovecot.plain_port, "tls": True},
        "missing folder": {"folder": "Nope"},
    }[case]  # type: ignore[assignment]
    account_id = make_account(mailbox, **options)
    result = await sync_account(ctx=ctx, account_id=account_id, io_timeout=5)
    assert not result.ok
    assert result.error is not None and result.error.startswith(expected)
    state = account(ctx, account_id)
    assert state.last_sync_error == result.error and state.last_sync_at is not None
    assert "not-the-password" not in result.error and mailbox.password not in result.error


async def test_untrusted_certificate_then_trusted_through_the_servers_ca_file(
    ctx: Context,
    mailbox: Mailbox,
    make_account: AccountFactory,
    dovecot: DovecotServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE")
    mailbox.append(make_message("secret stuff"))
    untrusted = make_account(mailbox)
    result = await sync_account(ctx=ctx, account_id=untrusted)
    assert not result.ok and result.error_kind == "certificate"
    assert result.error and result.error.startswith("certificate not trusted")
    assert rows(ctx, untrusted) == []

    trusted = make_account(mailbox, ca_file=str(dovecot.certs.ca_file))
    assert (await sync_account(ctx=ctx, account_id=trusted)).fetched == 1


async def test_plain_connection_to_a_tls_port_times_out_with_a_hint(
    dovecot: DovecotServer, mailbox: Mailbox
) -> None:
    config = ImapConfig(
        dovecot.host, dovecot.tls_port, mailbox.user, mailbox.password, "plain", timeout=0.5
    )
    with pytest.raises(ImapError, match=r"^timeout: .*switch TLS on"):
        await sync_mailbox(config, uidvalidity=None, last_uid=None, sink=_NullSink())


class _NullSink:
    def __init__(self) -> None:
        self.messages: list[object] = []

    def baseline(self, uidvalidity: int, last_uid: int) -> None:
        pass

    def store(self, uidvalidity: int, messages: list[object], last_uid: int) -> None:
        self.messages.extend(messages)


async def test_starttls_and_xoauth2_and_no_secret_in_the_debug_log(
    dovecot: DovecotServer, mailbox: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    assert security_for(True, 143) == "starttls" and security_for(False, 993) == "plain"
    mailbox.append(make_message("over starttls"))
    caplog.set_level(logging.DEBUG, logger="aioimaplib")
    sink = _NullSink()
    config = ImapConfig(
        dovecot.host, dovecot.plain_port, mailbox.user, mailbox.password, "starttls"
    )
    report = await sync_mailbox(config, uidvalidity=None, last_uid=None, sink=sink)
    assert report.fetched == 1 and len(sink.messages) == 1

    token = "ya29.token-" + mailbox.password  # Dovecot checks the token as the user's password
    dovecot.add_user(mailbox.user + "oauth", token)

    async def tokens() -> str:
        return token

    oauth = ImapConfig(
        dovecot.host, dovecot.tls_port, mailbox.user + "oauth", token_provider=tokens
    )
    report = await sync_mailbox(oauth, uidvalidity=None, last_uid=None, sink=_NullSink())
    assert report.uidvalidity is not None  # logged in with XOAUTH2, folder opened

    async def stale() -> str:
        return "expired-token"

    refused = ImapConfig(
        dovecot.host, dovecot.tls_port, mailbox.user + "oauth", token_provider=stale
    )
    with pytest.raises(ImapError, match=r"^authentication failed"):
        await sync_mailbox(refused, uidvalidity=None, last_uid=None, sink=_NullSink())
    wire_secrets = [
        mailbox.password,
        token,
        base64.b64encode(f"\0{mailbox.user}\0{mailbox.password}".encode()).decode(),
        base64.b64encode(
            f"user={mailbox.user}oauth\x01auth=Bearer {token}\x01\x01".encode()
        ).decode(),
    ]
    assert "AUTHENTICATE" in caplog.text
    assert not [secret for secret in wire_secrets if secret in caplog.text]


async def test_xoauth2_account_and_account_without_credentials(
    ctx: Context, mailbox: Mailbox, make_account: AccountFactory, dovecot: DovecotServer
) -> None:
    token = "ya29." + mailbox.password
    dovecot.add_user(mailbox.user + "-oauth", token)
    oauth_box = Mailbox(dovecot, mailbox.user + "-oauth", token)
    oauth_box.append(make_message("via oauth"))
    account_id = make_account(oauth_box, password="")  # no IMAP password stored

    missing = await sync_account(ctx=ctx, account_id=account_id)
    assert not missing.ok and missing.error_kind == "auth"
    assert missing.error == "authentication failed: the account has no IMAP password"

    async def tokens() -> str:
        return token

    result = await sync_account(ctx=ctx, account_id=account_id, token_provider=tokens)
    assert result.ok and result.fetched == 1
    assert account(ctx, account_id).last_sync_error is None


async def test_server_stopped_mid_sync_then_next_sync_has_no_gap_or_duplicate(
    ctx: Context, mailbox: Mailbox, make_account: AccountFactory, dovecot: DovecotServer
) -> None:
    mailbox.append(*(make_message(f"m{i:02}") for i in range(30)))
    account_id = make_account(mailbox)

    def stop_after_first_batch(done: int, total: int) -> None:
        if done == 5:
            dovecot.stop(hard=True)

    broken = await sync_account(
        ctx=ctx,
        account_id=account_id,
        progress=stop_after_first_batch,
        limits=SyncLimits(batch_size=5),
        io_timeout=5,
    )
    assert not broken.ok and broken.fetched == 5
    assert broken.error_kind in ("connection_lost", "refused")
    assert account(ctx, account_id).last_sync_error == broken.error

    dovecot.start()
    resumed = await sync_account(ctx=ctx, account_id=account_id, limits=SyncLimits(batch_size=5))
    assert resumed.ok and resumed.fetched == 25
    stored = rows(ctx, account_id)
    assert [r.uid for r in stored] == list(range(1, 31))
    assert [r.subject for r in stored] == [f"m{i:02}" for i in range(30)]
    assert account(ctx, account_id).last_sync_error is None
