"""`mailbell template … DIGEST`: listed, shown, previewed, customised per owner, never emitted."""

from __future__ import annotations

import json
from pathlib import Path

from core.catalog import DIGEST, sample

HEADLINE_SUBJECT = "3 more lost calls in queue Sales (10:05\u201310:15)"


def test_list_shows_digest_after_the_events(cli) -> None:
    result = cli("template", "list", "--json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    assert rows[-1]["name"] == "DIGEST" and len(rows) == 17
    assert rows[-1]["scope"] == "any" and rows[-1]["custom"] is False
    text = cli("template", "list").out.splitlines()
    assert text[-1].split()[:3] == ["DIGEST", "any", "(digest.EVENT"]


def test_show_lists_the_digest_variables(cli) -> None:
    result = cli("template", "show", "digest", "--json")
    assert result.code == 0, result.err
    details = json.loads(result.out)
    assert details["name"] == "DIGEST" and details["toggle"] is None
    assert {
        "event",
        "event_description",
        "count",
        "items",
        "omitted",
        "window_start",
        "window_end",
        "tenant",
        "headline",
        "queue_name",
    } <= set(details["variables"])
    assert details["variables"]["items"]["type"] == "list"
    assert len(details["sample"]["items"]) == details["sample"]["count"]
    assert "{{ headline }}" in details["default"]["subject"]


def test_preview_renders_the_sample_and_given_data(cli) -> None:
    result = cli("template", "preview", "DIGEST")
    assert result.code == 0, result.err
    assert f"Subject: {HEADLINE_SUBJECT}" in result.out
    # each item at its time in the owner's zone and locale (the system's: UTC, en_US)
    assert f"10:05:12 AM: {sample(DIGEST)['items'][0]['summary']}" in result.out
    data = '{"count": 12, "headline": "12 more lost calls in queue Sales", "omitted": 9}'
    result = cli("template", "preview", "DIGEST", "--data", data)
    assert result.code == 0, result.err
    assert "Subject: 12 more lost calls in queue Sales (10:05\u201310:15)" in result.out
    assert "and 9 more, not listed here" in result.out


def test_customised_per_tenant_and_at_system_level(cli, tmp_path: Path) -> None:
    assert cli("tenant", "add", "acme").code == 0
    body = tmp_path / "digest.html"
    body.write_text("<ol>{% for item in items %}<li>{{ item.summary }}</li>{% endfor %}</ol>")
    subject = "Burst of {{ count }} {{ what }}"
    result = cli(
        "template", "set", "DIGEST", "--tenant", "acme", "--subject", subject,
        "--body-file", str(body),
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "custom template created for tenant acme" in result.out
    preview = cli("template", "preview", "DIGEST", "--tenant", "acme")
    assert "Template: DIGEST (custom)" in preview.out
    assert "Subject: Burst of 3 lost calls" in preview.out
    # the system's digests (of system events) keep the default until the system sets its own
    assert f"Subject: {HEADLINE_SUBJECT}" in cli("template", "preview", "DIGEST").out
    assert cli("template", "set", "DIGEST", "--subject", "System: {{ headline }}").code == 0
    assert "Subject: System: 3 more" in cli("template", "preview", "DIGEST").out
    assert "Subject: Burst of 3" in cli("template", "preview", "DIGEST", "--tenant", "acme").out
    assert cli("template", "reset", "DIGEST", "--tenant", "acme").code == 0
    shown = json.loads(cli("template", "show", "DIGEST", "--tenant", "acme", "--json").out)
    assert shown["custom"] is None
    system = json.loads(cli("template", "show", "DIGEST", "--json").out)
    assert system["custom"]["subject"] == "System: {{ headline }}"


def test_a_bad_digest_template_is_refused_and_nothing_stored(cli, db_dump, tmp_path: Path) -> None:
    assert cli("tenant", "add", "acme").code == 0
    before = db_dump()
    result = cli("template", "set", "DIGEST", "--tenant", "acme", "--subject", "{{ caller }}")
    assert result.code == 1
    assert result.err.startswith("error: subject: line 1: unknown variable 'caller'")
    body = tmp_path / "evil.html"
    body.write_text("<p>{{ items[0].__class__ }}</p>")
    result = cli("template", "set", "DIGEST", "--tenant", "acme", "--body-file", str(body))
    assert result.code == 1 and result.err.startswith("error: body: line 1:")
    assert "Traceback" not in result.err
    assert db_dump() == before


def test_digest_cannot_be_emitted(cli, db_dump) -> None:
    assert cli("tenant", "add", "acme").code == 0
    before = db_dump()
    result = cli("emit", "DIGEST", "--tenant", "acme", "--data", "{}")
    assert result.code == 1
    assert result.err.startswith("error: event: DIGEST is the template of mailbell's digests,")
    assert "not an event" in result.err and "QUEUE_CALL_LOST" in result.err
    assert db_dump() == before
