"""An on/off toggle that reads without colour: a glyph and the word, `✓ on` or `✗ off`.

Textual's Switch shows its state as a slider's colour alone, which a colour-blind operator, a
16-colour terminal or `NO_COLOR` loses. `Toggle` is a Switch (the same `value`, keys, clicks
and `Switch.Changed`, so pages query and handle it as one) drawn as text; its focus is shown
by reversed, bold text, which needs no colour either (app.tcss).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.geometry import Size
from textual.widgets import Switch

if TYPE_CHECKING:
    from textual.app import RenderResult

ON, OFF = "✓ on", "✗ off"
WIDTH = max(len(ON), len(OFF))


def state_text(value: bool) -> str:
    """What a toggle shows for `value` (tests and help read the same words)."""
    return ON if value else OFF


class Toggle(Switch):
    """A Switch shown as `✓ on` / `✗ off`, one line high, as wide as its longest word."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"toggle--on", "toggle--off"}

    DEFAULT_CSS = """
    Toggle {
        width: auto;
        height: 1;
        border: none;
        padding: 0;
        background: transparent;
        &:focus {
            border: none;
        }
        & > .toggle--on {
            color: $text-success;
            text-style: bold;
        }
        & > .toggle--off {
            color: $text-muted;
        }
    }
    """

    def render(self) -> RenderResult:
        part = "toggle--on" if self.value else "toggle--off"
        return Text(state_text(self.value).ljust(WIDTH), style=self.get_component_rich_style(part))

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return WIDTH
