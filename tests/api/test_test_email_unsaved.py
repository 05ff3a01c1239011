"""`POST /api/tenant/notification/test_email` with unsaved settings in the body (a mailbell
extension): the settings object's server fields go with the message, over the owner's default
server (or as a new one), and nothing is stored or audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from core.context import Context
from tests.api.conftest import ApiClient
from tests.support.smtp_servers import SmtpTestServer
from tests.support.unsaved_settings import RIGHT, USER, WRONG, auth_smtp, stored_state

PATH = "/api/tenant/notification"
MESSAGE = {"recipient": "it@acme.example", "subject": "Before Save", "content": "It works."}


def _settings(smtp: SmtpTestServer, password: str) -> dict[str, Any]:
    """The PortSIP settings of `smtp` with AUTH (plain text on the wire, as the test server)."""
    return {
        "type": "SMTP",
        "server": smtp.host,
        "port": smtp.port,
        "auth": "PLAIN",
        "username": USER,
        "password": password,
        "enable_tls_ssl": False,
        "enable_starttls_auto": False,
        "timeout": 5,
    }


async def _saved(api: ApiClient, ctx: Context) -> tuple[dict[str, Any], dict[str, Any]]:
    """What GET answers and what is stored (servers, secrets, audit)."""
    answer = await api.get(PATH)
    assert answer.status == 200
    return answer.body, stored_state(ctx)


@pytest.fixture
def smtp(smtp_servers: Callable[..., SmtpTestServer]) -> SmtpTestServer:
    return auth_smtp(smtp_servers)


async def test_a_wrong_typed_password_fails_and_changes_nothing(
    api: ApiClient, ctx: Context, smtp: SmtpTestServer
) -> None:
    assert (await api.post(PATH, _settings(smtp, RIGHT))).status == 200
    before = await _saved(api, ctx)

    answer = await api.post(f"{PATH}/test_email", {**MESSAGE, "password": WRONG})
    assert answer.status == 502, answer.body
    assert answer.body["step"] == "auth" and answer.body["reply"].startswith("535")
    assert WRONG not in answer.text
    assert smtp.messages == []
    assert await _saved(api, ctx) == before  # the settings, the stored password, the audit

    saved = await api.post(f"{PATH}/test_email", MESSAGE)  # the saved settings still work
    assert saved.status == 200, saved.body
    assert [m.auth_user for m in smtp.messages] == [USER]


async def test_the_right_typed_password_succeeds_while_the_saved_one_is_wrong(
    api: ApiClient, ctx: Context, smtp: SmtpTestServer
) -> None:
    assert (await api.post(PATH, _settings(smtp, WRONG))).status == 200
    refused = await api.post(f"{PATH}/test_email", MESSAGE)
    assert refused.status == 502 and refused.body["step"] == "auth"
    before = await _saved(api, ctx)

    answer = await api.post(f"{PATH}/test_email", {**MESSAGE, "password": RIGHT})
    assert answer.status == 200, answer.body
    assert answer.body["ok"] is True and answer.body["reply"].startswith("250")
    (message,) = smtp.handler.wait_for(1)
    assert message.auth_user == USER and message.subject == "Before Save"
    assert await _saved(api, ctx) == before
    assert before[1]["servers"][0]["password"] == WRONG


async def test_a_tenant_without_a_server_tests_a_whole_unsaved_settings_object(
    api: ApiClient, ctx: Context, smtp: SmtpTestServer
) -> None:
    before = await _saved(api, ctx)
    assert before[0]["server"] is None and before[0]["effective_mail_server"] == "none"
    no_host = {k: v for k, v in _settings(smtp, RIGHT).items() if k != "server"}
    missing = await api.post(f"{PATH}/test_email", {**MESSAGE, **no_host})
    assert (missing.status, missing.body["field"]) == (400, "server")
    assert missing.body["error"].startswith("is required: the SMTP server's host")

    body = {**MESSAGE, **_settings(smtp, RIGHT), "mail_from": "PBX <pbx@acme.example>"}
    answer = await api.post(f"{PATH}/test_email", body)
    assert answer.status == 200, answer.body
    (message,) = smtp.handler.wait_for(1)
    assert message.mail_from == "pbx@acme.example"
    assert await _saved(api, ctx) == before  # still not configured, nothing audited


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"port": 70000}, "port"),
        ({"port": "587"}, "port"),  # the JSON type, as for POST /api/tenant/notification
        ({"type": "POSTFIX"}, "type"),
        ({"security": "ssl"}, "security"),
        ({"mail_from": "not an address"}, "mail_from"),
        ({"recipients": "a@acme.example"}, "recipients"),  # a setting, but not a server's
    ],
)
async def test_a_bad_unsaved_field_is_400_naming_it(
    api: ApiClient, ctx: Context, smtp: SmtpTestServer, extra: dict[str, Any], field: str
) -> None:
    assert (await api.post(PATH, _settings(smtp, RIGHT))).status == 200
    before = await _saved(api, ctx)
    answer = await api.post(f"{PATH}/test_email", {**MESSAGE, **extra})
    assert (answer.status, answer.body["field"]) == (400, field), answer.body
    if field != "recipients":  # the same words as a save of the settings
        saved = await api.post(PATH, extra)
        assert (saved.status, saved.body) == (400, answer.body)
    assert smtp.messages == [] and smtp.auth_attempts == []
    assert await _saved(api, ctx) == before


async def test_a_tenant_token_is_fenced_as_on_save(
    api: ApiClient, ctx: Context, smtp: SmtpTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca_file = await api.post(f"{PATH}/test_email", {**MESSAGE, "ca_file": "/etc/ssl/x.pem"})
    assert (ca_file.status, ca_file.body["field"]) == (403, "ca_file")

    monkeypatch.setenv("MAILBELL_TENANT_SMTP_NETWORKS", "")  # loopback refused again
    body = {**MESSAGE, **_settings(smtp, RIGHT), "mail_from": "pbx@acme.example"}
    fenced = await api.post(f"{PATH}/test_email", body)
    assert (fenced.status, fenced.body["field"]) == (400, "server"), fenced.body
    assert smtp.connections == 0
    saved = await api.post(PATH, _settings(smtp, RIGHT))
    assert (saved.status, saved.body["field"]) == (400, "server")

    # A system token is not fenced: the same unsaved settings reach the server.
    system = await api.post(f"{PATH}/test_email", body, token="system")
    assert system.status == 200, system.body
    assert len(smtp.messages) == 1
