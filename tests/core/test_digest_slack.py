"""What a digest says, whatever carries it: each event's summary line, the headline, and the Slack
message of a closed digest (count, window, ten items, within Slack's limits)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlmodel import Session

from core.catalog import DIGEST, EVENTS, get_event, get_template, sample
from core.channels.base import HeldItem
from core.channels.digest_content import digest_payload, summary
from core.channels.slack.blocks import FALLBACK_MAX, HEADER_MAX, MAX_BLOCKS, SECTION_TEXT_MAX
from core.channels.slack.digest_blocks import ITEMS_SHOWN, digest_message
from core.channels.slack.render import SlackRenderer
from core.context import Context
from core.errors import ValidationError
from core.models.tenancy import Tenant
from core.services.audit import Actor
from core.vocabulary import DIGEST_EVENTS, DIGEST_ITEMS_MAX
from tests.support.digest_render import END, START, draft, lost_calls
from tests.support.factories import make_tenant


def test_digest_is_a_template_and_not_an_event() -> None:
    assert get_template("digest").scope == "any" and DIGEST not in EVENTS
    with pytest.raises(ValidationError) as caught:
        get_event("digest", field="event")
    assert "not an event" in caught.value.message


@pytest.mark.parametrize("event", DIGEST_EVENTS)
def test_each_digest_event_has_a_summary_line_of_its_own(event: str) -> None:
    payload = sample(event)
    line = summary(event, payload)
    assert line and "\n" not in line and len(line) <= 300
    assert line != event and "None" not in line
    digest = digest_payload(
        event=event,
        items=[HeldItem(1, 1, START, payload), HeldItem(2, 2, END, payload)],
        total=2,
        window_start=START,
        window_end=END,
        tenant=None,
    )
    assert digest.headline.startswith("2 more ") and digest.count == 2
    dumped = json.dumps(digest.model_dump(mode="json"))
    assert all(str(payload[key]) not in dumped for key in ("password", "pin") if key in payload)


def test_secrets_of_a_held_payload_stay_out() -> None:
    shown = {**sample("USER_CREATION"), "password": "(redacted)"}
    digest = digest_payload(
        event="USER_CREATION",
        items=[HeldItem(1, 1, START, shown)],
        total=1,
        window_start=START,
        window_end=END,
        tenant="Acme",
    )
    dumped = json.dumps(digest.model_dump(mode="json"))
    assert "x7#Qm2!pLr" not in dumped and "Password" not in dumped
    assert digest.items[0].summary == "Amélie Laurent (1001), amelie.laurent@acme.example"


def _slack(
    ctx: Context, session: Session, tenant: Tenant | None, items: list[HeldItem], **kw: Any
) -> dict[str, Any]:
    content = SlackRenderer().digest(
        draft(session, ctx, tenant, items, channel="slack", target="C0123", **kw)
    )
    assert content.message_id is None  # a Slack message's id is its ts, known once posted
    return json.loads(ctx.box.decrypt_bytes(content.content))


def test_slack_digest_says_the_count_and_window(
    session: Session, ctx: Context, actor: Actor
) -> None:
    tenant = make_tenant(session, slug="acme", actor=actor)
    message = _slack(ctx, session, tenant, lost_calls(47))
    heading = "47 more lost calls in queue Sales (10:05\u201310:15)"
    assert message["text"] == f"[acme] {heading}"
    header, listing, footer = message["blocks"]
    assert header["text"]["text"].endswith(heading)
    lines = listing["text"]["text"].split("\n")
    assert len(lines) == ITEMS_SHOWN + 1 and lines[-1] == "…and 37 more"
    assert lines[0] == "• `10:05:01` +49 30 000001 waited 3 min 4 sec: caller hung up"
    assert "delivery 999" in footer["elements"][0]["text"]


def test_slack_digest_stays_within_slack_s_limits_and_escapes(
    session: Session, ctx: Context
) -> None:
    base = sample("QUEUE_CALL_LOST")
    huge = "<!channel> " + "x" * 9_000
    items = [
        HeldItem(
            n, n, START, {**base, "queue_name": "Q" * 500, "reason": huge, "caller_name": huge}
        )
        for n in range(DIGEST_ITEMS_MAX)
    ]
    payload = digest_payload(
        event="QUEUE_CALL_LOST",
        items=items,
        total=10_000,
        window_start=START,
        window_end=END,
        tenant="t" * 500,
    )
    message = digest_message(payload=payload, tenant="t" * 500, delivery_id=1)
    assert len(message["text"]) <= FALLBACK_MAX
    assert len(message["blocks"]) <= MAX_BLOCKS
    assert len(message["blocks"][0]["text"]["text"]) <= HEADER_MAX
    assert len(message["blocks"][1]["text"]["text"]) <= SECTION_TEXT_MAX
    assert len(message["blocks"][2]["elements"][0]["text"]) <= 3000
    assert "<!channel>" not in json.dumps(message)
    assert message["blocks"][1]["text"]["text"].endswith("…and 9990 more")
