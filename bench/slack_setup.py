"""What both parts of bench/slack.py share: the bench's Slack identities, the Web API stand-in
(tests/support/slack_api.py, in its own process), and a tenant whose channels mirror every event.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench-token"
ADMIN = "UBENCHADM1"
TEAM = "T0TEAM"
CHANNEL = "CBENCH0000"

STAND_IN = """
import asyncio, sys
sys.path.insert(0, sys.argv[1])
from tests.support.slack_api import SlackApiStandIn

async def main():
    api = SlackApiStandIn(token=sys.argv[2])
    await api.start()
    print(api.port, flush=True)
    while True:
        await asyncio.sleep(3600)
        api.calls.clear()

asyncio.run(main())
"""


def start_stand_in() -> tuple[subprocess.Popen[bytes], str]:
    process = subprocess.Popen(
        [sys.executable, "-c", STAND_IN, str(ROOT), TOKEN], stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    port = int(process.stdout.readline())
    return process, f"http://127.0.0.1:{port}/api/"


def settings(home: Path, api_url: str) -> Any:
    from core.config import Settings

    return Settings(
        home=home,
        slack_bot_token=TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=api_url,
        slack_admins=ADMIN,
    )


def setup_tenant(home: Path, api_url: str, channels: list[str]) -> None:
    from core.context import build_context
    from core.services.audit import Actor
    from core.services.slack import add_routes, link_channel
    from core.services.tenants import create_tenant

    ctx = build_context(settings(home, api_url))
    actor = Actor(name="bench", source="cli")
    with ctx.session() as session:
        create_tenant(session=session, slug="bench", actor=actor)
        for channel in channels:
            link = link_channel(
                session=session, team_id=TEAM, channel_id=channel, tenant_slug="bench", actor=actor
            )
            add_routes(session=session, link=link, names=["all"], actor=actor)
    ctx.close()
