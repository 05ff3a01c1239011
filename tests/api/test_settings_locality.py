"""The owner's `timezone` and `locale` over `/api/tenant/notification`: extension fields of the
flat object (the PortSIP fields unchanged), 400 naming the field, a tenant's null following
the system's, and the served OpenAPI document describing both."""

from __future__ import annotations

import yaml

from core.services.notifications import get_notification_settings
from core.services.tenants import get_tenant
from tests.api.conftest import ApiClient

PATH = "/api/tenant/notification"
ACME = f"{PATH}?tenant=acme"  # with the system token: not fenced to resolvable hosts
OWN_SERVER = {"server": "smtp.acme.example", "auth": "DISABLE", "mail_from": "pbx@acme.example"}


async def test_posted_then_read_back(api: ApiClient) -> None:
    assert (await api.post(ACME, OWN_SERVER, token="system")).status == 200
    before = (await api.get(PATH)).body
    assert (before["timezone"], before["locale"]) == (None, None)
    answer = await api.post(PATH, {"timezone": "Europe/Paris", "locale": "fr-FR"})
    assert answer.status == 200, answer.body
    assert (answer.body["timezone"], answer.body["locale"]) == ("Europe/Paris", "fr_FR")
    read = (await api.get(PATH)).body
    assert (read["timezone"], read["locale"]) == ("Europe/Paris", "fr_FR")
    # every other field reads as before, the extensions after the reference's fields
    assert {k: v for k, v in read.items() if k not in ("timezone", "locale")} == {
        k: v for k, v in before.items() if k not in ("timezone", "locale")
    }
    assert list(read) == list(before)
    keys = list(read)
    assert keys.index("notify_queue_call_lost") < keys.index("recipient_mode")
    assert keys[-2:] == ["timezone", "locale"]
    # posting back what was read changes nothing; "" unsets, null leaves it as it is
    again = await api.post(ACME, read, token="system")
    assert again.status == 200 and again.body == read, again.body
    answer = await api.post(PATH, {"timezone": "", "locale": None})
    assert (answer.body["timezone"], answer.body["locale"]) == (None, "fr_FR")
    # the other tenant was not touched
    globex = (await api.get(PATH, token="globex")).body
    assert (globex["timezone"], globex["locale"]) == (None, None)


async def test_a_bad_value_is_400_naming_the_field(api: ApiClient) -> None:
    await api.post(PATH, {"locale": "de_DE"})
    cases = [
        ({"locale": "xx_YY"}, "locale", "'xx_YY' is not a known locale"),
        ({"locale": "fr_FR", "timezone": "Mars/Olympus"}, "timezone", "not an IANA time zone"),
        ({"timezone": "Europe/" + "x" * 60}, "timezone", "at most 64 characters"),
        ({"timezone": 1}, "timezone", "JSON string"),
    ]
    for body, field, words in cases:
        answer = await api.post(PATH, body)
        assert (answer.status, answer.body["field"]) == (400, field), answer.body
        assert words in answer.body["error"], answer.body
    read = (await api.get(PATH)).body
    assert (read["timezone"], read["locale"]) == (None, "de_DE")


async def test_the_system_has_its_own_and_tenants_follow_it(api: ApiClient, ctx) -> None:
    system = (await api.get(PATH, token="system")).body
    assert (system["timezone"], system["locale"]) == ("UTC", "en_US")
    answer = await api.post(PATH, {"timezone": "America/New_York"}, token="system")
    assert answer.status == 200, answer.body
    assert answer.body["timezone"] == "America/New_York"
    assert (await api.post(PATH, {"timezone": "Asia/Tokyo"}, token="globex")).status == 200
    # the flat object keeps the tenant's own value (null); mail reads in the system's
    assert (await api.get(PATH)).body["timezone"] is None
    assert _effective_timezones(ctx) == {"acme": "America/New_York", "globex": "Asia/Tokyo"}
    # the system's "" is the default again (a system's value is never unset)
    answer = await api.post(PATH, {"timezone": ""}, token="system")
    assert answer.body["timezone"] == "UTC"


def _effective_timezones(ctx) -> dict[str, str]:
    with ctx.session() as session:
        return {
            slug: get_notification_settings(
                session=session, tenant=get_tenant(session=session, slug=slug)
            ).effective_timezone
            for slug in ("acme", "globex")
        }


async def test_the_served_document_describes_both(api: ApiClient) -> None:
    answer = await api.get("/api/openapi.yaml", token=None)
    schemas = yaml.safe_load(answer.text)["components"]["schemas"]
    for schema in ("NotificationSettings", "NotificationSettingsUpdate"):
        properties = schemas[schema]["properties"]
        assert properties["timezone"]["type"] == "string"
        assert properties["locale"]["type"] == "string"
    assert schemas["NotificationSettings"]["properties"]["timezone"]["nullable"] is True
    update = schemas["NotificationSettingsUpdate"]["properties"]
    assert "400 naming `timezone`" in update["timezone"]["description"]
    assert "400 naming `locale`" in update["locale"]["description"]
