"""`/mailbell server`: the tenant's default mail server in a modal, saved by the core's rules.

- The command opens the form with the saved values; the password input stays empty (an empty
  one keeps the stored password).
- Submit: the user is authorized again against the tenant (system admin, or that tenant's
  admin acting tenant-scoped: fenced hosts as in the HTTP API); every field is checked, then the
  rules of a save run on a draft, so that one answer names every bad block; only then the
  update (or the creation of the default server) commits with its audit entry. The change is
  announced in the channel, without the password.
- "Test connection" walks the settings as typed (unsaved: core.services.mail_tests) after the
  ack, and shows each step in the modal (views.update); a preset re-fills host, port, security.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from core.context import Context
from core.errors import NotFound, ValidationError
from core.models.mail import MailServerCreate, MailServerRead, MailServerUpdate
from core.models.tenancy import Tenant
from core.netfence import prefetch
from core.services.audit import Actor
from core.services.mail_drafts import draft_server
from core.services.mail_servers import (
    create_mail_server,
    default_mail_server,
    mail_server_row,
    update_mail_server,
)
from core.services.slack import channel_ref
from core.services.slack_admins import acting_admin, slack_actor
from core.vocabulary import AUTH_LABELS, PROVIDER_LABELS, SECURITY_LABELS
from slackbot.blocks.common import escape
from slackbot.blocks.server_modal import (
    CALLBACK_ID,
    PRESET_ACTION,
    TEST_ACTION,
    ServerForm,
    Target,
    server_modal,
    typed_values,
)
from slackbot.listeners.commands.base import Command, CommandRequest, Reply
from slackbot.listeners.followup import Followup, FollowupRunner
from slackbot.listeners.offloop import BUSY_TEXT, DatabaseBusy, ListenerDatabase
from slackbot.listeners.views.server_form import ANNOUNCED, BLOCK_OF, STALE, error_message, parse
from slackbot.text import mention

log = logging.getLogger("slackbot")

NEW_SERVER_NAME = "default"  # a tenant's first server, made by this form
REFUSED = (
    ":no_entry: You may not change this tenant's mail server: only system admins and Slack "
    "admins of the tenant may. Nothing was changed."
)


def _form(read: MailServerRead | None) -> ServerForm:
    if read is None:
        return ServerForm()
    return ServerForm(
        provider=read.provider,
        host=read.host or "",
        port=read.port,
        security=read.security,
        auth=read.auth,
        username=read.username or "",
        mail_from=read.mail_from or "",
        has_password=read.has_password,
    )


def open_server(request: CommandRequest) -> Reply:
    _, tenant = request.linked()
    row = default_mail_server(session=request.session, tenant=tenant)
    read = MailServerRead.of(row) if row is not None else None
    target = Target(request.channel_id, tenant.id or 0, read.id if read else None)
    view = server_modal(target=target, tenant_slug=tenant.slug, form=_form(read))
    return Reply(text="", modal=view)


COMMANDS = {"server": Command(open_server)}


# -- who --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """The user's rights over the form's tenant, decided again at each submit and button."""

    actor: Actor
    tenant_id: int = 0
    slug: str = ""
    refusal: str | None = None


def _user(body: dict[str, Any]) -> tuple[str, str]:
    user = body.get("user") or {}
    return str(user.get("id", "")), str(
        (body.get("team") or {}).get("id") or user.get("team_id", "")
    )


def authorize(ctx: Context, body: dict[str, Any], target: Target, what: str) -> Access:
    user_id, team_id = _user(body)
    actor = slack_actor(user_id, team_id)
    with ctx.session() as session:
        tenant = session.get(Tenant, target.tenant_id)
        acting = acting_admin(
            session=session,
            admin_ids=ctx.settings.slack_admin_ids,
            user_id=user_id,
            team_id=team_id,
            tenant=tenant,
            refused=what,
        )
        if acting is None:
            return Access(actor, refusal=REFUSED)
        if tenant is None:
            return Access(actor, refusal="This tenant no longer exists. Nothing was changed.")
        return Access(acting, tenant.id or 0, tenant.slug)


# -- submit -----------------------------------------------------------------------------------


@dataclass
class Saved:
    errors: dict[str, str] = field(default_factory=dict)
    announce: str | None = None


def _changes(before: MailServerRead | None, after: MailServerRead, password: bool) -> list[str]:
    """What the announcement lists: the new values (labels for choices), never a secret."""
    labels = {"provider": PROVIDER_LABELS, "security": SECURITY_LABELS, "auth": AUTH_LABELS}
    changes = []
    for name in ("provider", "host", "port", "security", "auth", "username", "mail_from"):
        value = getattr(after, name)
        if before is not None and getattr(before, name) == value:
            continue
        shown = labels[name].get(value, value) if name in labels else value
        changes.append(f"{ANNOUNCED[name]} {escape(str(shown)) if shown else '(none)'}")
    return changes + (["a new password"] if password else [])


def save(ctx: Context, body: dict[str, Any], target: Target, access: Access) -> Saved:
    good, errors = parse(typed_values((body.get("view") or {}).get("state")))
    with ctx.session() as session:
        tenant = session.get(Tenant, access.tenant_id)
        if tenant is None:
            return Saved({"preset": STALE})
        try:  # every rule of a save, on what parsed, so that one answer names each bad block
            draft_server(
                session=session,
                box=ctx.box,
                tenant=tenant,
                server_id=target.server_id,
                changes=MailServerUpdate.from_fields(good),
                actor=access.actor,
            )
            if errors:
                return Saved(errors)
            if target.server_id is None:
                data = MailServerCreate.from_fields(
                    {"name": NEW_SERVER_NAME, "is_default": True, **good}
                )
                before = None
                after = create_mail_server(
                    session=session, box=ctx.box, tenant=tenant, data=data, actor=access.actor
                )
            else:
                row = mail_server_row(session=session, tenant=tenant, server_id=target.server_id)
                before = MailServerRead.of(row)
                after = update_mail_server(
                    session=session,
                    box=ctx.box,
                    tenant=tenant,
                    server_id=target.server_id,
                    changes=MailServerUpdate.from_fields(good),
                    actor=access.actor,
                )
        except ValidationError as exc:
            errors.setdefault(BLOCK_OF.get(exc.field, "host"), error_message(exc))
            return Saved(errors)
        except NotFound:
            return Saved({"preset": STALE})
        user_id, team_id = _user(body)
        changed = _changes(before, after, "password" in good)
        channel = channel_ref(session=session, team_id=team_id, channel_id=target.channel_id)
    if not changed or channel is None or channel.tenant_id != access.tenant_id:
        return Saved()
    verb = "set up" if before is None else "changed"
    return Saved(announce=f"{mention(user_id)} {verb} the mail server: {', '.join(changed)}")


class ServerModal:
    """The modal's submit and buttons; database work off the event loop (offloop)."""

    def __init__(self, ctx: Context, runner: FollowupRunner, database: ListenerDatabase) -> None:
        self.ctx = ctx
        self.runner = runner
        self.database = database

    async def submit(self, ack: Any, body: dict[str, Any], client: Any) -> None:
        target = Target.parse((body.get("view") or {}).get("private_metadata"))
        if target is None:
            await ack(response_action="errors", errors={"preset": STALE})
            return
        try:
            access = await self.database.run(authorize, body, target, f"{CALLBACK_ID} submit")
            if access.refusal is None and access.actor.tenant_scoped:
                # The fence resolves the host in the write; resolved here, it finds it cached.
                await prefetch(typed_values(body["view"].get("state")).get("host"))
            saved = (
                Saved({"preset": access.refusal})
                if access.refusal
                else await self.database.run(save, body, target, access)
            )
        except DatabaseBusy as busy:
            log.warning("slack: database busy, mail server not saved (%s)", busy)
            saved = Saved({"preset": BUSY_TEXT})
        if saved.errors:
            await ack(response_action="errors", errors=saved.errors)
            return
        await ack()
        followup = Followup(channel=target.channel_id, announce=saved.announce)
        self.runner.start(followup, client=client, respond=None)

    async def button(self, ack: Any, body: dict[str, Any], client: Any) -> None:
        """Test connection, or a preset chosen: re-drawn after the ack (follow-up work)."""
        await ack()
        view = body.get("view") or {}
        target = Target.parse(view.get("private_metadata"))
        action = ((body.get("actions") or [{}])[0]).get("action_id")
        if target is None:
            return
        work: dict[str, Any] = {
            "kind": "modal_server_test",
            "view_id": view.get("id"),
            "hash": view.get("hash"),
            "target": target.metadata(),
            "typed": typed_values(view.get("state")),
            "preset": action == PRESET_ACTION,
        }
        try:
            access = await self.database.run(authorize, body, target, f"{CALLBACK_ID} {action}")
        except DatabaseBusy:
            access = Access(slack_actor(*_user(body)), refusal=BUSY_TEXT)
        work |= {"actor": access.actor.name, "scoped": access.actor.tenant_scoped}
        work |= {"slug": access.slug, "refusal": access.refusal}
        self.runner.start(Followup(work=work), client=client, respond=None)


def register(app: Any, ctx: Context, runner: FollowupRunner, database: ListenerDatabase) -> None:
    modal = ServerModal(ctx, runner, database)
    app.view(CALLBACK_ID)(modal.submit)
    app.action(TEST_ACTION)(modal.button)
    app.action(PRESET_ACTION)(modal.button)
