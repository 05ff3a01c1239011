"""A local stand-in for the Slack Web API, and signed requests for the bot.

    async with SlackApiStandIn(token="xoxb-test") as api:
        ctx.settings.slack_api_url = api.url               # http://127.0.0.1:PORT/api/
        api.fail("chat.postMessage", status=429, retry_after=1, times=3)
        api.fail("chat.postMessage", error="channel_not_found", channel="CGONE")
        ...
        api.posts("C1")                                    # chat.postMessage bodies that got ok
        api.calls                                          # every call: Call(method, body, ...)
        api.responses("cmd-1")                             # what came to a response_url
        await api.wait_for(lambda: len(api.posts()) == 3)

Methods: `auth.test`, `chat.postMessage` (JSON or form), `chat.update`, `views.open`,
`views.update` and `views.publish` (each answers the view with an `id` and a `hash`; `views.update`
keeps the id it is given); anything else answers `{"ok": true}`; a wrong bearer token answers
`ok: false, invalid_auth`. `response_url(name)` gives a URL whose POSTs are recorded under `name`
(Slack's response_url). `views("views.publish")` lists the views sent with that method.

`SlackRequests(secret)` builds what Slack sends to `/slack/events`: a slash command, a
block_actions payload (from a message, a modal or the Home tab), a view_submission (form-encoded)
or an Events API callback (JSON), signed (HMAC-SHA256 v0), with the timestamp and signature
overridable to make bad requests.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import web

from tests.support.local_site import start_site

TEAM_ID = "T0TEAM"
BOT_USER = "UBOT0001"


@dataclass
class Call:
    method: str
    body: dict[str, Any]
    status: int
    answer: dict[str, Any]
    at: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.answer.get("ok"))


@dataclass
class _Fault:
    method: str
    status: int
    error: str | None
    retry_after: float | None
    channel: str | None
    times: int | None


class SlackApiStandIn:
    def __init__(self, *, token: str = "xoxb-test-token", host: str = "127.0.0.1") -> None:
        self.token = token
        self.host = host
        self.calls: list[Call] = []
        self.responded: dict[str, list[dict[str, Any]]] = {}
        self.delay_s = 0.0  # answer every call this much later
        self._faults: list[_Fault] = []
        self._ts = itertools.count(1)
        self._views = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- control ------------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: float | None = None,
        channel: str | None = None,
        times: int | None = None,
    ) -> None:
        """Answer `method` (for `channel`, if given) with a failure, `times` times (None: always).

        `status=429` sends `Retry-After` (default 1) and `ok: false, ratelimited`; `error`
        sends `ok: false` with that error.
        """
        if status == 429:
            error = error or "ratelimited"
            retry_after = 1 if retry_after is None else retry_after
        self._faults.append(_Fault(method, status, error, retry_after, channel, times))

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/api/"

    def response_url(self, name: str) -> str:
        return f"http://{self.host}:{self.port}/response/{name}"

    # -- what happened --------------------------------------------------------------------------

    def methods(self) -> list[str]:
        return [call.method for call in self.calls]

    def posts(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Bodies of successful chat.postMessage calls (to `channel`)."""
        return [
            c.body
            for c in self.calls
            if c.method == "chat.postMessage" and c.ok and channel in (None, c.body.get("channel"))
        ]

    def updates(self) -> list[dict[str, Any]]:
        return [c.body for c in self.calls if c.method == "chat.update" and c.ok]

    def views(self, method: str) -> list[dict[str, Any]]:
        """Bodies of successful `views.open` / `views.update` / `views.publish` calls."""
        return [c.body for c in self.calls if c.method == method and c.ok]

    def responses(self, name: str) -> list[dict[str, Any]]:
        return list(self.responded.get(name, []))

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; calls: {self.methods()}")
            await asyncio.sleep(0.01)

    # -- server -------------------------------------------------------------------------------

    async def start(self) -> SlackApiStandIn:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_post("/response/{name}", self._response)
        self._runner, self.port = await start_site(app, self.host)
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SlackApiStandIn:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        raw = await request.text()
        if request.content_type == "application/json":
            loaded = json.loads(raw or "{}")
            return loaded if isinstance(loaded, dict) else {}
        body: dict[str, Any] = dict(parse_qsl(raw))
        for key in ("blocks", "attachments", "view"):
            if isinstance(body.get(key), str):
                body[key] = json.loads(body[key])
        return body

    def _fault_for(self, method: str, body: dict[str, Any]) -> _Fault | None:
        for fault in self._faults:
            if fault.method != method or fault.times == 0:
                continue
            if fault.channel is not None and body.get("channel") != fault.channel:
                continue
            if fault.times is not None:
                fault.times -= 1
            return fault
        return None

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body = await self._body(request)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        authorization = request.headers.get("Authorization", "")
        token = authorization.removeprefix("Bearer ").strip() or body.get("token")
        headers: dict[str, str] = {}
        fault = self._fault_for(method, body)
        if token != self.token:
            status, answer = 200, {"ok": False, "error": "invalid_auth"}
        elif fault is not None:
            status, answer = fault.status, {"ok": False, "error": fault.error or "fatal_error"}
            if fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
        else:
            status, answer = 200, self._answer(method, body)
        self.calls.append(Call(method, body, status, answer))
        return web.json_response(answer, status=status, headers=headers)

    def _answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://mailbell-test.slack.com/",
                "team": "mailbell test",
                "user": "mailbell",
                "team_id": TEAM_ID,
                "user_id": BOT_USER,
                "bot_id": "B0BOT",
            }
        if method in ("chat.postMessage", "chat.update"):
            ts = body.get("ts") or f"{int(time.time())}.{next(self._ts):06d}"
            return {"ok": True, "channel": body.get("channel"), "ts": ts, "message": body}
        if method in ("views.open", "views.update", "views.publish"):
            view = body.get("view")
            view = json.loads(view) if isinstance(view, str) else dict(view or {})
            view_id = body.get("view_id") or f"V{next(self._views):08d}"
            return {"ok": True, "view": {**view, "id": view_id, "hash": f"h.{next(self._views)}"}}
        return {"ok": True}

    async def _response(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.responded.setdefault(name, []).append(await self._body(request))
        return web.Response(text="ok")


# -- requests Slack sends to the app --------------------------------------------------------


def signature(secret: str, timestamp: str, body: str) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class SignedRequest:
    body: str
    headers: dict[str, str]


class SlackRequests:
    """Build signed requests as Slack sends them (form-encoded, HMAC v0)."""

    def __init__(self, secret: str, *, team_id: str = TEAM_ID) -> None:
        self.secret = secret
        self.team_id = team_id
        self._trigger = itertools.count(1)

    def sign(
        self,
        body: str,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> SignedRequest:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        return SignedRequest(
            body=body,
            headers={
                "Content-Type": content_type,
                "X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": signature(secret or self.secret, ts, body),
            },
        )

    def command_body(
        self,
        text: str,
        *,
        user: str,
        channel: str,
        response_url: str = "http://127.0.0.1:9/unused",
        command: str = "/mailbell",
        team_id: str | None = None,
    ) -> str:
        return urlencode(
            {
                "token": "verification-token-unused",
                "team_id": team_id or self.team_id,
                "team_domain": "mailbell-test",
                "channel_id": channel,
                "channel_name": channel.lower(),
                "user_id": user,
                "user_name": user.lower(),
                "command": command,
                "text": text,
                "api_app_id": "A0APP",
                "is_enterprise_install": "false",
                "response_url": response_url,
                "trigger_id": f"trigger.{next(self._trigger)}",
            }
        )

    def action_body(
        self,
        *,
        action_id: str,
        value: str,
        user: str,
        channel: str,
        response_url: str,
        message_ts: str | None = None,
        ephemeral: bool = True,
        team_id: str | None = None,
    ) -> str:
        team = team_id or self.team_id
        container: dict[str, Any] = {
            "type": "message",
            "channel_id": channel,
            "is_ephemeral": ephemeral,
        }
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": team},
            "api_app_id": "A0APP",
            "token": "verification-token-unused",
            "container": container,
            "trigger_id": f"trigger.{next(self._trigger)}",
            "team": {"id": team, "domain": "mailbell-test"},
            "channel": {"id": channel, "name": channel.lower()},
            "response_url": response_url,
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": "b1",
                    "value": value,
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        if message_ts is not None:
            container["message_ts"] = message_ts
            payload["message"] = {"type": "message", "ts": message_ts, "text": "status"}
        return urlencode({"payload": json.dumps(payload)})

    def event_body(self, event: dict[str, Any], *, team_id: str | None = None) -> str:
        """An Events API callback (JSON), e.g. `{"type": "app_home_opened", "user": "U1",
        "tab": "home"}`; send it with `sign(body, content_type="application/json")`."""
        team = team_id or self.team_id
        return json.dumps(
            {
                "token": "verification-token-unused",
                "team_id": team,
                "api_app_id": "A0APP",
                "event": {"event_ts": f"{time.time():.6f}", **event},
                "type": "event_callback",
                "event_id": f"Ev{next(self._trigger):08d}",
                "event_time": int(time.time()),
                "authorizations": [{"team_id": team, "user_id": BOT_USER, "is_bot": True}],
            }
        )

    @staticmethod
    def view_state(values: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """`{block_id: {action_id: element state}}` as Slack sends it in `view.state.values`,
        e.g. `{"recipient_0": {"address": {"type": "email_text_input", "value": "a@b.c"}}}`."""
        return {"values": values}

    def view_submission_body(
        self,
        *,
        view: dict[str, Any],
        values: dict[str, dict[str, Any]],
        user: str,
        team_id: str | None = None,
    ) -> str:
        """A view_submission of `view` (as the app opened it: callback_id, private_metadata,
        and the `id`/`hash` the Web API gave it), with the inputs' `values`."""
        team = team_id or self.team_id
        submitted = {**view, "state": self.view_state(values)}
        submitted.setdefault("id", "V0VIEW")
        submitted.setdefault("hash", "h.0")
        payload = {
            "type": "view_submission",
            "team": {"id": team, "domain": "mailbell-test"},
            "user": {"id": user, "username": user.lower(), "team_id": team},
            "api_app_id": "A0APP",
            "token": "verification-token-unused",
            "trigger_id": f"trigger.{next(self._trigger)}",
            "view": submitted,
            "response_urls": [],
        }
        return urlencode({"payload": json.dumps(payload)})

    def view_action_body(
        self,
        *,
        view: dict[str, Any],
        action_id: str,
        value: str = "",
        user: str,
        values: dict[str, dict[str, Any]] | None = None,
        block_id: str = "b1",
        team_id: str | None = None,
    ) -> str:
        """A block_actions payload from a button in a modal or the Home tab (`view["type"]`
        is `modal` or `home`): no channel, no response_url; the view with its state."""
        team = team_id or self.team_id
        shown = {**view, "state": self.view_state(values or {})}
        shown.setdefault("id", "V0VIEW")
        shown.setdefault("hash", "h.0")
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": team},
            "api_app_id": "A0APP",
            "token": "verification-token-unused",
            "container": {"type": "view", "view_id": shown["id"]},
            "trigger_id": f"trigger.{next(self._trigger)}",
            "team": {"id": team, "domain": "mailbell-test"},
            "view": shown,
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": block_id,
                    "value": value,
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        return urlencode({"payload": json.dumps(payload)})
