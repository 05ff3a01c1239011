"""`mailbell template …`: the catalogue, customising, previews and refusals."""

from __future__ import annotations

import json
from pathlib import Path


def test_show_json_has_the_contract_keys(cli) -> None:
    result = cli("template", "show", "queue_sla", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert {"name", "scope", "toggle", "variables", "sample", "default", "custom"} <= data.keys()
    assert data["name"] == "QUEUE_SLA" and data["toggle"] == "notify_queue_sla_breached"
    assert data["custom"] is None
    assert set(data["default"]) == {"from", "subject", "body"}
    always_on = json.loads(cli("template", "show", "VOICEMAIL_RECEIVED", "--json").out)
    assert always_on["toggle"] is None


def test_custom_template_lifecycle(cli, tmp_path: Path) -> None:
    assert cli("tenant", "add", "acme").code == 0
    body = tmp_path / "body.html"
    body.write_text("<p>Lost a call from {{ caller }} in {{ queue_name }}</p>")
    result = cli(
        "template",
        "set",
        "QUEUE_CALL_LOST",
        "--tenant",
        "acme",
        "--subject",
        "Lost call: {{ queue_name }}",
        "--body-file",
        str(body),
    )
    assert result.code == 0, result.err
    preview = cli("template", "preview", "QUEUE_CALL_LOST", "--tenant", "acme")
    assert preview.code == 0 and "Lost call:" in preview.out and "Lost a call from" in preview.out
    shown = json.loads(cli("template", "show", "QUEUE_CALL_LOST", "--tenant", "acme", "--json").out)
    assert shown["custom"]["subject"] == "Lost call: {{ queue_name }}"
    assert cli("template", "reset", "QUEUE_CALL_LOST", "--tenant", "acme").code == 0
    shown = json.loads(cli("template", "show", "QUEUE_CALL_LOST", "--tenant", "acme", "--json").out)
    assert shown["custom"] is None


def test_unsafe_template_is_refused_and_not_saved(cli, db_dump, tmp_path: Path) -> None:
    assert cli("tenant", "add", "acme").code == 0
    before = db_dump()
    body = tmp_path / "evil.html"
    body.write_text("<p>ok</p>\n<p>{{ cycler.__init__.__globals__ }}</p>")
    result = cli("template", "set", "QUEUE_SLA", "--tenant", "acme", "--body-file", str(body))
    assert result.code == 1 and result.err.startswith("error: body:")
    assert "line 2" in result.err
    body.write_text("<p>{{ no_such_variable }}</p>")
    result = cli("template", "set", "QUEUE_SLA", "--tenant", "acme", "--body-file", str(body))
    assert result.code == 1 and "no_such_variable" in result.err
    result = cli("template", "set", "QUEUE_SLA", "--tenant", "acme", "--subject", "a\nBcc: x")
    assert result.code == 1 and result.err.startswith("error: subject:")
    assert db_dump() == before


def test_unknown_template_name(cli) -> None:
    result = cli("template", "show", "NOPE")
    assert result.code == 1 and "QUEUE_SLA" in result.err


def test_preview_writes_html_to_a_file(cli, tmp_path: Path) -> None:
    target = tmp_path / "preview.html"
    result = cli(
        "template",
        "preview",
        "USER_CREATION",
        "--html",
        str(target),
        "--data",
        '{"extension_number": "4242"}',
    )
    assert result.code == 0, result.err
    html = target.read_text()
    assert "4242" in html and "cid:" in html
    assert "4242" in result.out  # the text part, printed
