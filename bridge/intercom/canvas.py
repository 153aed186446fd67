"""Canvas Kit: the JSON an Intercom inbox app answers with, built by small functions.

The shapes are Intercom's Canvas Kit components (`canvas-kit-schemas-from-2.11.yaml`; the types
left the OpenAPI after 2.11 but the inbox still renders them): a canvas is `{content: {components:
[…]}, stored_data}`, and `stored_data` comes back with the next submit, which is how a multi-step
flow (preview, then confirm) remembers what the agent chose.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

Component = dict[str, Any]

# Canvas Kit refuses content and stored_data over 64 KB each.
MAX_BYTES = 64 * 1024
# A dropdown or single-select takes 2 to 10 options (Canvas Kit's component reference).
MAX_OPTIONS = 10


def text(value: str, *, style: str = "paragraph", id: str | None = None) -> Component:
    component: Component = {"type": "text", "text": value, "style": style}
    if id:
        component["id"] = id
    return component


def header(value: str) -> Component:
    return text(value, style="header")


def error(value: str) -> Component:
    return text(value, style="error")


def muted(value: str) -> Component:
    return text(value, style="muted")


def button(id: str, label: str, *, style: str = "primary") -> Component:
    return {"type": "button", "id": id, "label": label, "style": style, "action": {"type": "submit"}}


def text_input(id: str, label: str, *, placeholder: str = "", value: str = "") -> Component:
    component: Component = {"type": "input", "id": id, "label": label}
    if placeholder:
        component["placeholder"] = placeholder
    if value:
        component["value"] = value
    return component


def textarea(
    id: str, label: str, *, value: str = "", placeholder: str = "", disabled: bool = False
) -> Component:
    """A multi-line field; `disabled` shows a text exactly as it is (a text component reads Markdown)."""
    component: Component = {"type": "textarea", "id": id, "label": label}
    if placeholder:
        component["placeholder"] = placeholder
    if value:
        component["value"] = value
    if disabled:
        component["disabled"] = True
    return component


def dropdown(
    id: str, label: str, options: Sequence[tuple[str, str]], *, value: str | None = None
) -> Component:
    """A choice among 2 to `MAX_OPTIONS` (id, text) options; its value comes back under `id`."""
    if not 2 <= len(options) <= MAX_OPTIONS:
        raise ValueError(f"a dropdown takes 2 to {MAX_OPTIONS} options, not {len(options)}")
    component: Component = {
        "type": "dropdown",
        "id": id,
        "label": label,
        "options": [{"type": "option", "id": option, "text": text} for option, text in options],
    }
    if value is not None:
        component["value"] = value
    return component


def list_item(id: str, title: str, *, subtitle: str = "", tertiary: str = "") -> Component:
    """An entry of `item_list`; clicking it submits with `id` as the component clicked."""
    item: Component = {"type": "item", "id": id, "title": title, "action": {"type": "submit"}}
    if subtitle:
        item["subtitle"] = subtitle
    if tertiary:
        item["tertiary_text"] = tertiary
    return item


def item_list(items: list[Component]) -> Component:
    return {"type": "list", "items": items}


def table(rows: list[tuple[str, str]]) -> Component:
    return {"type": "data-table", "items": [{"type": "field-value", "field": f, "value": v} for f, v in rows]}


def divider() -> Component:
    return {"type": "divider"}


def encoded_size(value: Any) -> int:
    """Bytes `value` takes in the answer (UTF-8 JSON, as the web app writes it): what `MAX_BYTES`
    limits."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def canvas(
    components: list[Component], *, stored_data: dict[str, Any] | None = None, completed: bool = False
) -> dict[str, Any]:
    """An initialize or submit response; `completed` tells Intercom the flow is over."""
    body: dict[str, Any] = {"canvas": {"content": {"components": components}}}
    if stored_data:
        body["canvas"]["stored_data"] = stored_data
    if completed:
        body["event"] = {"type": "completed"}
    return body
