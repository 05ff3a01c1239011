"""Schemathesis against a running `mailbell serve`: generated valid and invalid requests to every
documented operation never get a 5xx, and every answer matches openapi.yaml (status codes,
content types, response schemas, negative data rejected) — with a tenant token, a read-only
token and an events-only token. This module is also schemathesis' hooks module
(SCHEMATHESIS_HOOKS), whose `token_confinement` check fails a run on any 2xx the token must not
get: a read-only token on a write, an events-only token outside `POST /api/events`, a tenant
token on another tenant's server, account, delivery, event, webhook, token, Slack channel or
`?tenant=` (`map_path_parameters` and `map_query` put that tenant's ids in about half the
requests). After the runs, the other tenant's resources read the same as before.

Bounded: a few examples per operation (MAILBELL_FUZZ_EXAMPLES, default 8 for the tenant
token, MAILBELL_FUZZ_TOKEN_EXAMPLES, default 3 for the others) and a fixed seed
(MAILBELL_FUZZ_SEED) so a failure reproduces. The test_email operation is fuzzed with the token
of a tenant that has no mail server, so no run ever tries to reach a mail server the fuzzer
made up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import schemathesis

from tests.api.serve_process import ROOT, ServeProcess

if TYPE_CHECKING:
    from core.context import Context
    from tests.api.conftest import Tokens

TEST_EMAIL = "/api/tenant/notification/test_email"
# A schema-valid request may still break a rule the schema cannot say (a system template for
# a tenant, a toggle without recipients): 400 is right there, so "valid data accepted" is off.
EXCLUDED_CHECKS = "positive_data_acceptance"
KIND = "MAILBELL_FUZZ_KIND"  # tenant, read or events: the token the run uses
FOREIGN = "MAILBELL_FUZZ_FOREIGN"  # JSON: path prefix -> the other tenant's id (or slug) there
AIMED = "aimed.txt"  # in the run's directory: each prefix the hooks aimed at the other tenant
OTHER_SLUG = "globex"
INGEST = ("POST", "/api/events")
# Reads (GET) of these paths answer without a token: never a scope's success.
PUBLIC = {"/healthz", "/metrics", "/api/openapi.yaml", "/api/openapi.json"}
# The other tenant's rows by the operation path that names them (the path parameter `id`).
FOREIGN_PREFIXES = {
    "server": "/api/v1/mail-servers/",
    "account": "/api/v1/email-accounts/",
    "delivery": "/api/v1/deliveries/",
    "event": "/api/v1/events/",
    "webhook": "/api/webhooks/",
    "token": "/api/v1/tokens/",
}
# The other tenant's linked Slack channel: named by two path parameters at once.
SLACK_PREFIX = "/api/v1/slack/channels/"
SLACK_CHANNEL = "C0GLOBEX"


def _foreign() -> dict[str, Any]:
    found: dict[str, Any] = json.loads(os.environ.get(FOREIGN, "{}"))
    return found


def _picked(value: Any) -> bool:
    """About half of the generated values, the same ones on every run (a seeded run repeats)."""
    return zlib.crc32(repr(value).encode()) % 2 == 0


@schemathesis.hook
def map_path_parameters(context: Any, path_parameters: dict[str, Any]) -> dict[str, Any]:
    path = context.operation.path
    for prefix, value in _foreign().items():
        if not path.startswith(prefix):
            continue
        if isinstance(value, dict):  # {"team_id": …, "channel_id": …}: both or neither
            given = [(path_parameters or {}).get(name) for name in value]
            if all(isinstance(part, str) for part in given) and _picked(given):
                path_parameters.update(value)
                _aimed(prefix)
            continue
        for name in ("id", "slug"):
            given = (path_parameters or {}).get(name)
            # only a value of the right type: a negative case stays negative
            if isinstance(given, type(value)) and not isinstance(given, bool) and _picked(given):
                path_parameters[name] = value
                _aimed(prefix)
    return path_parameters


def _aimed(prefix: str) -> None:
    with open(AIMED, "a", encoding="utf-8") as log:  # the run's directory is its cwd
        log.write(prefix + "\n")


@schemathesis.hook
def map_query(context: Any, query: dict[str, Any]) -> dict[str, Any]:
    if query and _foreign() and isinstance(query.get("tenant"), str) and _picked(query["tenant"]):
        query["tenant"] = OTHER_SLUG
    return query


@schemathesis.check
def token_confinement(ctx: Any, response: Any, case: Any) -> None:
    if not 200 <= response.status_code < 300:
        return
    method, path = case.method.upper(), case.operation.path
    if path in PUBLIC and method == "GET":
        return
    kind = os.environ.get(KIND, "tenant")
    if kind == "read" and method not in ("GET", "HEAD"):
        raise AssertionError(f"a read-only token got {response.status_code} on {method} {path}")
    if kind == "events" and (method, path) != INGEST:
        raise AssertionError(f"an events-only token got {response.status_code} on {method} {path}")
    foreign = _foreign()
    for prefix, value in foreign.items():
        given = case.path_parameters or {}
        named = value.items() <= given.items() if isinstance(value, dict) else False
        if path.startswith(prefix) and (named or value in (given.get("id"), given.get("slug"))):
            raise AssertionError(f"{method} {path} reached the other tenant's {value!r}")
    if foreign and (case.query or {}).get("tenant") == OTHER_SLUG:
        raise AssertionError(f"{method} {path} acted on ?tenant={OTHER_SLUG}")


def _schemathesis(
    url: str, token: str, workdir: Path, *filters: str, kind: str, examples: str,
    foreign: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{url}/api/openapi.yaml",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--exclude-checks",
        EXCLUDED_CHECKS,
        "--max-examples",
        examples,
        "--seed",
        os.environ.get("MAILBELL_FUZZ_SEED", "20261122"),
        "--request-timeout",
        "10",
        "--no-shrink",
        *filters,
    ]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.api.test_fuzz",
        "PYTHONPATH": str(ROOT),
        KIND: kind,
        FOREIGN: json.dumps(foreign or {}),
    }
    result = subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]


def _seed_other_tenant(ctx: Context) -> dict[str, Any]:
    """The other tenant's server, account, event with a delivery, webhook, token and linked
    Slack channel with routes: their ids by path prefix. The server is on a closed local port:
    if a fence failed, nothing leaves."""
    from core.models.mail import EmailAccountCreate
    from core.services.accounts import create_email_account
    from core.services.slack import add_routes, link_channel
    from core.services.tenants import get_tenant
    from tests.support.factories import TESTER as ADMIN
    from tests.support.factories import configure_tenant, emit_event, make_mail_server, make_webhook
    from tests.support.slack_api import TEAM_ID
    from tests.support.tokens import make_token, token_row

    with ctx.session() as session:
        other = get_tenant(session=session, slug=OTHER_SLUG)
        server = make_mail_server(session, ctx.box, other, host="127.0.0.1", port=9)
        configure_tenant(session, ctx.box, other)
        account = create_email_account(
            session=session, box=ctx.box, tenant=other, actor=ADMIN,
            data=EmailAccountCreate.from_fields({"email": "desk@globex.org",
                                                 "display_name": "Desk",
                                                 "mail_server_id": server.id}),
        )  # fmt: skip
        emitted = emit_event(session, ctx.box, other)
        hook = make_webhook(session, ctx.box, other, "http://127.0.0.1:9/hook")
        token = token_row(session, make_token(session, other, name="globex-extra"))
        link = link_channel(session=session, team_id=TEAM_ID, channel_id=SLACK_CHANNEL,
                            tenant_slug=OTHER_SLUG, actor=ADMIN)  # fmt: skip
        add_routes(session=session, link=link, names=["queue_call_lost", "queue_sla_breached"],
                   actor=ADMIN)  # fmt: skip
        ids = {
            "server": server.id, "account": account.id, "delivery": emitted.deliveries[0].id,
            "event": emitted.event_id, "webhook": hook.id, "token": token.id,
        }  # fmt: skip
    foreign: dict[str, Any] = {FOREIGN_PREFIXES[kind]: value for kind, value in ids.items()}
    slack = {"team_id": TEAM_ID, "channel_id": SLACK_CHANNEL}
    return {**foreign, "/api/v1/tenants/": OTHER_SLUG, SLACK_PREFIX: slack}


def _other_tenant_view(url: str, token: str, foreign: dict[str, Any]) -> dict[str, Any]:
    """What the other tenant reads of its own resources (each seeded one that has a read, and
    the lists), without the times of last use (this very token's changes as it reads)."""
    singles = ("server", "account", "delivery", "event")
    paths = [
        "/api/v1/mail-servers", "/api/v1/email-accounts", "/api/webhooks", "/api/v1/tokens",
        "/api/tenant/notification", "/api/custom_email_templates", "/api/v1/slack/channels",
        *(f"{FOREIGN_PREFIXES[kind]}{foreign[FOREIGN_PREFIXES[kind]]}" for kind in singles),
    ]  # fmt: skip
    view = {}
    for path in paths:
        request = urllib.request.Request(url + path, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            view[path] = json.loads(response.read(), object_hook=_without_last_use)
    return view


def _without_last_use(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key != "last_used_at"}


def test_fuzz_every_operation_with_each_kind_of_token(
    ctx: Context, tokens: Tokens, tmp_path: Path
) -> None:
    from core.services.tenants import get_tenant
    from core.services.tokens import create_token
    from tests.support.factories import TESTER as ADMIN
    from tests.support.factories import make_tenant
    from tests.support.tokens import make_token

    foreign = _seed_other_tenant(ctx)
    with ctx.session() as session:
        idle = make_tenant(session, slug="idle", actor=ADMIN)
        idle_token = create_token(session=session, tenant=idle, name="fuzz", actor=ADMIN)
        acme = get_tenant(session=session, slug="acme")
        reader = make_token(session, acme, scopes=["read"])
        emitter = make_token(session, acme, scopes=["events"])
        # reads the other tenant's token too (`admin`)
        viewer = make_token(session, get_tenant(session=session, slug=OTHER_SLUG),
                            scopes=["read", "admin"])  # fmt: skip
    examples = os.environ.get("MAILBELL_FUZZ_EXAMPLES", "8")
    few = os.environ.get("MAILBELL_FUZZ_TOKEN_EXAMPLES", "3")
    with ServeProcess("--no-worker", log_path=tmp_path / "serve.log") as serve:
        before = _other_tenant_view(serve.url, viewer, foreign)
        _schemathesis(serve.url, tokens.acme, tmp_path, "--exclude-path", TEST_EMAIL,
                      kind="tenant", examples=examples, foreign=foreign)  # fmt: skip
        _schemathesis(serve.url, idle_token.plaintext, tmp_path, "--include-path", TEST_EMAIL,
                      kind="tenant", examples=examples)  # fmt: skip
        _schemathesis(serve.url, reader, tmp_path, "--exclude-path", TEST_EMAIL,
                      kind="read", examples=few)  # fmt: skip
        _schemathesis(serve.url, emitter, tmp_path, "--exclude-path", TEST_EMAIL,
                      kind="events", examples=few)  # fmt: skip
        after = _other_tenant_view(serve.url, viewer, foreign)
        logs = serve.logs
        code, _ = serve.terminate()
    assert code == 0
    assert '"status": 500' not in logs and '"level": "error"' not in logs
    assert after == before
    # every foreign row was aimed at (a renamed path parameter would silently aim nowhere)
    assert set((tmp_path / AIMED).read_text().split()) == set(foreign)
    globex_channels = before["/api/v1/slack/channels"]["items"]
    assert [c["events"] for c in globex_channels] == [["QUEUE_CALL_LOST", "QUEUE_SLA"]]
