"""`/mailbell settings`: the tenant's notification settings as a modal.

The submit is authorized again (never on the view's `private_metadata`), every field is checked
with the core's rules first, each problem answered on its own block, and only then is everything
saved in one transaction, audited with the Slack user. The test button sends a test email to the
first recipient as typed and shows the result in the modal (`views.update`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from core.context import Context
from core.errors import MailbellError, NotFound, ValidationError
from core.models.tenancy import NotificationSettingsUpdate, Tenant
from core.services.audit import Actor
from core.services.notifications import get_notification_settings, update_notification_settings
from core.services.slack import ChannelRef, channel_ref
from core.services.slack_admins import acting_admin
from slackbot.blocks.common import escape
from slackbot.blocks.settings_modal import (
    CALLBACK_ID,
    TEST_ACTION,
    ModalInput,
    error_text,
    read_metadata,
    read_modal,
    settings_modal,
)
from slackbot.blocks.test_email import SUBJECT, test_email_line
from slackbot.errors import describe
from slackbot.listeners.commands.base import Command, CommandRequest, Reply, usage
from slackbot.listeners.followup import Followup, FollowupRunner
from slackbot.listeners.offloop import BUSY_TEXT, DatabaseBusy, ListenerDatabase
from slackbot.listeners.views.settings_form import (
    announcement,
    block_of,
    changes_of,
    digest_choices,
    event_choices,
)
from slackbot.text import mention

log = logging.getLogger("slackbot")

CONTENT = (
    "This is a test email sent from Slack with the /mailbell settings form by {user}.\n"
    "If you can read it, tenant {tenant}'s mail server delivers mail."
)


def open_settings(request: CommandRequest) -> Reply:
    if request.args:
        return usage("settings")
    _, tenant = request.linked()
    settings = get_notification_settings(session=request.session, tenant=tenant)
    view = settings_modal(
        tenant=tenant.slug,
        tenant_id=tenant.id or 0,
        channel_id=request.channel_id,
        recipients=settings.recipients,
        events=event_choices({name for name, on in settings.toggles.items() if on}),
        digests=digest_choices(settings.digests),
    )
    return Reply(text="", modal=view)


# -- who may -----------------------------------------------------------------------------------


@dataclass
class Access:
    tenant: Tenant
    channel: ChannelRef
    actor: Actor
    user_id: str


def authorize(session: Session, ctx: Context, body: dict[str, Any], what: str) -> Access | str:
    """The user, checked against the tenant the modal was opened for (which must still exist
    and still be linked to the channel); a refusal is audited and is the answer."""
    user = body.get("user") or {}
    user_id = str(user.get("id") or "")
    team_id = str((body.get("team") or {}).get("id") or user.get("team_id") or "")
    where = read_metadata(body.get("view") or {})
    tenant = session.get(Tenant, where.tenant_id) if where else None
    acting = acting_admin(
        session=session,
        admin_ids=ctx.settings.slack_admin_ids,
        user_id=user_id,
        team_id=team_id,
        tenant=tenant,
        refused=what,
    )
    if acting is None:
        slug = tenant.slug if tenant is not None else "(unknown)"
        return (
            f":no_entry: You may not change tenant {slug}'s notification settings: "
            "only system admins and its Slack admins may. Nothing was changed."
        )
    channel = (
        channel_ref(session=session, team_id=team_id, channel_id=where.channel_id)
        if where
        else None
    )
    if tenant is None or channel is None or channel.tenant_id != tenant.id:
        return ":link: This channel is no longer linked to that tenant. Nothing was changed."
    return Access(tenant, channel, acting, user_id)


# -- the submit --------------------------------------------------------------------------------


@dataclass
class Submitted:
    errors: dict[str, str] | None = None
    channel: str | None = None
    announce: str | None = None


def save_settings(ctx: Context, body: dict[str, Any]) -> Submitted:
    """Authorize, check every field, then save all of it at once (or nothing)."""
    form = read_modal(body.get("view") or {})
    with ctx.session() as session:
        access = authorize(session, ctx, body, "/mailbell settings (submit)")
        if isinstance(access, str):
            return Submitted(errors={block_of("", form)[0]: access})
        before = get_notification_settings(session=session, tenant=access.tenant)
        changes, errors = changes_of(form, before)
        if errors:
            return Submitted(errors={block: error_text(text) for block, text in errors.items()})
        if not changes:
            return Submitted()  # nothing to save, nothing to audit
        try:
            after = update_notification_settings(
                session=session,
                box=ctx.box,
                tenant=access.tenant,
                changes=NotificationSettingsUpdate.parse(changes, system=False),
                actor=access.actor,
            )
        except ValidationError as exc:  # a rule across fields (events need recipients)
            session.rollback()
            block, name = block_of(exc.field, form)
            return Submitted(errors={block: error_text(f"{name} {exc.message}")})
        announce = announcement(mention(access.user_id), before, after)
        return Submitted(channel=access.channel.link["channel_id"], announce=announce)


# -- the test button ---------------------------------------------------------------------------


def _work(body: dict[str, Any], form: ModalInput) -> dict[str, Any]:
    """The follow-up's data: the modal as the user left it, and where to show the result."""
    view = body.get("view") or {}
    where = read_metadata(view)
    return {
        "kind": "modal_test_email",
        "view_id": view.get("id"),
        "hash": view.get("hash"),
        "channel": where.channel_id if where else "",
        "tenant_id": where.tenant_id if where else 0,
        "tenant": where.tenant if where else "",
        "recipients": [typed for _, typed in form.recipients],
        "enabled": form.enabled or [],
        "digests": form.digests,
        "user": str((body.get("user") or {}).get("id") or ""),
    }


def prepare_test(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    """Authorize the button and say what the follow-up sends where (or what it shows)."""
    form = read_modal(body.get("view") or {})
    work = _work(body, form)
    with ctx.session() as session:
        access = authorize(session, ctx, body, "/mailbell settings (test email)")
        if isinstance(access, str):
            return {**work, "result": access}
        saved = get_notification_settings(session=session, tenant=access.tenant)
    if form.enabled is None:
        work["enabled"] = [name for name, on in saved.toggles.items() if on]
    to = form.first_recipient() or next(iter(saved.recipients), None)
    if to is None:
        return {**work, "result": ":warning: Type a recipient first: the test email goes to it."}
    return {**work, "tenant": access.tenant.slug, "to": to}


def rebuilt(work: dict[str, Any], result: str) -> dict[str, Any]:
    """The modal again, as the user left it, with `result` under the test button."""
    return settings_modal(
        tenant=work["tenant"],
        tenant_id=int(work["tenant_id"]),
        channel_id=work["channel"],
        recipients=work["recipients"],
        events=event_choices(set(work["enabled"])),
        digests=digest_choices(work["digests"]),
        lines=len(work["recipients"]),
        test_result=result,
    )


async def run_modal_test_email(
    ctx: Context, work: dict[str, Any], respond: Any, client: Any
) -> None:
    """Send the test email after the ack and show each step in the modal."""
    from core.services.mail_tests import send_test_email

    view_id = work["view_id"]
    if work.get("result"):
        await client.views_update(
            view_id=view_id, hash=work["hash"], view=rebuilt(work, work["result"])
        )
        return
    to = escape(work["to"])
    sending = rebuilt(work, f":hourglass_flowing_sand: Sending a test email to {to}…")
    shown = await client.views_update(view_id=view_id, hash=work["hash"], view=sending)

    def load_tenant() -> Tenant:
        with ctx.session() as session:
            tenant = session.get(Tenant, int(work["tenant_id"]))
            if tenant is None:
                raise NotFound("the tenant no longer exists")
            return tenant

    try:
        tenant = await asyncio.to_thread(load_tenant)  # database work stays off the event loop
        result = await send_test_email(
            ctx=ctx,
            tenant=tenant,
            recipient=work["to"],
            subject=SUBJECT,
            content=CONTENT.format(user=work["user"], tenant=tenant.slug),
        )
    except MailbellError as error:  # bad address, no server, a fenced host: said as is
        text = describe(error, log)
    else:
        text = test_email_line(work["to"], result)
    new_hash = (shown.get("view") or {}).get("hash")
    await client.views_update(view_id=view_id, hash=new_hash, view=rebuilt(work, text))


# -- registration ------------------------------------------------------------------------------


class SettingsListener:
    """The modal's submit and its test button; database work off the event loop."""

    def __init__(self, ctx: Context, runner: FollowupRunner, database: ListenerDatabase) -> None:
        self.ctx = ctx
        self.runner = runner
        self.database = database

    async def submit(self, ack: Any, body: dict[str, Any], client: Any) -> None:
        try:
            outcome = await self.database.run(save_settings, body)
        except DatabaseBusy as busy:
            log.warning("slack: database busy, settings not saved (%s)", busy)
            outcome = Submitted(errors={block_of("", read_modal(body["view"]))[0]: BUSY_TEXT})
        except Exception as error:  # the modal stays open, the user's input with it
            first = block_of("", read_modal(body.get("view") or {}))[0]
            outcome = Submitted(errors={first: describe(error, log)})
        if outcome.errors:
            await ack(response_action="errors", errors=outcome.errors)
            return
        await ack()
        followup = Followup(channel=outcome.channel, announce=outcome.announce)
        self.runner.start(followup, client=client, respond=None)

    async def test_email(self, ack: Any, body: dict[str, Any], client: Any) -> None:
        await ack()
        try:
            work = await self.database.run(prepare_test, body)
        except DatabaseBusy as busy:
            log.warning("slack: database busy, test email not sent (%s)", busy)
            work = {**_work(body, read_modal(body.get("view") or {})), "result": BUSY_TEXT}
        except Exception as error:  # shown in the modal, which has no response_url
            work = {
                **_work(body, read_modal(body.get("view") or {})),
                "result": describe(error, log),
            }
        self.runner.start(Followup(work=work), client=client, respond=None)


COMMANDS = {"settings": Command(open_settings)}


def register(app: Any, ctx: Context, runner: FollowupRunner, database: ListenerDatabase) -> None:
    listener = SettingsListener(ctx, runner, database)
    app.view(CALLBACK_ID)(listener.submit)
    app.action(TEST_ACTION)(listener.test_email)
