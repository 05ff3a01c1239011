"""Pytest fixtures for the SMTP test servers, certificates and the OAuth token endpoint.

Load them in a test module (or a conftest) with

    from tests.support.fixtures import smtp_server, smtp_servers, tls_certs  # noqa: F401

- `tls_certs` (session): a `TestCerts` (CA + server certificate for 127.0.0.1/localhost).
- `smtp_server`: a running plain `SmtpTestServer` with a `CaptureHandler`, no AUTH.
- `smtp_servers`: a factory, `smtp_servers(mode="starttls", auth=True, handler=…)`, that
  starts servers (certs filled in from `tls_certs`) and stops them after the test.
- `token_endpoint`: a running `TokenEndpoint` (client "client-id" / "client-secret").
- `octx`: a context (the test's home and database) whose OAuth token URLs are
  `token_endpoint`'s.
- `oauth_env`: `token_endpoint` whose URLs are also in the MAILBELL_OAUTH_* environment
  variables, so `Settings()`, the `ctx` fixture (request it after `oauth_env`) and the CLI use it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.certs import TestCerts, make_test_certs
from tests.support.smtp_servers import SmtpTestServer
from tests.support.token_endpoint import TokenEndpoint

if TYPE_CHECKING:
    from core.context import Context

__all__ = ["oauth_env", "octx", "smtp_server", "smtp_servers", "tls_certs", "token_endpoint"]


@pytest.fixture(scope="session")
def tls_certs(tmp_path_factory: pytest.TempPathFactory) -> TestCerts:
    return make_test_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def smtp_servers(tls_certs: TestCerts) -> Iterator[Callable[..., SmtpTestServer]]:
    started: list[SmtpTestServer] = []

    def make(**kwargs: Any) -> SmtpTestServer:
        if kwargs.get("mode") in ("starttls", "tls"):
            kwargs.setdefault("certs", tls_certs)
        server = SmtpTestServer(**kwargs).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def smtp_server(smtp_servers: Callable[..., SmtpTestServer]) -> SmtpTestServer:
    return smtp_servers()


@pytest.fixture
def token_endpoint() -> Iterator[TokenEndpoint]:
    with TokenEndpoint() as endpoint:
        yield endpoint


@pytest.fixture
def oauth_env(token_endpoint: TokenEndpoint, monkeypatch: pytest.MonkeyPatch) -> TokenEndpoint:
    for name, value in token_endpoint.environment().items():
        monkeypatch.setenv(name, value)
    return token_endpoint


@pytest.fixture
def octx(token_endpoint: TokenEndpoint, home: Path, database_url: str | None) -> Iterator[Context]:
    from core.config import Settings
    from core.context import build_context

    context = build_context(
        Settings(home=home, database_url=database_url, **token_endpoint.settings_overrides())
    )
    yield context
    context.close()
