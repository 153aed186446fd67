"""The send panel's canvases, as pure functions of what they show (`bridge.inbox.send_panel`
decides what that is). The component ids are the panel's protocol: Intercom sends back the one
clicked, with the inputs' values and the canvas's `stored_data`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bridge.inbox.send_choices import CHANNEL_NAMES, Route
from bridge.intercom import canvas
from bridge.model.messages import Channel
from bridge.model.outgoing import HeaderKind, placeholders
from bridge.providers.base import TemplateInfo

SEND_PREFIX = "send_"
SEND_OPEN, SEND_COMPOSE, SEND_CLOSE = "send_open", "send_compose", "send_close"
SEND_TEMPLATES, TEMPLATE_PAGE_PREFIX = "send_templates", "send_templates:"
TEMPLATE_PREFIX = "send_template:"  # + language + ":" + the template's name
SEND_PREVIEW, SEND_EDIT, SEND_CONFIRM = "send_preview", "send_edit", "send_confirm"
SEND_REFRESH = "send_refresh"
ROUTE_INPUT, TEXT_INPUT, HEADER_INPUT = "send_route", "send_text", "send_header"
VARIABLE_PREFIX = "send_var:"  # + the variable's index
SHOWN = "send_shown"  # the preview's text, exactly as sent
TITLE = "Send SMS / WhatsApp"
TEMPLATES_PER_PAGE = 10
# A page of templates stops short of Canvas Kit's 64 KB whatever their names' length.
TEMPLATE_PAGE_BYTES = canvas.MAX_BYTES // 2

HEADER_NAMES = {
    HeaderKind.IMAGE: "Header image",
    HeaderKind.VIDEO: "Header video",
    HeaderKind.DOCUMENT: "Header document",
    HeaderKind.TEXT: "Header text",
}
_STATUS = {
    "queued": ("Queued", "The bridge is sending it now: refresh in a moment."),
    "sent": ("Sent", "The provider took it; its delivery report is not in yet."),
    "delivered": ("Delivered", "It reached the customer's phone."),
    "read": ("Read", "The customer read it."),
    "failed": ("Not delivered", "Check the number, or write from another number, and send again."),
    "blocked": ("Blocked", "It was not sent, and will not be."),
}


@dataclass(frozen=True)
class Draft:
    """What the agent is writing, on whichever canvas: shown again after a refusal or an Edit."""

    route: Route
    text: str = ""
    template: tuple[str, str] | None = None  # name, language
    values: tuple[str, ...] = ()
    header: str = ""


def nobody() -> dict[str, Any]:
    return canvas.canvas(
        [canvas.header(TITLE), canvas.muted("Open a conversation with a customer to write to them.")]
    )


def closed(why: str) -> dict[str, Any]:
    """Nothing can be sent from here: why, and the way back."""
    return canvas.canvas(
        [canvas.header(TITLE), canvas.error(why), canvas.button(SEND_CLOSE, "Back", style="secondary")]
    )


def compose(
    contact_id: str,
    recipient_rows: list[tuple[str, str]],
    routes: Sequence[Route],
    draft: Draft,
    *,
    unnumbered: Sequence[str] = (),
    templates: bool = False,
    notice: Sequence[canvas.Component] = (),
) -> dict[str, Any]:
    """To whom, Send from (`routes`, `draft`'s chosen), the message; `templates`: offer them."""
    chosen = draft.route
    components = [canvas.header(TITLE), *notice, canvas.table(recipient_rows)]
    if len(routes) < 2:
        components.append(canvas.table([("Send from", chosen.label)]))
    else:
        shown = list(routes[: canvas.MAX_OPTIONS])
        if chosen not in shown:
            shown = [chosen, *shown[: canvas.MAX_OPTIONS - 1]]
        options = [(route.id, route.label) for route in shown]
        components.append(canvas.dropdown(ROUTE_INPUT, "Send from", options, value=chosen.id))
    if unnumbered:
        components.append(
            canvas.muted(
                "Not offered, for want of a default number in BRIDGE_DEFAULT_SENDERS: "
                f"{', '.join(unnumbered)}."
            )
        )
    components += [
        canvas.textarea(TEXT_INPUT, "Message", value=draft.text, placeholder="What the customer gets"),
        canvas.button(SEND_PREVIEW, "Preview"),
    ]
    if templates:
        components.append(canvas.button(SEND_TEMPLATES, "Use a WhatsApp template", style="secondary"))
    components.append(canvas.button(SEND_CLOSE, "Back", style="secondary"))
    return canvas.canvas(components, stored_data={"from": contact_id, "route": chosen.id})


def template_page(
    contact_id: str, route: Route, templates: Sequence[TemplateInfo], start: int
) -> dict[str, Any]:
    """`templates` from `start`: `TEMPLATES_PER_PAGE` at most, within `TEMPLATE_PAGE_BYTES`, and
    More templates for the rest."""
    start = max(0, min(start, len(templates) - 1))
    items: list[canvas.Component] = []
    for info in templates[start : start + TEMPLATES_PER_PAGE]:
        item = _template_item(info)
        if items and canvas.encoded_size([*items, item]) > TEMPLATE_PAGE_BYTES:
            break
        items.append(item)
    end = start + len(items)
    components = [
        canvas.header("Choose a WhatsApp template"),
        canvas.muted(f"{route.label}: approved templates {start + 1}–{end} of {len(templates)}"),
        canvas.item_list(items),
    ]
    if end < len(templates):
        components.append(canvas.button(f"{TEMPLATE_PAGE_PREFIX}{end}", "More templates", style="secondary"))
    components.append(canvas.button(SEND_COMPOSE, "Write text instead", style="secondary"))
    return canvas.canvas(components, stored_data={"from": contact_id, "route": route.id})


def _template_item(info: TemplateInfo) -> canvas.Component:
    variables = f"{info.variables} variable{'' if info.variables == 1 else 's'}"
    header = f", {info.header.value} header" if info.header is not None else ""
    return canvas.list_item(
        f"{TEMPLATE_PREFIX}{info.language}:{info.name}",
        info.label or info.name,
        subtitle=" · ".join(part for part in (info.language, info.category) if part),
        tertiary=variables + header,
    )


def template_form(
    contact_id: str,
    info: TemplateInfo,
    names: Sequence[str],
    draft: Draft,
    *,
    notice: Sequence[canvas.Component] = (),
) -> dict[str, Any]:
    """The template's text and a field for each variable (`names`) and its header, filled from
    `draft`."""
    route = draft.route
    components = [
        canvas.header(f"Template “{info.label or info.name}”"),
        *notice,
        canvas.muted(" · ".join(part for part in (info.language, info.category, route.label) if part)),
        canvas.textarea("send_template_body", "Template", value=info.body or "(no body text)", disabled=True),
    ]
    in_body = set(placeholders(info.body))
    values = [*draft.values, *[""] * len(names)]
    for index, name in enumerate(names):
        where = "" if name in in_body else " (outside the text: a link's or the media's)"
        components.append(
            canvas.text_input(f"{VARIABLE_PREFIX}{index}", f"{{{{{name}}}}}{where}", value=values[index])
        )
    if info.header is not None:
        kind = "" if info.header is HeaderKind.TEXT else " (an https:// URL)"
        components.append(
            canvas.text_input(HEADER_INPUT, HEADER_NAMES[info.header] + kind, value=draft.header)
        )
    components += [
        canvas.button(SEND_PREVIEW, "Preview"),
        canvas.button(SEND_TEMPLATES, "Other templates", style="secondary"),
        canvas.button(SEND_COMPOSE, "Write text instead", style="secondary"),
    ]
    stored = {
        "from": contact_id,
        "route": route.id,
        "template": {"name": info.name, "language": info.language},
    }
    return canvas.canvas(components, stored_data=stored)


def preview(
    rows: list[tuple[str, str]], shown: str, channel: Channel, stored: dict[str, Any]
) -> dict[str, Any]:
    """Exactly what the customer gets (in a read-only field: a text component reads Markdown)."""
    components = [
        canvas.header("Preview"),
        canvas.table(rows),
        canvas.textarea(SHOWN, "The customer gets exactly", value=shown or "(empty)", disabled=True),
        canvas.button(SEND_CONFIRM, f"Send {CHANNEL_NAMES[channel]}"),
        canvas.button(SEND_EDIT, "Edit", style="secondary"),
    ]
    return canvas.canvas(components, stored_data=stored)


def status(contact_id: str, conversation_id: str | None, view: Mapping[str, Any]) -> dict[str, Any]:
    """Where a message stands (`view`: as the message API shows it), and Refresh."""
    state = str(view.get("status") or "queued")
    title, meaning = _STATUS.get(state, (state.capitalize(), ""))
    channel = str(view.get("channel") or "")
    channel_name = CHANNEL_NAMES[Channel(channel)] if channel in set(Channel) else channel
    rows = [
        ("Status", state),
        ("To", str(view.get("to") or "")),
        ("Send from", f"{channel_name} · {view.get('provider')} · {view.get('from')}"),
        ("Message", str(view.get("id"))),
    ]
    conversation = view.get("conversation_id")
    if conversation:
        here = str(conversation) == (conversation_id or "")
        rows.append(("Conversation", "this one" if here else f"{conversation} (another conversation)"))
    components = [canvas.header(title), canvas.table(rows)]
    error = view.get("error")
    if isinstance(error, Mapping) and (error.get("reason") or error.get("code")):
        code = f" (code {error['code']})" if error.get("code") else ""
        components.append(canvas.error(f"{error.get('reason') or 'The provider refused it'}{code}."))
    if meaning:
        components.append(canvas.muted(meaning))
    components += [
        canvas.button(SEND_REFRESH, "Refresh status"),
        canvas.button(SEND_COMPOSE, "Write another", style="secondary"),
        canvas.button(SEND_CLOSE, "Back", style="secondary"),
    ]
    stored = {
        "from": contact_id,
        "route": f"{channel}|{view.get('provider')}|{view.get('from')}",
        "message": str(view.get("id")),
    }
    return canvas.canvas(components, stored_data=stored)
