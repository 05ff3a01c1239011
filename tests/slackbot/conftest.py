"""The real bolt app over HTTP (aiohttp server with `slackbot.http.mount`), a local Slack Web
API stand-in, tenants with linked channels and admins."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from core.services.audit import Actor
from core.services.slack import link_channel
from core.services.slack_admins import add_admin
from tests.support.factories import make_tenant
from tests.support.fixtures import smtp_servers, tls_certs  # noqa: F401
from tests.support.local_site import start_site
from tests.support.slack_api import TEAM_ID, SignedRequest, SlackApiStandIn, SlackRequests

SECRET = "test-signing-secret"
TOKEN = "xoxb-test-token"
SYSTEM_ADMIN = "USYSADMIN1"
ACME_ADMIN = "UACMEADMIN"
GLOBEX_ADMIN = "UGLOBEXADM"
STRANGER = "USTRANGER1"
ACME_CHANNEL = "CACME00001"
GLOBEX_CHANNEL = "CGLOBEX001"
UNLINKED_CHANNEL = "CUNLINKED1"


@dataclass
class Answer:
    status: int
    text: str
    response_url: str

    @property
    def json(self) -> dict[str, Any]:
        import json

        return json.loads(self.text)

    @property
    def message(self) -> str:
        """The ack's text plus the text of its blocks."""
        data = self.json
        parts = [data.get("text", "")]
        for block in data.get("blocks") or []:
            text = block.get("text")
            if isinstance(text, dict):
                parts.append(text.get("text", ""))
            for element in block.get("elements", []) + block.get("fields", []):
                parts.append(element.get("text", "") if isinstance(element, dict) else "")
        return "\n".join(parts)


class Bot:
    """Sends signed Slack requests to the app's /slack/events."""

    def __init__(self, url: str, api: SlackApiStandIn, http: aiohttp.ClientSession) -> None:
        self.url = url
        self.api = api
        self.http = http
        self.requests = SlackRequests(SECRET)
        self._n = 0

    def response_url(self) -> str:
        self._n += 1
        return self.api.response_url(f"r{self._n}")

    async def send(self, request: SignedRequest, response_url: str = "") -> Answer:
        async with self.http.post(self.url, data=request.body, headers=request.headers) as resp:
            return Answer(resp.status, await resp.text(), response_url.rpartition("/")[2])

    async def command(
        self, text: str, *, user: str, channel: str = ACME_CHANNEL, team: str | None = None
    ) -> Answer:
        url = self.response_url()
        body = self.requests.command_body(
            text, user=user, channel=channel, response_url=url, team_id=team
        )
        return await self.send(self.requests.sign(body), url)

    async def click(
        self,
        action_id: str,
        value: str,
        *,
        user: str,
        channel: str = ACME_CHANNEL,
        message_ts: str | None = None,
    ) -> Answer:
        url = self.response_url()
        body = self.requests.action_body(
            action_id=action_id,
            value=value,
            user=user,
            channel=channel,
            response_url=url,
            message_ts=message_ts,
            ephemeral=message_ts is None,
        )
        return await self.send(self.requests.sign(body), url)

    async def event(self, event: dict[str, Any], *, team: str | None = None) -> Answer:
        """An Events API callback, e.g. `{"type": "app_home_opened", "user": U, "tab": "home"}`."""
        body = self.requests.event_body(event, team_id=team)
        return await self.send(self.requests.sign(body, content_type="application/json"))

    async def home_opened(self, user: str) -> Answer:
        return await self.event(
            {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home"}
        )

    async def submit(
        self, view: dict[str, Any], values: dict[str, dict[str, Any]], *, user: str
    ) -> Answer:
        """Submit a modal the app opened (a body of `views.open`'s `view`) with these inputs."""
        body = self.requests.view_submission_body(view=view, values=values, user=user)
        return await self.send(self.requests.sign(body))

    async def view_click(
        self,
        view: dict[str, Any],
        action_id: str,
        value: str = "",
        *,
        user: str,
        values: dict[str, dict[str, Any]] | None = None,
        block_id: str = "b1",
    ) -> Answer:
        """Press a button in a modal or the Home tab."""
        body = self.requests.view_action_body(
            view=view,
            action_id=action_id,
            value=value,
            user=user,
            values=values,
            block_id=block_id,
        )
        return await self.send(self.requests.sign(body))


@pytest.fixture
async def slack_api() -> AsyncIterator[SlackApiStandIn]:
    async with SlackApiStandIn(token=TOKEN) as api:
        yield api


@pytest.fixture
def slack_ctx(ctx, slack_api):
    ctx.settings.slack_bot_token = TOKEN
    ctx.settings.slack_signing_secret = SECRET
    ctx.settings.slack_api_url = slack_api.url
    ctx.settings.slack_admins = SYSTEM_ADMIN
    return ctx


@pytest.fixture
def tenants(slack_ctx):
    """acme and globex, each with a linked channel and a tenant admin."""
    setup = Actor(name="setup", source="cli")
    with slack_ctx.session() as session:
        for slug, channel, admin in (
            ("acme", ACME_CHANNEL, ACME_ADMIN),
            ("globex", GLOBEX_CHANNEL, GLOBEX_ADMIN),
        ):
            tenant = make_tenant(session, slug=slug, actor=setup)
            link_channel(
                session=session,
                team_id=TEAM_ID,
                channel_id=channel,
                tenant_slug=slug,
                actor=setup,
            )
            add_admin(session=session, user_id=admin, tenant=tenant, actor=setup)
    return slack_ctx


@pytest.fixture
async def bot(slack_ctx, slack_api) -> AsyncIterator[Bot]:
    from slackbot.http import mount

    web_app = web.Application()
    mount(web_app, slack_ctx)
    runner, port = await start_site(web_app)
    async with aiohttp.ClientSession() as http:
        yield Bot(f"http://127.0.0.1:{port}/slack/events", slack_api, http)
    await runner.cleanup()


@pytest.fixture
def state(settings):
    """Every row but the audit trail and the signatures of requests seen (each accepted request
    records its own; see test_request_guard) (SQLite or PostgreSQL): what a refused command
    must not change."""
    from tests.support.storage import dump as dump_all

    def dump() -> list[str]:
        rows = dump_all(settings.effective_database_url).splitlines()
        skipped = ("audit_entry: ", "slack_request_seen: ")
        return [line for line in rows if not line.startswith(skipped)]

    return dump


@pytest.fixture
def audit(slack_ctx):
    def entries(action: str | None = None) -> list[Any]:
        from core.services.audit import list_entries

        with slack_ctx.session() as session:
            rows = list_entries(session=session, limit=1000)
        return [r for r in rows if action is None or r.action == action]

    return entries


@pytest.fixture
def slack_cli(cli):
    """`cli`, with `mailbell slack …` mounted if the composition root does not mount it yet."""
    from mailbell.cli import app
    from mailbell.commands import slack

    if not any(group.name == "slack" for group in app.registered_groups):
        app.add_typer(slack.app, name="slack")
    return cli


# The tests that check the "busy" answer itself keep the real answer budget.
_BUDGET_TESTS = ("test_busy_database", "test_request_guard")


@pytest.fixture(autouse=True)
def _answer_budget_of_a_loaded_machine(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CI runs both databases' suites side by side on two CPUs, where a command can wait more
    than its 2.5 s answer budget for a CPU; these tests check what a command does, not how fast
    it answers, so they give it more time."""
    if not request.module.__name__.endswith(_BUDGET_TESTS):
        monkeypatch.setattr("slackbot.listeners.offloop.ANSWER_BY_S", 10.0)
