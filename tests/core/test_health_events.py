"""MAIL_HEALTH and SYSTEM_MAIL_HEALTH: declared once (vocabulary, catalogue, tables), their toggle
on by default and shown by mailbell's own surfaces (CLI, Slack), their default templates' words
for each notice, the Slack message, the notice's key and path; and the PortSIP-compatible
template endpoints, which still know exactly the reference's 14 templates."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session

from core import catalog
from core.channels.slack.blocks import alert_message
from core.context import Context
from core.errors import ValidationError
from core.health.alerts import idempotency_key, own_path_broken, payload
from core.health.store import Notice
from core.models.mail import MailServerRead
from core.models.tenancy import NotificationSettings, SystemSettings, Tenant
from core.pipeline.emit import KEY_MAX_LENGTH
from core.rendering import default_template, render
from core.services.notifications import get_notification_settings
from core.services.slack import resolve_events, routable_events, set_events, short_name
from core.services.templates import create_custom_template
from core.template_validation import validate_template
from core.vocabulary import (
    SYSTEM_TOGGLE_LABELS,
    TENANT_TOGGLE_LABELS,
    EventName,
    HealthKind,
    HealthState,
    TemplateName,
)
from tests.api.conftest import ApiClient, api, tokens  # noqa: F401  (the API's fixtures)
from tests.support.factories import TESTER, configure_tenant, make_mail_server

HEALTH = ("MAIL_HEALTH", "SYSTEM_MAIL_HEALTH")
# The reference's template names, in the order the template list has always given them.
REFERENCE = (
    "USER_CREATION", "QUEUE_SLA", "QUEUE_CALLBACK", "QUEUE_CALLBACK_FAILED", "QUEUE_CALL_LOST",
    "VOICEMAIL_RECEIVED", "CALL_REPORT_COMPLETED", "CONFERENCE_INVITATION", "DISK_LOW",
    "LICENSE_LIMITED", "RECHARGE", "EMERGENCY_CALL", "TRUNK_CONNECTED", "TRUNK_DISCONNECTED",
)  # fmt: skip
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def notice(which: str = "alert", **changes: Any) -> Notice:
    fields: dict[str, Any] = {
        "notice": which, "key": "mail_server:1", "kind": HealthKind.MAIL_SERVER, "tenant_id": 1,
        "subject": "Main", "state": HealthState.CRITICAL, "previous": HealthState.OK,
        "reason": "connect: refused", "since": T0, "detail": {"action": "restart it"},
        "at": T0 + timedelta(minutes=1),
    }  # fmt: skip
    if which == "recovery":
        fields.update(state=HealthState.OK, previous=HealthState.CRITICAL, reason="")
    fields.update(changes)
    return Notice(**fields)


# -- declared once ------------------------------------------------------------------------


def test_the_two_events_their_scopes_toggles_and_audiences() -> None:
    tenant, system = catalog.EVENTS["MAIL_HEALTH"], catalog.EVENTS["SYSTEM_MAIL_HEALTH"]
    assert (tenant.scope, tenant.toggle, tenant.audience) == (
        "tenant", "notify_mail_health", "tenant_recipients",
    )  # fmt: skip
    assert (system.scope, system.toggle, system.audience) == (
        "system", "notify_mail_health", "system_recipients",
    )  # fmt: skip
    assert tenant.every_linked_channel and not system.every_linked_channel
    assert not tenant.needs_recipients and not system.needs_recipients
    assert catalog.PORTSIP_NAMES == REFERENCE == tuple(TemplateName)
    assert catalog.NAMES == (*REFERENCE, *HEALTH) == tuple(EventName)
    assert (
        "notify_mail_health" in TENANT_TOGGLE_LABELS
        and "notify_mail_health" in SYSTEM_TOGGLE_LABELS
    )
    assert {"notify_mail_health"} == catalog.TOGGLES_WITHOUT_RECIPIENTS


def test_on_by_default_for_a_tenant_and_the_system() -> None:
    assert NotificationSettings(tenant_id=1).notify_mail_health is True
    assert SystemSettings(id=1).notify_mail_health is True
    # the reference's toggles keep their defaults
    assert NotificationSettings(tenant_id=1).notify_queue_call_lost is False


@pytest.mark.parametrize("name", HEALTH)
def test_payload_checks_name_the_variable(name: str) -> None:
    data = dict(catalog.sample(name), notice="warning-ish")
    with pytest.raises(ValidationError) as refused:
        catalog.validate_payload(name, data)
    assert refused.value.field == "data" and "variable 'notice'" in refused.value.message
    missing = {k: v for k, v in catalog.sample(name).items() if k != "subject_key"}
    with pytest.raises(ValidationError, match="required variable 'subject_key' is missing"):
        catalog.validate_payload(name, missing)


# -- mailbell's own surfaces show the toggle ----------------------------------------------


def test_health_alerts_need_no_recipients_but_the_reference_s_toggles_still_do(
    session: Session, acme: Tenant, ctx: Context
) -> None:
    assert get_notification_settings(session=session, tenant=acme).toggles["notify_mail_health"]
    configure_tenant(session, ctx.box, acme, recipients=(), toggles=())  # on, no recipients: fine
    with pytest.raises(ValidationError) as refused:
        configure_tenant(session, ctx.box, acme, recipients=(), toggles=("notify_queue_call_lost",))
    assert refused.value.field == "notify_queue_call_lost"


def test_cli_settings_set_and_show_the_toggle_for_a_tenant_and_the_system(
    cli: Callable[..., Any],
) -> None:
    assert cli("tenant", "add", "acme").code == 0
    shown = json.loads(cli("settings", "show", "--tenant", "acme", "--json").out)
    assert shown["notify_mail_health"] is True
    assert cli("settings", "set", "--tenant", "acme", "notify_mail_health=false").code == 0
    assert (
        json.loads(cli("settings", "show", "--tenant", "acme", "--json").out)["notify_mail_health"]
        is False
    )
    assert cli("settings", "set", "--system", "notify_mail_health=no").code == 0
    assert (
        json.loads(cli("settings", "show", "--system", "--json").out)["notify_mail_health"] is False
    )
    bad = cli("settings", "set", "--tenant", "acme", "notify_mail_health=maybe")
    assert bad.code == 1 and "notify_mail_health" in bad.err and "Traceback" not in bad.err


def test_slack_names_the_tenant_toggle_mail_health_and_the_system_event_apart(
    session: Session, acme: Tenant, ctx: Context
) -> None:
    tenant, system = catalog.EVENTS["MAIL_HEALTH"], catalog.EVENTS["SYSTEM_MAIL_HEALTH"]
    assert (short_name(tenant), short_name(system)) == ("mail_health", "system_mail_health")
    every = routable_events(system_admin=True)
    assert resolve_events(["mail_health", "notify_mail_health"], valid=every) == [tenant]
    assert resolve_events(["system_mail_health"], valid=every) == [system]
    configure_tenant(session, ctx.box, acme, toggles=())
    changed = set_events(session=session, box=ctx.box, tenant=acme, names=["mail_health"],
                         enabled=False, actor=TESTER)  # fmt: skip
    assert changed == ["mail_health"]
    assert not get_notification_settings(session=session, tenant=acme).toggles["notify_mail_health"]


# -- the default templates ----------------------------------------------------------------


@pytest.mark.parametrize("name", HEALTH)
def test_default_templates_pass_the_checks_every_template_passes(name: str) -> None:
    template = default_template(name)
    validate_template(name, mail_from=template.mail_from, subject=template.subject,
                      body=template.body)  # fmt: skip


# The notice's `since` as en_US reads it.
SINCE = "Dec 1, 2026, 9:00 AM UTC"


@pytest.mark.parametrize(
    ("kind", "subject", "words"),
    [
        ("alert", "Mail health: Main is critical (Acme Corp)",
         ["found a problem", f"since {SINCE}", "What is wrong: connect: refused",
          "What to do: restart it", "may not reach their recipients"]),
        ("reminder", "Mail health: Main is still critical (Acme Corp)",
         ["is still critical", f"lasted since {SINCE}", "repeats until it is fixed",
          "What to do: restart it"]),
        ("recovery", "Mail health: Main is ok again (Acme Corp)",
         ["is working again", "it was critical", "Nothing more to do"]),
    ],
)  # fmt: skip
def test_the_words_of_an_alert_a_reminder_and_a_recovery(
    kind: str, subject: str, words: list[str]
) -> None:
    tenant = Tenant(id=1, slug="acme", name="Acme Corp")
    data = payload(notice(kind), tenant)
    message = render("MAIL_HEALTH", data, to=["ops@acme.org"], server_from="mb@acme.org")
    assert message.subject == subject
    text = message.text
    for word in words:
        assert word in text, word
    if kind == "recovery":
        assert "What to do" not in text and "still" not in text


def test_a_system_notice_reads_for_the_system_admins() -> None:
    data = payload(notice(key="service:keys", kind=HealthKind.SERVICE, tenant_id=None,
                          subject="key ring", detail={}), None)  # fmt: skip
    message = render("SYSTEM_MAIL_HEALTH", data, to=["root@x.org"], server_from="mb@x.org")
    assert message.subject == "System mail health: key ring is critical"
    # no advice from the check: where to look, for the system
    assert "`mailbell health --system`" in data["action"]
    assert "system notification recipients" in message.text


# -- the Slack message --------------------------------------------------------------------


def _message(kind: str, **changes: Any) -> dict[str, Any]:
    data = catalog.validate_payload(
        "MAIL_HEALTH", payload(notice(kind, **changes), Tenant(id=1, slug="acme", name="Acme"))
    ).model_dump(mode="json")
    return alert_message(event=catalog.EVENTS["MAIL_HEALTH"], payload=data, tenant="acme",
                         delivery_id=9, at=T0)  # fmt: skip


def test_the_slack_alert_has_a_status_line_the_reason_and_two_buttons() -> None:
    message = _message("alert", reason="refused <!channel> & co")
    blocks = message["blocks"]
    assert blocks[0]["text"]["text"] == ":red_circle: Critical: Main"
    assert blocks[1]["text"]["text"].startswith("*✗ critical* (was ✓ ok) · since <!date^")
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert "*What is wrong*\nrefused &lt;!channel&gt; &amp; co" in texts  # no mention possible
    assert "*What to do*\nrestart it" in texts
    [actions] = [b for b in blocks if b["type"] == "actions"]
    assert [(e["action_id"], e["value"], e["text"]["text"]) for e in actions["elements"]] == [
        ("health_check_now", "mail_server:1", "Check now"),
        ("health_mute", "mail_server:1", "Mute 24 h"),
    ]
    assert "delivery 9" in blocks[-1]["elements"][0]["text"]
    assert message["text"] == "[acme] Critical: Main — refused &lt;!channel&gt; &amp; co"


def test_the_slack_warning_and_recovery() -> None:
    warning = _message("reminder", state=HealthState.WARNING)
    assert warning["blocks"][0]["text"]["text"] == ":warning: Still warning: Main"
    assert "*! warning*" in warning["blocks"][1]["text"]["text"]
    recovery = _message("recovery")
    assert (
        recovery["blocks"][0]["text"]["text"] == ":large_green_circle: Recovered: Main is ok again"
    )
    assert [b for b in recovery["blocks"] if b["type"] == "actions"] == []
    assert recovery["text"] == "[acme] Recovered: Main is ok again"
    unknown = _message("recovery", state=HealthState.UNKNOWN)
    assert unknown["blocks"][0]["text"]["text"] == ":grey_question: No longer critical: Main"


def test_a_recovery_to_unknown_does_not_say_all_is_well() -> None:
    data = payload(notice("recovery", state=HealthState.UNKNOWN), None)
    message = render("MAIL_HEALTH", data, to=["ops@acme.org"], server_from="mb@acme.org")
    assert message.subject == "Mail health: Main is no longer critical (unknown)"
    assert "could not check it" in message.text and "ok again" not in message.text


# -- one key per notice; which path the email takes ------------------------------------------


def test_each_notice_has_its_own_key_and_a_repeat_the_same() -> None:
    alert, again = notice("alert"), notice("alert")
    first = notice("reminder", at=T0 + timedelta(days=1))
    second = notice("reminder", at=T0 + timedelta(days=2))
    keys = {idempotency_key(n) for n in (alert, first, second, notice("recovery"))}
    assert len(keys) == 4 and idempotency_key(alert) == idempotency_key(again)
    long = notice(key="slack:link:" + "9" * 300)
    assert len(idempotency_key(long)) <= KEY_MAX_LENGTH


def test_the_email_avoids_the_tenant_s_own_path_only_while_it_is_broken(
    session: Session, ctx: Context, acme_with_server: MailServerRead
) -> None:
    acme = session.get(Tenant, 1)
    assert acme is not None
    own = acme_with_server.id
    other = make_mail_server(session, ctx.box, acme, name="Spare")  # not its default
    for key, broken in (
        (f"mail_server:{own}", True),
        (f"deliveries:server:{own}", True),
        (f"backlog:tenant:{acme.id}", True),
        (f"mail_server:{other.id}", False),
        ("email_account:3", False),
        (f"mail_server:{own}0", False),
    ):
        assert own_path_broken(session, acme, notice(key=key)) is broken, key
    assert own_path_broken(session, acme, notice("recovery", key=f"mail_server:{own}")) is False
    warning = notice(key=f"mail_server:{own}", state=HealthState.WARNING)
    assert own_path_broken(session, acme, warning) is True


# -- the PortSIP-compatible template endpoints: the reference's 14, unchanged ------------------


async def test_portsip_default_templates_are_exactly_the_reference_s_fourteen(
    api: ApiClient,  # noqa: F811
) -> None:
    listed = await api.get("/api/default_email_templates")
    assert listed.status == 200
    assert [t["name"] for t in listed.body] == list(REFERENCE)
    assert all(set(t) == {"name", "from", "subject", "body"} for t in listed.body)
    for name in HEALTH:
        one = await api.get(f"/api/default_email_templates/{name}")
        assert (one.status, one.body["field"]) == (404, "name")
        valid = one.body["error"].split("valid names: ")[1]
        assert valid == ", ".join(REFERENCE)


async def test_portsip_custom_templates_neither_take_nor_show_the_health_events(
    api: ApiClient,  # noqa: F811
    ctx: Context,
) -> None:
    body = {"name": "MAIL_HEALTH", "subject": "x {{ subject }}", "body": "<p>{{ reason }}</p>"}
    created = await api.post("/api/custom_email_templates", body)
    assert (created.status, created.body["field"]) == (404, "name")
    # set through mailbell's own surfaces (the CLI, the TUI): the PortSIP list still omits it
    with ctx.session() as session:
        acme = session.get(Tenant, 1)
        assert acme is not None and acme.slug == "acme"
        create_custom_template(session=session, tenant=acme, name="MAIL_HEALTH",
                               subject="Health: {{ subject }}", actor=TESTER)  # fmt: skip
    assert (await api.get("/api/custom_email_templates")).body == []
    for method in (api.get, api.delete):
        answer = await method("/api/custom_email_templates/MAIL_HEALTH")
        assert answer.status == 404, method
    updated = await api.post("/api/custom_email_templates/MAIL_HEALTH", {"subject": "y"})
    assert updated.status == 404


async def test_the_settings_object_carries_the_toggle_as_an_extension(
    api: ApiClient,  # noqa: F811
) -> None:
    read = await api.get("/api/tenant/notification")
    assert read.body["notify_mail_health"] is True
    for name in ("notify_user_registration", "notify_queue_call_lost"):
        assert read.body[name] is False  # the reference's toggles and defaults, unchanged
    assert (await api.post("/api/tenant/notification", {"notify_mail_health": False})).status == 200
    assert (await api.get("/api/tenant/notification")).body["notify_mail_health"] is False
    refused = await api.post("/api/tenant/notification", {"notify_mail_health": "off"})
    assert (refused.status, refused.body["field"]) == (400, "notify_mail_health")
