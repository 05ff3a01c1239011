"""`/mailbell digest [EVENT [AFTER WINDOW | off]]`: how bursts of an event are folded into one
digest email. No argument lists the policies; an event alone shows its policy."""

from __future__ import annotations

from core.services.slack_digest import (
    DigestLine,
    digest_event,
    digest_lines,
    policy_words,
    set_digest,
)
from slackbot.listeners.commands.base import Command, CommandRequest, Reply, usage

USAGE = "digest [EVENT [AFTER WINDOW | off]] (e.g. `digest queue_call_lost 5 10m`)"


def _meaning(line: DigestLine) -> str:
    if line.policy == "off":
        return "off: every event is sent on its own"
    after, window = line.policy.split("/")
    return (
        f"{line.policy}: the first {after} events of a {window} window go one by one, "
        "the rest in one digest"
    )


def digest(request: CommandRequest) -> Reply:
    _, tenant = request.linked()
    args = request.args
    if not args:
        lines = digest_lines(session=request.session, tenant=tenant)
        listing = "\n".join(f"• `{line.short}` — {line.policy}" for line in lines)
        return Reply(text=f"Digest policies of {tenant.slug} (`/mailbell {USAGE}`):\n{listing}")
    if len(args) == 1:
        event = digest_event(args[0])
        line = next(
            x for x in digest_lines(session=request.session, tenant=tenant) if x.event == event.name
        )
        return Reply(text=f"`{line.short}` — {_meaning(line)}")
    if len(args) > 3:
        return usage(USAGE)
    line, changed = set_digest(
        session=request.session,
        box=request.ctx.box,
        tenant=tenant,
        name=args[0],
        policy=policy_words(args[1:]),
        actor=request.actor,
    )
    if not changed:
        return Reply(text=f"Nothing to change: `{line.short}` — {line.policy}.")
    what = "turned digests of {} off" if line.policy == "off" else "set the digest of {} to {}"
    return Reply(
        text=f":white_check_mark: `{line.short}` — {_meaning(line)}.",
        announce=f"{request.who} {what.format(line.short, line.policy)}",
    )


COMMANDS = {"digest": Command(digest)}
