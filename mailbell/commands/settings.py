"""`mailbell settings …`: a tenant's (or the system's) notification settings, as in the HTTP API."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperCommand

from mailbell.commands._common import (
    actor,
    context,
    owner_tenant,
    parse_assignments,
    print_fields,
    print_json,
    read_secret_argument,
)

app = typer.Typer(help="Notification settings and the default mail server.", no_args_is_help=True)

TENANT_OPTION = typer.Option(None, "--tenant", help="Tenant slug.")
SYSTEM_OPTION = typer.Option(False, "--system", help="The system settings.")
# Keys whose value `-` means "read it from standard input", as `--password -` elsewhere: a
# secret on the command line shows in `ps` and in the shell history.
SECRET_PROMPTS = {"password": "SMTP password"}


@app.command("show")
def show(
    tenant: str | None = TENANT_OPTION,
    system: bool = SYSTEM_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show the settings (never the password)."""
    from api.portsip import to_portsip
    from core.services.notifications import get_notification_settings

    with context().session() as session:
        owner = owner_tenant(session, tenant, system)
        read = get_notification_settings(session=session, tenant=owner)
        data = to_portsip(read)
        session.commit()
    if as_json:
        print_json(data)
        return
    if read.effective_mail_server_note:
        # what use_system_server does, or why it cannot: beside the server it chose
        data["effective_mail_server"] += f" ({read.effective_mail_server_note})"
    if read.tenant is not None:
        # An unset value follows the system's: say which one mail reads in now.
        for name, effective in (
            ("timezone", read.effective_timezone),
            ("locale", read.effective_locale),
        ):
            if data.get(name) is None:
                data[name] = f"(system's: {effective})"
    print_fields(data)


SET_HELP = (
    "FIELD=VALUE pairs, field names as in the HTTP API: type server port username "
    "password ('password=-' reads it from stdin) auth enable_tls_ssl enable_starttls_auto "
    "reply_to mail_from security tls_verify ca_file timeout rate_limit_per_minute{later} "
    "recipients notify_… recipient_mode=to|bcc|individual use_system_server=true|false "
    "digest.EVENT=AFTER/WINDOW|off, e.g. digest.QUEUE_CALL_LOST=5/10m "
    "timezone=ZONE (IANA, e.g. Europe/Paris) locale=LOCALE (e.g. fr_FR, de_DE, en_US; a "
    "tenant's empty timezone= or locale= follows the system's, the system's resets to UTC, "
    "en_US) "
    "(--system: apply_to_all_tenants, the system notify_… toggles and digest.EVENT keys; no "
    "use_system_server)."
)


class _SetCommand(TyperCommand):
    """`settings set`, whose help names the settings added to the mail server model after
    the ones above: read from the model when the help is shown (`mailbell --help` loads no
    SQLAlchemy)."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        from core.models.mail import SETTINGS_ORDER
        from core.models.tenancy import SERVER_SETTING_COLUMNS

        later = [name for name, c in SERVER_SETTING_COLUMNS.items() if c not in SETTINGS_ORDER]
        for param in self.params:
            if param.name == "assignments":
                param.help = SET_HELP.format(later="".join(f" {name}" for name in later))  # type: ignore[attr-defined]
        super().format_help(ctx, formatter)


@app.command("set", cls=_SetCommand)
def set_(
    assignments: list[str] = typer.Argument(help=SET_HELP.format(later="")),
    tenant: str | None = TENANT_OPTION,
    system: bool = SYSTEM_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print the resulting settings as JSON."),
) -> None:
    """Change some settings; the others keep their values. All or nothing."""
    from api.portsip import to_portsip
    from core.models.tenancy import NotificationSettingsUpdate
    from core.services.notifications import update_notification_settings

    changes = parse_assignments(assignments)
    for key, prompt in SECRET_PROMPTS.items():
        if key in changes:
            changes[key] = read_secret_argument(changes[key], prompt) or ""
    ctx = context()
    with ctx.session() as session:
        owner = owner_tenant(session, tenant, system)
        read = update_notification_settings(
            session=session,
            box=ctx.box,
            tenant=owner,
            changes=NotificationSettingsUpdate.parse(changes, system=owner is None),
            actor=actor(),
        )
    if as_json:
        print_json(to_portsip(read))
    else:
        typer.echo(
            f"settings of {'the system' if system else tenant} updated: {', '.join(changes)}"
        )
        if read.effective_mail_server_note:
            typer.echo(f"note: {read.effective_mail_server_note}")
