"""Schemathesis against a running `mailbell serve`: generated valid and invalid requests to every
documented operation never get a 5xx, and every answer matches openapi.yaml (status codes,
content types, response schemas, negative data rejected).

Bounded: a few examples per operation (MAILBELL_FUZZ_EXAMPLES, default 8) and a fixed seed
(MAILBELL_FUZZ_SEED) so a failure reproduces; the whole test takes well under a minute. The
test_email operation is fuzzed with the token of a tenant that has no mail server, so no run
ever tries to reach a mail server the fuzzer made up.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from core.context import Context
from core.services.tokens import create_token
from tests.api.conftest import ADMIN, Tokens
from tests.api.serve_process import ServeProcess
from tests.support.factories import make_tenant

TEST_EMAIL = "/api/tenant/notification/test_email"
# A schema-valid request may still break a rule the schema cannot say (a system template for
# a tenant, a toggle without recipients): 400 is right there, so "valid data accepted" is off.
EXCLUDED_CHECKS = "positive_data_acceptance"


def _schemathesis(url: str, token: str, workdir: Path, *filters: str) -> None:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{url}/api/openapi.yaml",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--exclude-checks",
        EXCLUDED_CHECKS,
        "--max-examples",
        os.environ.get("MAILBELL_FUZZ_EXAMPLES", "8"),
        "--seed",
        os.environ.get("MAILBELL_FUZZ_SEED", "20261122"),
        "--request-timeout",
        "10",
        "--no-shrink",
        *filters,
    ]
    result = subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]


def test_fuzz_every_operation_against_a_running_server(
    ctx: Context, tokens: Tokens, tmp_path: Path
) -> None:
    with ctx.session() as session:
        idle = make_tenant(session, slug="idle", actor=ADMIN)
        idle_token = create_token(session=session, tenant=idle, name="fuzz", actor=ADMIN)
    with ServeProcess("--no-worker", log_path=tmp_path / "serve.log") as serve:
        _schemathesis(serve.url, tokens.acme, tmp_path, "--exclude-path", TEST_EMAIL)
        _schemathesis(serve.url, idle_token.plaintext, tmp_path, "--include-path", TEST_EMAIL)
        logs = serve.logs
        code, _ = serve.terminate()
    assert code == 0
    assert '"status": 500' not in logs and '"level": "error"' not in logs
