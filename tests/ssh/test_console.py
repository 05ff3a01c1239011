"""The console over SSH with a real client (asyncssh's, the screen read by pyte): each key's
session is `mailbell tui --as NAME` in a pty of the client's size, sees its own tenants only,
is audited as NAME@ADDRESS, and ends when the client leaves."""

from __future__ import annotations

import asyncio
import os

from core.services.audit import list_entries
from tests.support.console_keys import add_console_key
from tests.support.factories import read_settings
from tests.support.ssh_console import WAIT_S, Console
from tests.tui.conftest import seed

SETTINGS_PAGE = "Emails of recipients"
LIST_FOCUSED = "del Remove"  # the footer once the recipients list has the focus


async def test_a_tenant_admin_sees_its_tenant_only_and_its_change_is_audited_as_key_at_address(
    ctx, actor, settings, server
) -> None:
    seed(ctx, actor)
    alice = add_console_key(settings, "alice", "tenant-admin", ["acme"])
    # The client's environment requests are never the session's: with this home or this
    # client address the session would not start, or be audited under another name.
    requests = {"MAILBELL_HOME": "/nonexistent", "MAILBELL_SSH_CLIENT": "10.6.6.6:1"}
    async with Console.open(
        server.port, alice.private_path, size=(100, 30), env=requests
    ) as console:
        screen = await console.wait_for("tenant acme", "alice@127.0.0.1", SETTINGS_PAGE)
        assert "globex" not in screen.lower()
        await console.press("2")  # Tenants
        tenants = await console.wait_for("Acme Corp")
        assert "Globex" not in tenants
        await console.press("4")  # Settings: the recipients list has the focus
        await console.wait_for(SETTINGS_PAGE, LIST_FOCUSED)
        await console.press("tab", " ", "ctrl+s")  # the first toggle, on, saved
        await console.wait_for("settings saved")
    assert read_settings(ctx, "acme").toggles["notify_user_registration"] is True
    with ctx.session() as session:
        newest = list_entries(session=session, tenant="acme", limit=1)[0]
    assert (newest.actor, newest.source) == ("alice@127.0.0.1", "ssh")


async def test_a_viewers_save_is_refused_on_screen_and_changes_nothing(
    ctx, actor, settings, server, db_dump
) -> None:
    seed(ctx, actor)
    vera = add_console_key(settings, "vera", "viewer", ["acme"])
    before = db_dump()
    async with Console.open(server.port, vera.private_path, size=(100, 30)) as console:
        await console.wait_for("tenant acme", SETTINGS_PAGE, LIST_FOCUSED)
        await console.press("tab", " ", "ctrl+s")
        await console.wait_for("read-only")
    assert db_dump() == before


async def test_two_sessions_at_once_each_see_their_own_tenant(ctx, actor, settings, server) -> None:
    seed(ctx, actor)
    alice = add_console_key(settings, "alice", "tenant-admin", ["acme"])
    gina = add_console_key(settings, "gina", "tenant-admin", ["globex"])
    async with (
        Console.open(server.port, alice.private_path, size=(100, 30)) as one,
        Console.open(server.port, gina.private_path, size=(100, 30)) as two,
    ):
        first, second = await asyncio.gather(
            one.wait_for("tenant acme", "alice@127.0.0.1"),
            two.wait_for("tenant globex", "gina@127.0.0.1"),
        )
        assert "globex" not in first and "acme" not in second
        assert len(server.sessions) == 2


async def test_closing_the_client_ends_the_session_process(ctx, actor, settings, server) -> None:
    seed(ctx, actor)
    alice = add_console_key(settings, "alice", "tenant-admin", ["acme"])
    async with Console.open(server.port, alice.private_path) as console:
        await console.wait_for("tenant acme")
        [session] = server.sessions
        pid = session.pid
        assert pid is not None and _alive(pid)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while _alive(pid) or server.sessions:
        assert loop.time() < deadline, f"session process {pid} still runs after the client left"
        await asyncio.sleep(0.05)


async def test_a_resized_client_gets_a_screen_of_the_new_size(ctx, actor, settings, server) -> None:
    seed(ctx, actor)
    alice = add_console_key(settings, "alice", "tenant-admin", ["acme"])
    async with Console.open(server.port, alice.private_path, size=(80, 24)) as console:
        narrow = await console.wait_for("tenant acme", SETTINGS_PAGE)
        assert "(tenant-admin of acme)" not in narrow  # cut at 80 columns
        console.resize(120, 30)
        wide = await console.wait_for("(tenant-admin of acme)", "Webhooks")
        assert max(len(line) for line in wide.splitlines()) > 80


async def test_quitting_the_tui_closes_the_channel_with_its_exit_code(
    ctx, actor, settings, server
) -> None:
    seed(ctx, actor)
    alice = add_console_key(settings, "alice", "tenant-admin", ["acme"])
    async with Console.open(server.port, alice.private_path) as console:
        await console.wait_for("tenant acme", SETTINGS_PAGE, LIST_FOCUSED)
        await console.press("q")
        assert await console.exit_status() == 0
    assert not server.sessions


def _alive(pid: int) -> bool:
    """Whether `pid` is a process that has not been reaped (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        return os.path.exists(f"/proc/{pid}")
