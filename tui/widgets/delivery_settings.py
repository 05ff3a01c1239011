"""The delivery part of the notification settings: how recipients share a message, the
tenant's "use the system's server" switch, and each digest event's policy.

Policies are typed as the settings store them (`3/10m`, `5/90s`, `off`) and checked by the core
on save; a refusal names the field (`digest.QUEUE_CALL_LOST`) and is shown under the digests,
its input marked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Select, Static, Switch

from core.vocabulary import (
    DIGEST_SETTING_PREFIX,
    DIGEST_SYSTEM_EVENTS,
    DIGEST_TENANT_EVENTS,
    EVENT_DESCRIPTIONS,
    RECIPIENT_MODE_LABELS,
    EventName,
    RecipientMode,
)
from tui.widgets.toggle import Toggle

if TYPE_CHECKING:
    from core.models.tenancy import NotificationSettingsRead

POLICY_PLACEHOLDER = "3/10m or off"


def _input_id(event: str) -> str:
    return f"digest-{event}"


def _events(*, system: bool) -> tuple[EventName, ...]:
    return DIGEST_SYSTEM_EVENTS if system else DIGEST_TENANT_EVENTS


class DeliverySettings(Vertical):
    """Recipient mode, the system-server switch (tenants) and the digest inputs of the scope."""

    DEFAULT_CSS = """
    DeliverySettings {
        height: auto;
    }
    DeliverySettings Horizontal {
        height: auto;
    }
    DeliverySettings > .section-title {
        margin: 1 0 0 0;
    }
    DeliverySettings .delivery-label {
        width: 24;
        color: $text-muted;
    }
    DeliverySettings #recipient_mode {
        width: 1fr;
        max-width: 40;
    }
    DeliverySettings .digest-input {
        width: 16;
    }
    DeliverySettings .digest-input.-invalid {
        background: $error 15%;
    }
    DeliverySettings .digest-about {
        width: 1fr;
        height: 1;
        padding: 0 0 0 1;
        color: $text-muted;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    DeliverySettings #digest-error {
        color: $error;
        height: auto;
    }
    """

    def compose(self) -> ComposeResult:
        yield Label("Delivery", classes="section-title")
        with Horizontal(classes="delivery-row"):
            yield Label("Recipients see", classes="delivery-label")
            yield Select(
                [(label, str(mode)) for mode, label in RECIPIENT_MODE_LABELS.items()],
                value=str(RecipientMode.TO),
                allow_blank=False,
                id="recipient_mode",
                compact=True,
            )
        with Vertical(id="system-server-row", classes="toggle-row"):
            with Horizontal(classes="toggle-row"):
                yield Toggle(id="use_system_server")
                yield Label("Use the system's mail server")
            yield Static(
                "Followed while the system applies its settings to all tenants; the tenant's "
                "own servers are kept.",
                classes="muted toggle-note",
            )
        yield Label("Digests of bursts", classes="section-title")
        yield Static(
            "AFTER/WINDOW (3/10m: the first 3 events of 10 minutes one by one, the rest in one "
            "digest email when the window closes) or off.",
            classes="muted",
        )
        for system in (False, True):
            with Vertical(id=f"{'system' if system else 'tenant'}-digests", classes="toggles"):
                for event in _events(system=system):
                    with Horizontal(classes="delivery-row"):
                        yield Label(event, classes="delivery-label")
                        yield Input(
                            id=_input_id(event),
                            classes="digest-input",
                            placeholder=POLICY_PLACEHOLDER,
                            compact=True,
                        )
                        about = EVENT_DESCRIPTIONS.get(event, "")
                        yield Static(about, classes="digest-about")
        yield Static("", id="digest-error")

    def show(self, values: NotificationSettingsRead) -> None:
        """Fill the inputs from `values` (the scope follows `values.tenant`)."""
        system = values.tenant is None
        self.query_one("#system-server-row").display = not system
        self.query_one("#system-digests").display = system
        self.query_one("#tenant-digests").display = not system
        self.query_one("#recipient_mode", Select).value = str(values.recipient_mode)
        self.query_one("#use_system_server", Switch).value = bool(values.use_system_server)
        for event, policy in values.digests.items():
            self.query_one(f"#{_input_id(event)}", Input).value = policy
        self.show_error(None, None)

    def changes(self, *, system: bool) -> dict[str, Any]:
        """The settings as typed: `recipient_mode`, `use_system_server` (tenants) and one
        `digest.EVENT` per digest event of the scope (unchanged ones are no-ops on save)."""
        changes: dict[str, Any] = {
            "recipient_mode": self.query_one("#recipient_mode", Select).value
        }
        if not system:
            changes["use_system_server"] = self.query_one("#use_system_server", Switch).value
        for event in _events(system=system):
            box = self.query_one(f"#{_input_id(event)}", Input)
            changes[f"{DIGEST_SETTING_PREFIX}{event}"] = box.value
        return changes

    def show_error(self, field: str | None, message: str | None) -> bool:
        """Show a refusal of one of these settings beside it; False for another field's."""
        for box in self.query(".digest-input"):
            box.remove_class("-invalid")
        error = self.query_one("#digest-error", Static)
        error.display = field is not None
        if field is None:
            return True
        mine = field in ("recipient_mode", "use_system_server")
        if not mine and not field.startswith(DIGEST_SETTING_PREFIX):
            error.display = False
            return False
        error.update(f"✗ {field}: {message}")
        event = field.removeprefix(DIGEST_SETTING_PREFIX)
        for box in self.query(f"#{_input_id(event)}"):
            box.add_class("-invalid")
            box.focus()
        return True
