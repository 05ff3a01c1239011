"""The settings' `proxy` over HTTP (a mailbell extension of the flat object), with a tenant
token: written with its password, read without it, refused naming the field, and test emails
through the saved proxy and through an unsaved one."""

from __future__ import annotations

from tests.api.conftest import ApiClient, smtp_settings
from tests.support.proxies import TestProxy
from tests.support.smtp_servers import SmtpTestServer

PATH = "/api/tenant/notification"
SECRET = "pr0xy-S3cret!"


async def test_proxy_over_http_is_write_only_and_used_by_test_email(
    api: ApiClient, smtp_server: SmtpTestServer
) -> None:
    with TestProxy("socks5", users={"bob": SECRET}) as px:
        url = px.url("socks5", user="bob", password=SECRET)
        posted = await api.post(PATH, smtp_settings(smtp_server, proxy=url))
        assert posted.status == 200, posted.body
        read = await api.get(PATH)
        assert read.body["proxy"] == px.url("socks5", user="bob")
        # Posting back what was read keeps the password: the test email still goes through.
        assert (await api.post(PATH, read.body)).status == 200
        sent = await api.post(
            f"{PATH}/test_email", {"recipient": "it@acme.example", "subject": "s", "content": "c"}
        )
        assert sent.status == 200, sent.body
        with TestProxy("http") as other:  # unsaved: this test email only, nothing stored
            unsaved = await api.post(
                f"{PATH}/test_email",
                {
                    "recipient": "b@acme.example",
                    "subject": "s",
                    "content": "c",
                    "proxy": other.url(),
                },
            )
        assert unsaved.status == 200, unsaved.body
        assert other.tunnels == [("127.0.0.1", smtp_server.port)]
        assert (await api.get(PATH)).body["proxy"] == px.url("socks5", user="bob")
        refused = await api.post(PATH, {"proxy": "socks4://bob:hunter22@127.0.0.1:1080"})
    assert (refused.status, refused.body["field"]) == (400, "proxy")
    assert "hunter22" not in refused.text
    assert [m.rcpt_tos for m in smtp_server.handler.wait_for(2)] == [
        ["it@acme.example"],
        ["b@acme.example"],
    ]
    assert px.tunnels == [("127.0.0.1", smtp_server.port)]
    for answer in (posted, read, sent):
        assert SECRET not in answer.text
