"""Malformed input to a real `mailbell serve` is a 4xx naming what is wrong, never a 500 or a
traceback, and changes nothing: bearer tokens that are not UTF-8, integers Python refuses to
convert, lone surrogates anywhere in a body, over-long idempotency keys and payload strings.
A database locked by another process is 503 with `Retry-After`."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, make_url

from core.config import Settings
from core.context import Context
from core.models.tenancy import NotificationSettingsUpdate
from core.services.notifications import update_notification_settings
from core.services.tenants import get_tenant
from tests.api.conftest import ADMIN, QUEUE_CALL_LOST, Tokens
from tests.api.serve_process import ServeProcess
from tests.support.raw_http import RawAnswer, post_json_text, raw_request

EVENTS = "/api/events"
SETTINGS = "/api/tenant/notification"
TEMPLATE = "/api/custom_email_templates/QUEUE_CALL_LOST"
HUGE = "1" * 5000


@pytest.fixture
def serve(ctx: Context, tokens: Tokens, tmp_path: Path) -> Iterator[ServeProcess]:
    """`mailbell serve` for a configured tenant acme, its tokens already used once (the first
    use stamps `last_used_at`, so "nothing changed" compares like with like)."""
    with ctx.session() as session:
        update_notification_settings(
            session=session,
            box=ctx.box,
            tenant=get_tenant(session=session, slug="acme"),
            changes=NotificationSettingsUpdate.parse(
                {
                    "server": "smtp.acme.example",
                    "auth": "DISABLE",
                    "mail_from": "pbx@acme.example",
                    "recipients": "ops@acme.example",
                    "notify_queue_call_lost": True,
                },
                system=False,
            ),
            actor=ADMIN,
        )
    with ServeProcess("--no-worker", log_path=tmp_path / "serve.log") as process:
        for token in (tokens.acme, tokens.system):
            answer = raw_request(
                process.port, "GET", SETTINGS, headers=[("Authorization", f"Bearer {token}")]
            )
            assert answer.status == 200, answer.text
        yield process
        logs = process.logs
    assert "Traceback" not in logs and '"status": 500' not in logs, logs[-4000:]


def _refused(answer: RawAnswer, status: int, field: str | None) -> dict[str, object]:
    assert answer.status == status, answer.text
    assert "Traceback" not in answer.text and answer.headers["x-request-id"]
    body = answer.json
    assert isinstance(body, dict) and body["error"]
    assert body.get("field") == field, body
    return body


NOT_UTF8_AUTHORIZATIONS = (
    b"Bearer \xff\xfe",
    b"Bearer mb_\xc3\x28abc",  # a broken two-byte sequence
    b"bearer \xed\xa0\x80",  # a surrogate encoded as UTF-8
    b"\xff\xfe token",
)
HUGE_NUMBERS = (
    (SETTINGS, f'{{"port": {HUGE}}}'),
    (SETTINGS, f'{{"recipients": "ops@acme.example", "timeout": -{HUGE}}}'),
    (EVENTS, f'{{"event": "QUEUE_CALL_LOST", "data": {{"waiting_seconds": {HUGE}}}}}'),
    (EVENTS, f'{{"event": "QUEUE_CALL_LOST", "data": {{"x": [{{"y": {HUGE}}}]}}}}'),
    (TEMPLATE, f'{{"subject": "s", "unknown": {HUGE}}}'),
)
# (path, body written by hand, field of the answer, text its message must hold)
LONE_SURROGATES = (
    (SETTINGS, r'{"server": "smtp\ud800.acme.example"}', "server", "server: the value"),
    (SETTINGS, r'{"recipients": "a@acme.example,\udfff@acme.example"}', "recipients", ""),
    (SETTINGS, r'{"\ud800server": "x"}', "body", "the field name '\\ud800server'"),
    (EVENTS, r'{"event": "QUEUE_CALL_LOST\ud800", "data": {}}', "event", ""),
    (EVENTS, r'{"event": "QUEUE_CALL_LOST", "key": "k\udc80", "data": {}}', "key", ""),
    (
        EVENTS,
        '{"event": "QUEUE_CALL_LOST", "data": '
        + json.dumps({**QUEUE_CALL_LOST, "caller_name": "Bob"}).replace("Bob", r"B\ud83dob")
        + "}",
        "data",
        "data.caller_name: the value",
    ),
    (
        EVENTS,
        '{"event": "QUEUE_CALL_LOST", "data": '
        + json.dumps(QUEUE_CALL_LOST)[:-1]
        + r', "extra": {"list": [1, {"\ud800": 2}]}}}',
        "data",
        "data.extra.list[1]: the key '\\ud800'",
    ),
    (TEMPLATE, r'{"subject": "Lost call \ud800"}', "subject", "subject: the value"),
    (TEMPLATE, r'{"body": "<p>{{ caller }}</p>", "\udbff": 1}', "body", "the field name"),
)
NULS = (
    (
        EVENTS,
        r'{"event": "QUEUE_CALL_LOST", "key": "k\u0000", "data": {}}',
        "key",
        "key: the value",
    ),
    (SETTINGS, r'{"server": "smtp.acme.example\u0000"}', "server", "server: the value"),
    (TEMPLATE, r'{"subject": "s", "body": "<p>\u0000</p>"}', "body", "body: the value"),
    (EVENTS, '{"event": "QUEUE_CALL_LOST", "data": {"\\u0000": 1}}', "data", "the key '\\x00'"),
)


def test_a_bearer_token_that_is_not_utf8_is_401(
    serve: ServeProcess, db_dump: Callable[[], str]
) -> None:
    before = db_dump()
    event = json.dumps({"event": "QUEUE_CALL_LOST", "data": QUEUE_CALL_LOST}).encode()
    for authorization in NOT_UTF8_AUTHORIZATIONS:
        for method, path in (("GET", SETTINGS), ("POST", EVENTS), ("POST", TEMPLATE)):
            answer = raw_request(
                serve.port,
                method,
                path,
                headers=[("Authorization", authorization), ("Content-Type", "application/json")],
                body=event if method == "POST" else b"",
            )
            _refused(answer, 401, None)
            assert answer.headers["www-authenticate"].startswith("Bearer")
    assert db_dump() == before


def test_a_json_number_of_5000_digits_is_400(
    serve: ServeProcess, tokens: Tokens, db_dump: Callable[[], str]
) -> None:
    before = db_dump()
    for path, body in HUGE_NUMBERS:
        error = _refused(post_json_text(serve.port, path, body, token=tokens.acme), 400, "body")
        assert "more than 4300 digits" in str(error["error"]), (path, error)
    assert db_dump() == before


def test_a_lone_surrogate_or_nul_anywhere_is_400_naming_the_field(
    serve: ServeProcess, tokens: Tokens, db_dump: Callable[[], str]
) -> None:
    before = db_dump()
    for path, body, field, where in LONE_SURROGATES:
        answer = post_json_text(serve.port, path, body, token=tokens.acme)
        error = str(_refused(answer, 400, field)["error"])
        assert "lone surrogate" in error and where in error, (body, error)
    for path, body, field, where in NULS:  # PostgreSQL text cannot hold NUL
        answer = post_json_text(serve.port, path, body, token=tokens.acme)
        error = str(_refused(answer, 400, field)["error"])
        assert "NUL" in error and where in error, (body, error)
    assert db_dump() == before


def test_an_idempotency_key_over_200_characters_is_400(
    serve: ServeProcess, tokens: Tokens, db_dump: Callable[[], str]
) -> None:
    before = db_dump()
    for key in ("k" * 201, "k" * 100_000):
        body = json.dumps({"event": "QUEUE_CALL_LOST", "data": QUEUE_CALL_LOST, "key": key})
        answer = post_json_text(serve.port, EVENTS, body, token=tokens.acme)
        error = str(_refused(answer, 400, "key")["error"])
        assert "200" in error and key not in error
    assert db_dump() == before

    at_limit = json.dumps({"event": "QUEUE_CALL_LOST", "data": QUEUE_CALL_LOST, "key": "k" * 200})
    accepted = post_json_text(serve.port, EVENTS, at_limit, token=tokens.acme)
    assert accepted.status == 202, accepted.text


def test_a_payload_string_over_its_limit_is_400_naming_the_variable(
    serve: ServeProcess, tokens: Tokens, db_dump: Callable[[], str]
) -> None:
    """Free text (`caller_name`) may be 10,000 characters; shorter fields keep their 500."""
    limits = {"caller_name": 10_000, "reason": 500, "queue_name": 500}
    before = db_dump()
    for variable, limit in limits.items():
        for length in (limit + 1, 900_000):
            data = {**QUEUE_CALL_LOST, variable: "x" * length}
            body = json.dumps({"event": "QUEUE_CALL_LOST", "data": data})
            answer = post_json_text(serve.port, EVENTS, body, token=tokens.acme)
            error = str(_refused(answer, 400, "data")["error"])
            assert f"variable {variable!r}" in error, error
            assert f"at most {limit} characters" in error, error
    assert db_dump() == before

    data = {**QUEUE_CALL_LOST, **{variable: "x" * limit for variable, limit in limits.items()}}
    body = json.dumps({"event": "QUEUE_CALL_LOST", "data": data})
    accepted = post_json_text(serve.port, EVENTS, body, token=tokens.acme)
    assert accepted.status == 202, accepted.text


class WriteLock:
    """Another process holding the database's write lock: `BEGIN IMMEDIATE` in a sqlite3
    process on the test's file, or `LOCK TABLE … IN EXCLUSIVE MODE` (reads still pass) on
    every table of the test's PostgreSQL database, until `release()`."""

    SQLITE_LOCKER = (
        "import sqlite3, sys\n"
        "connection = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "connection.execute('BEGIN IMMEDIATE')\n"
        "print('locked', flush=True)\n"
        "sys.stdin.read()\n"
    )

    def __init__(self, url: str) -> None:
        self._process: subprocess.Popen[str] | None = None
        self._connection: Connection | None = None
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            assert parsed.database
            self._process = subprocess.Popen(
                [sys.executable, "-c", self.SQLITE_LOCKER, parsed.database],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert self._process.stdout is not None
            assert self._process.stdout.readline().strip() == "locked"
            return
        engine = create_engine(url)
        self._connection = engine.connect()
        tables = self._connection.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        ).scalars()
        names = ", ".join(f'"{name}"' for name in tables)
        self._connection.exec_driver_sql(f"LOCK TABLE {names} IN EXCLUSIVE MODE")

    def release(self) -> None:
        if self._process is not None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            self._process.wait(10)
        if self._connection is not None:
            self._connection.rollback()
            self._connection.close()


@pytest.fixture
def lock_timeout(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL engines wait 5 s for a lock, as SQLite waits for its file (core/db.py); a
    `lock_timeout` in libpq's PGOPTIONS wins, and 1 s keeps this test short."""
    if make_url(settings.effective_database_url).get_backend_name() == "postgresql":
        monkeypatch.setenv("PGOPTIONS", "-c lock_timeout=1000")


def test_a_locked_database_is_503_with_retry_after(
    lock_timeout: None,
    serve: ServeProcess,
    tokens: Tokens,
    settings: Settings,
    db_dump: Callable[[], str],
) -> None:
    requests = (
        (EVENTS, json.dumps({"event": "QUEUE_CALL_LOST", "data": QUEUE_CALL_LOST})),
        (SETTINGS, json.dumps({"recipients": "noc-lock-test@acme.example"})),
    )
    before = db_dump()
    lock = WriteLock(settings.effective_database_url)
    try:
        with ThreadPoolExecutor(len(requests)) as pool:
            answers = list(
                pool.map(
                    lambda request: post_json_text(
                        serve.port, *request, token=tokens.acme, timeout=60
                    ),
                    requests,
                )
            )
    finally:
        lock.release()
    for answer in answers:
        body = _refused(answer, 503, None)
        assert answer.headers["retry-after"] in ("1", "2")
        assert set(body) == {"error"} and "busy" in str(body["error"])
        assert "INSERT" not in answer.text and "UPDATE" not in answer.text
    assert db_dump() == before
    assert "noc-lock-test" not in serve.logs  # SQL parameters never reach the log

    for path, body_text in requests:  # the lock gone, the same requests go through
        answer = post_json_text(serve.port, path, body_text, token=tokens.acme)
        assert answer.status in (200, 202), answer.text


# Values json.loads accepts that no well-behaved client sends, as raw JSON text.
HOSTILE_VALUES = (
    r'"\ud800"',
    r'"a\udfffb"',
    HUGE,
    "-" + HUGE,
    "1e400",
    "-1e400",
    "NaN",
    "Infinity",
    "-Infinity",
    '"' + "x" * 20_000 + '"',
    "[" * 200 + "]" * 200,
    '{"": {"": {"": null}}}',
    "[]",
    "{}",
    "null",
    "true",
    '"\\u0000"',
    '"\\r\\nBcc: evil@evil.example"',
    "0.1",
    "-1",
    str(2**63),
)


def test_quick_fuzz_hostile_values_in_every_field_never_500(
    serve: ServeProcess, tokens: Tokens
) -> None:
    """Each field of a valid body of each POST route, replaced by each hostile value (and the
    value also put at a new key): every answer is a 2xx or 4xx with a JSON body."""
    valid = {
        EVENTS: {"event": "QUEUE_CALL_LOST", "data": QUEUE_CALL_LOST, "key": "fuzz"},
        SETTINGS: {
            "recipients": "ops@acme.example",
            "port": 2525,
            "notify_queue_sla_breached": True,
        },
        TEMPLATE: {"subject": "Lost {{ caller }}", "body": "<p>{{ queue_name }}</p>"},
    }
    statuses: dict[int, int] = {}
    for path, body in valid.items():
        # (field, variable inside `data` or None): each replaced in turn; "fuzz_extra" is added
        fields = [(name, None) for name in [*body, "fuzz_extra"]]
        if path == EVENTS:
            fields += [("data", name) for name in [*QUEUE_CALL_LOST, "fuzz_extra"]]
        for (name, inner), value in itertools.product(fields, HOSTILE_VALUES):
            parts = {k: json.dumps(v) for k, v in body.items()}
            if inner is None:
                parts[name] = value
            else:
                data = {k: json.dumps(v) for k, v in QUEUE_CALL_LOST.items()} | {inner: value}
                parts["data"] = "{" + ", ".join(f'"{k}": {v}' for k, v in data.items()) + "}"
            text = "{" + ", ".join(f'"{k}": {v}' for k, v in parts.items()) + "}"
            answer = post_json_text(serve.port, path, text, token=tokens.acme)
            statuses[answer.status] = statuses.get(answer.status, 0) + 1
            assert answer.status < 500, (path, name, inner, value[:40], answer.text[:300])
            assert "Traceback" not in answer.text and isinstance(answer.json, dict)
    assert set(statuses) <= {200, 202, 400, 404, 409}, statuses
