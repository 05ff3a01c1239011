"""A mail server row for tests that need one but do not send through it (IMAP accounts' outbound
path, rate-limit slots, leases): the fields every server must have, and a usable From."""

from __future__ import annotations

import itertools
from typing import Any

from sqlmodel import Session

from core.crypto import SecretBox
from core.models.mail import MailServer
from core.models.tenancy import Tenant
from core.services.audit import Actor
from core.services.mail_servers import create_mail_server

_numbers = itertools.count(1)


def outbound_server(
    session: Session, box: SecretBox, tenant: Tenant | None, actor: Actor, **fields: Any
) -> MailServer:
    """Create (and commit) a server without authentication; `fields` override the defaults."""
    data: dict[str, Any] = {
        "name": f"out {next(_numbers)}",
        "host": "smtp.example.org",
        "auth": "DISABLE",
        "mail_from": "alerts@example.org",
        **fields,
    }
    return create_mail_server(session=session, box=box, tenant=tenant, data=data, actor=actor)
