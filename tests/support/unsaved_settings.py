"""Tests of "test before save": settings typed but not saved, sent through a real aiosmtpd.

- `RIGHT` / `WRONG`: the password the AUTH server takes, and one it refuses.
- `auth_smtp(smtp_servers)`: a plain-text aiosmtpd with AUTH PLAIN/LOGIN for `USER` / `RIGHT`.
- `cli_options(smtp, password=…)`: `server add`'s options pointing at that server.
- `stored_state(ctx)`: every mail server row (secrets decrypted) and the audit entries, to prove
  that a test changed nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlmodel import col, select

if TYPE_CHECKING:
    from core.context import Context
    from tests.support.smtp_servers import SmtpTestServer

USER = "alerts@acme.org"
RIGHT = "Right-Horse-7"
WRONG = "Wrong-Horse-9"
FROM = "Acme Alerts <alerts@acme.org>"


def auth_smtp(smtp_servers: Callable[..., SmtpTestServer]) -> SmtpTestServer:
    return smtp_servers(auth=True, users={USER: RIGHT})


def cli_options(smtp: SmtpTestServer, *, password: str = RIGHT) -> list[str]:
    """The unsaved settings of `smtp` as command-line options (`server add`'s)."""
    return [
        "--host", smtp.host, "--port", str(smtp.port), "--security", "none",
        "--auth", "PLAIN", "--username", USER, "--password", password, "--timeout", "5",
    ]  # fmt: skip


def server_fields(smtp: SmtpTestServer, *, password: str) -> dict[str, Any]:
    """`create_mail_server` data for `smtp` (AUTH with `password`)."""
    return {
        "host": smtp.host,
        "port": smtp.port,
        "security": "none",
        "auth": "PLAIN",
        "username": USER,
        "password": password,
        "mail_from": FROM,
        "timeout": 5,
    }


def stored_state(ctx: Context) -> dict[str, Any]:
    """Every mail server (its password decrypted, its last test) and every audit entry."""
    from core.models.audit import AuditEntry
    from core.models.mail import MailServer

    with ctx.session() as session:
        servers = [
            {
                **row.model_dump(exclude={"password_enc"}),
                "password": ctx.box.decrypt(row.password_enc) if row.password_enc else None,
            }
            for row in session.exec(select(MailServer).order_by(col(MailServer.id)))
        ]
        audit = [row.model_dump() for row in session.exec(select(AuditEntry))]
    return {"servers": servers, "audit": audit}
