"""XOAUTH2 authorization of a Gmail / Microsoft 365 server: the consent URL, then the tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tui.runtime import actor, owner

if TYPE_CHECKING:
    from core.context import Context
    from core.services.oauth_authorization import OAuthStart


def start(ctx: Context, slug: str | None, server_id: int) -> OAuthStart:
    """The pending authorization: its `url` is shown, the whole is handed to `complete`."""
    from core.services.oauth_authorization import start_authorization

    with ctx.session() as session:
        return start_authorization(
            session=session,
            settings=ctx.settings,
            box=ctx.box,
            tenant=owner(session, slug, write=True),
            server_id=server_id,
        )


async def complete(ctx: Context, started: OAuthStart, pasted: str) -> str:
    """Trade the code in the pasted redirect address for tokens; when the access token expires."""
    from core.services.oauth_authorization import complete_authorization

    done = await complete_authorization(ctx=ctx, start=started, actor=actor(), redirect_url=pasted)
    return f"{done.expires_at:%Y-%m-%d %H:%M} UTC"
