"""`/mailbell help`: every subcommand, one line each."""

from __future__ import annotations

from slackbot.blocks.common import Message, context, escape, message, section

COMMANDS: tuple[tuple[str, str], ...] = (
    ("help", "this list (open to everyone)"),
    ("status", "health, mail server, recipients, events with on/off buttons, queue, failures"),
    (
        "settings",
        "a form: recipients, events on or off, digests, and a test email",
    ),
    ("server", "a form: the tenant's mail server, with a connection test"),
    ("events", "every event: on or off, and whether this channel mirrors it"),
    ("enable EVENT…", "turn events on (e.g. `queue_call_lost queue_sla`)"),
    ("disable EVENT…", "turn events off"),
    (
        "digest [EVENT [AFTER WINDOW|off]]",
        "show or set how bursts are folded into one digest email (e.g. `queue_call_lost 5 10m`: "
        "the first 5 events of 10 minutes one by one, the rest in one digest)",
    ),
    (
        "timezone [ZONE|system]",
        "show or set the time zone the tenant's mail shows dates in (e.g. `Europe/Paris`; "
        "`system`: follow the system's)",
    ),
    (
        "locale [LOCALE|system]",
        "show or set the language and formats of the tenant's mail (e.g. `fr_FR`, `de_DE`; "
        "`system`: follow the system's)",
    ),
    ("recipients [add|remove ADDR…]", "show or change who gets the notification emails"),
    ("test ADDR", "send a test email through the tenant's mail server"),
    ("route EVENT…|all", "mirror these events into this channel"),
    ("unroute EVENT…|all", "stop mirroring them here"),
    (
        "route inbox ACCOUNT [from:PATTERN]",
        "mirror new mail of an email account here (senders matching e.g. `*@carrier.example`)",
    ),
    ("unroute inbox ACCOUNT [from:PATTERN]", "stop mirroring that mail here"),
    ("retry DELIVERY_ID", "send a failed delivery again"),
    (
        "resend DELIVERY_ID [ADDRESS]",
        "send a new copy of a finished delivery (sent, partial, failed…), an email optionally "
        "to another address",
    ),
    ("link TENANT", "link this channel to a tenant (system admins)"),
    ("unlink", "remove this channel's link (system admins)"),
    ("admins [add|remove @user]", "show or change the tenant's Slack admins"),
    (
        "webhook [list|add URL [EVENT…]|remove ID|test ID]",
        "the tenant's webhooks (events POSTed as JSON); a signed one, with its secret, is "
        "added from the CLI or the HTTP API: secrets are never typed into Slack",
    ),
)


def help_message(command: str = "/mailbell", unknown: str | None = None) -> Message:
    lines = [f"`{command} {usage}` — {text}" for usage, text in COMMANDS]
    intro = f"Unknown command `{escape(unknown)}`. " if unknown else ""
    head = f"{intro}*{command}* manages this channel's tenant notifications:"
    blocks = [
        section(head),
        section("\n".join(lines)),
        context(
            "Everything except `help` needs a system admin or an admin of the channel's tenant. "
            "In a channel linked to no tenant, system admins' `status`, `timezone` and `locale` "
            "are the system's."
        ),
    ]
    names = dict.fromkeys(usage.split()[0] for usage, _ in COMMANDS)
    fallback = f"{intro}{command} commands: " + ", ".join(names)
    return message(fallback, blocks)
