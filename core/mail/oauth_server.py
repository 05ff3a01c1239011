"""OAuth state kept on a mail server row: its tokens (encrypted), its refresh failures, and
whether its authorization was revoked, with the words every front end shows for that.

`ServerTokenStore` is the `TokenStore` of a saved server (core.mail.oauth); `store_tokens` puts
newly issued tokens on a row (no commit) and clears the revoked mark; `is_revocation` says
which token-endpoint refusals only a new authorization cures.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlmodel import Session

    from core.crypto import SecretBox
    from core.mail.oauth import TokenSet
    from core.models.mail import MailServer

FAILURE_PREFIX = "OAuth: "
AUTHORIZE_COMMAND = "mailbell oauth authorize --server {server_id}"
# Token endpoint answers that only a new authorization cures (RFC 6749 5.2; OpenID Connect).
REVOKED_ERRORS = frozenset(
    {"invalid_grant", "unauthorized_client", "consent_required", "interaction_required"}
)
# Microsoft's codes for a grant that expired or was withdrawn (password changed, consent
# revoked or never given, inactivity, sign-in policy), whatever `error` says beside them.
REVOKED_AADSTS = (
    "AADSTS50173", "AADSTS65001", "AADSTS700082", "AADSTS700084", "AADSTS70043",
    "AADSTS70008", "AADSTS50076", "AADSTS50078", "AADSTS50079", "AADSTS50158",
)  # fmt: skip


def is_revocation(error: str, description: str) -> bool:
    """The token endpoint's refusal means the authorization is gone (waiting cannot help)."""
    return error in REVOKED_ERRORS or any(code in description for code in REVOKED_AADSTS)


def revoked_message(detail: str, server_id: int | None) -> str:
    """The reason every front end shows for a revoked server, with the command that cures it."""
    command = AUTHORIZE_COMMAND.format(server_id=server_id if server_id is not None else "ID")
    return f"authorization revoked ({detail}): re-authorize with `{command}`"


SessionFactory = Callable[[], AbstractContextManager["Session"]]


class ServerTokenStore:
    """Keeps tokens (encrypted) and refresh failures on one MailServer row."""

    def __init__(self, session_factory: SessionFactory, box: SecretBox, server_id: int) -> None:
        self.session_factory = session_factory
        self.box = box
        self.server_id = server_id

    def save(self, tokens: TokenSet) -> None:
        from core.models.mail import MailServer

        with self.session_factory() as session:
            server = session.get(MailServer, self.server_id)
            if server is None:
                return
            if server.auth_revoked_at is not None:
                # Authorized again (an admin's test got tokens): every worker's pool, whose
                # provider still holds the revoked grant, is rebuilt.
                from core.models._common import utcnow

                server.updated_at = utcnow()
            store_tokens(server, tokens, box=self.box)
            session.add(server)
            session.commit()

    def record_failure(self, reason: str) -> None:
        from core.models._common import utcnow
        from core.models.mail import MailServer

        with self.session_factory() as session:
            server = session.get(MailServer, self.server_id)
            if server is None:
                return
            server.last_test_at = utcnow()
            server.last_test_ok = False
            server.last_test_message = (FAILURE_PREFIX + reason)[:1000]
            session.add(server)
            session.commit()

    def record_revoked(self, detail: str) -> None:
        """Mark the server revoked, keeping the provider's answer (`detail`) as the reason;
        through the ORM, so the configuration generation moves and every worker re-reads the
        row: their next delivery fails without the token endpoint."""
        from core.models._common import utcnow
        from core.models.mail import MailServer

        with self.session_factory() as session:
            server = session.get(MailServer, self.server_id)
            if server is None:
                return
            now = utcnow()
            server.auth_revoked_at = server.auth_revoked_at or now
            server.auth_revoked_reason = detail[:1000]
            server.last_test_at = now
            server.last_test_ok = False
            reason = revoked_message(detail, self.server_id)
            server.last_test_message = (FAILURE_PREFIX + reason)[:1000]
            session.add(server)
            session.commit()


def clear_revoked(server: MailServer) -> None:
    """Forget the revoked mark (no commit): the server was authorized again or its OAuth
    identity changed."""
    server.auth_revoked_at = None
    server.auth_revoked_reason = None


def store_tokens(server: MailServer, tokens: TokenSet, *, box: SecretBox) -> None:
    """Put tokens on `server` (encrypted; no commit). Clears an earlier OAuth failure note and
    the revoked mark: the provider just issued tokens, so the authorization stands."""
    clear_revoked(server)
    server.oauth_access_token_enc = box.encrypt(tokens.access_token)
    server.oauth_token_expires_at = tokens.expires_at
    if tokens.refresh_token:
        server.oauth_refresh_token_enc = box.encrypt(tokens.refresh_token)
    if (server.last_test_message or "").startswith(FAILURE_PREFIX):
        server.last_test_ok = None
        server.last_test_message = None
