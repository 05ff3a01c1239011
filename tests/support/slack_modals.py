"""Reading the modals the app opens, and filling them in as Slack would send them back.

- `opened(api)`: the view of the last `views.open`, as the Web API stand-in answered it (with
  the `id` and `hash` Slack gives it): what a submit or a button press sends back.
- `block(view, block_id)`, `input_ids(view, prefix)`, `initial(view, block_id)`: its blocks.
- `state_values(view, changes)`: `view.state.values` as Slack sends them on a submit or a button
  press: every input block with what it shows, `changes` typed over it (`{block_id: value}`; a
  list of option values for checkboxes, one option value for a select or radio buttons).
- `context_text(view, block_id)`: the text of a context block (e.g. a result line).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.support.slack_api import SlackApiStandIn

View = dict[str, Any]


def opened(api: SlackApiStandIn, method: str = "views.open") -> View:
    """The last successful `method` call's view as answered (id and hash included)."""
    calls = [call for call in api.calls if call.method == method and call.ok]
    assert calls, f"no {method} call; calls: {api.methods()}"
    view: View = calls[-1].answer["view"]
    return view


def block(view: Mapping[str, Any], block_id: str) -> dict[str, Any]:
    for item in view.get("blocks") or []:
        if item.get("block_id") == block_id:
            found: dict[str, Any] = item
            return found
    raise AssertionError(f"no block {block_id!r} in the view")


def input_ids(view: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The ids of the input blocks (starting with `prefix`), in order."""
    return [
        str(item["block_id"])
        for item in view.get("blocks") or []
        if item.get("type") == "input" and str(item.get("block_id", "")).startswith(prefix)
    ]


def initial(view: Mapping[str, Any], block_id: str) -> Any:
    """What an input shows when opened: its text, its checked option values, or its option."""
    element = block(view, block_id)["element"]
    if element["type"] == "checkboxes":
        return [option["value"] for option in element.get("initial_options") or []]
    if "initial_option" in element:
        return element["initial_option"]["value"]
    return element.get("initial_value")


def _option(element: Mapping[str, Any], value: str) -> dict[str, Any]:
    for option in element.get("options") or []:
        if option["value"] == value:
            found: dict[str, Any] = option
            return found
    raise AssertionError(f"no option {value!r} in {element.get('action_id')}")


def state_values(
    view: Mapping[str, Any], changes: Mapping[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """Every input block's state as Slack sends it, `changes` typed over what it shows."""
    changes = changes or {}
    values: dict[str, dict[str, Any]] = {}
    for item in view.get("blocks") or []:
        if item.get("type") != "input":
            continue
        block_id, element = item["block_id"], item["element"]
        kind = element["type"]
        state: dict[str, Any] = {"type": kind}
        if kind == "checkboxes":
            chosen = changes.get(block_id)
            state["selected_options"] = (
                list(element.get("initial_options") or [])
                if chosen is None
                else [_option(element, value) for value in chosen]
            )
        elif kind in ("static_select", "radio_buttons"):
            chosen = changes.get(block_id)
            state["selected_option"] = (
                element.get("initial_option") if chosen is None else _option(element, chosen)
            )
        else:
            state["value"] = changes.get(block_id, element.get("initial_value"))
        values[block_id] = {element["action_id"]: state}
    return values


def context_text(view: Mapping[str, Any], block_id: str) -> str:
    return " ".join(element.get("text", "") for element in block(view, block_id)["elements"])
