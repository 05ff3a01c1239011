"""The API accepts addresses on reserved domains (`.local`, `.test`), still refuses bad syntax."""

from __future__ import annotations

from tests.api.conftest import ApiClient
from tests.api.test_notification import PATH, PORTSIP_SETTINGS


async def test_the_api_saves_recipients_and_reply_to_on_reserved_domains(api: ApiClient) -> None:
    body = {
        **PORTSIP_SETTINGS,
        "recipients": "ops@pbx.local, noc@lab.test",
        "reply_to": "r@x.local",
    }
    answer = await api.post(PATH, body)
    assert answer.status == 200, answer.body
    assert answer.body["recipients"] == "ops@pbx.local,noc@lab.test"
    assert answer.body["reply_to"] == "r@x.local"
    bad = await api.post(PATH, {**body, "recipients": "ops@pbx.local, o ps@lab.test"})
    assert bad.status == 400
    assert bad.body["field"] == "recipients"
