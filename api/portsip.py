"""The PortSIP flat settings object, translated to and from the settings models.

`GET|POST /api/tenant/notification` and `mailbell settings show|set --json` carry the settings
as one flat object in the reference's field names plus DESIGN's extensions: the default
server's fields, `recipients` as one comma-separated string, then the scope's toggles (a
tenant's also `effective_mail_server`; the system's `apply_to_all_tenants` before its
recipients). This module is the only place that knows that shape:

- `to_portsip(read)`: a `NotificationSettingsRead` as that object, keys in the order clients
  have always seen them (`SERVER_VIEW`: the read model's server fields, in its order);
- `from_portsip(body, system=…)`: a posted object as a `NotificationSettingsUpdate`, with the
  wire's own rules first: each field of the JSON type the model gives it (`recipients`: a
  string), `null` the same as leaving the field out, and the read-only `effective_mail_server`
  ignored so that a client may post back what it read.

It imports no aiohttp, so the CLI may use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

from api.json_types import json_fields
from core.digest_policy import setting_name
from core.models.tenancy import SERVER_VIEW, NotificationSettingsRead, NotificationSettingsUpdate

# Returned by GET, not settable: ignored when a client posts back what it read.
READ_ONLY = ("effective_mail_server",)
# The one field whose wire type is not the model's: a list of addresses, sent comma-joined.
WIRE_TYPES = {"recipients": "string"}


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def to_portsip(read: NotificationSettingsRead) -> dict[str, Any]:
    """The flat object of `read` (never a password: the read model has none)."""
    data = {name: _plain(getattr(read, name)) for name in SERVER_VIEW}
    recipients = ",".join(read.recipients)
    if read.tenant is None:
        data["apply_to_all_tenants"] = read.apply_to_all_tenants
        data["recipients"] = recipients
        data.update(read.toggles)
        return _with_extensions(data, read)
    data["recipients"] = recipients
    data.update(read.toggles)
    data["effective_mail_server"] = read.effective_mail_server
    data["use_system_server"] = read.use_system_server
    return _with_extensions(data, read)


def _with_extensions(data: dict[str, Any], read: NotificationSettingsRead) -> dict[str, Any]:
    """mailbell's delivery settings after the reference's fields: the recipient mode and one
    `digest.EVENT` key per digest event of the scope."""
    data["recipient_mode"] = read.recipient_mode
    data.update({setting_name(event): policy for event, policy in read.digests.items()})
    data["timezone"] = read.timezone
    data["locale"] = read.locale
    return data


def from_portsip(body: Mapping[str, Any], *, system: bool) -> NotificationSettingsUpdate:
    """A posted flat object as an update of the system's (or a tenant's) settings; raises
    `core.errors.ValidationError(field, rule)` naming the first field that breaks a rule."""
    given = json_fields(
        body, NotificationSettingsUpdate, read_only=READ_ONLY, wire_types=WIRE_TYPES
    )
    return NotificationSettingsUpdate.parse(given, system=system)
