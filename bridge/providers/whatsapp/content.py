"""What a `messages[]` item of each type says: its text, its media, and why it cannot be
delivered. One reader per `type` (Meta's messages webhook reference, one page per type); a reader
that cannot read its message raises, and `read_content` turns that into the message's problem."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bridge.core.errors import MalformedPayload
from bridge.core.json_payloads import JsonNode
from bridge.model.messages import Media

MEDIA_TYPES = ("image", "video", "audio", "sticker", "document")


@dataclass(frozen=True)
class Content:
    """What a message of one type says: readable text, media, and why it cannot be delivered."""

    text: str = ""
    media: tuple[Media, ...] = ()
    problem: str | None = None
    new_id: str | None = None  # the sender's new WhatsApp id (system messages)


def read_content(message: JsonNode) -> Content:
    """The message's content by its `type`; a problem, never an exception, when unreadable."""
    kind = message.text("type")
    if not kind:
        return Content(problem="the message has no type")
    reader = CONTENT_READERS.get(kind)
    if reader is None:
        return Content(problem=f"WhatsApp messages of type {kind!r} are not supported")
    try:
        return reader(message, kind)
    except MalformedPayload as exc:
        return Content(problem=f"the {kind} message cannot be read: {exc.reason}")


def _text(message: JsonNode, kind: str) -> Content:
    body = message.object("text")
    return Content(text=(body.text("body") if body else None) or "")


def _media(message: JsonNode, kind: str) -> Content:
    item = message.required_object(kind)
    media_id, url = item.text("id"), item.text("url")
    if not media_id and not url:
        raise MalformedPayload(f"{item.at('id')} is missing")
    media = Media(
        url=url,
        provider_id=media_id,
        content_type=item.text("mime_type"),
        filename=item.text("filename") if kind == "document" else None,
    )
    return Content(text=item.text("caption") or "", media=(media,))


def _location(message: JsonNode, kind: str) -> Content:
    place = message.required_object("location")
    latitude, longitude = place.required("latitude"), place.required("longitude")
    label = ", ".join(part for part in (place.text("name"), place.text("address")) if part)
    where = f"{label} " if label else ""
    return Content(
        text=f"📍 Location: {where}({latitude}, {longitude}) https://maps.google.com/?q={latitude},{longitude}"
    )


def _contacts(message: JsonNode, kind: str) -> Content:
    lines = []
    for card in message.objects("contacts"):
        name = card.nested("name", "formatted_name") or card.nested("name", "first_name") or "(no name)"
        details = [f"📞 {p.text('phone')}" for p in card.objects("phones") if p.text("phone")]
        details += [f"✉️ {e.text('email')}" for e in card.objects("emails") if e.text("email")]
        lines.append(f"👤 Contact: {name}" + "".join(f", {detail}" for detail in details))
    if not lines:
        raise MalformedPayload(f"{message.at('contacts')} is empty")
    return Content(text="\n".join(lines))


def _button(message: JsonNode, kind: str) -> Content:
    return Content(text=message.nested("button", "text") or message.nested("button", "payload") or "")


# `interactive.type` -> how to read the reply; a Flow (`nfm_reply`) answers with its JSON.
INTERACTIVE_READERS: dict[str, Callable[[JsonNode], str]] = {
    "button_reply": lambda reply: reply.required("title"),
    "list_reply": lambda reply: "\n".join(
        part for part in (reply.required("title"), reply.text("description")) if part
    ),
    "nfm_reply": lambda reply: reply.text("body") or reply.text("response_json") or "",
}


def _interactive(message: JsonNode, kind: str) -> Content:
    interactive = message.object("interactive")
    reply_type = interactive.required("type") if interactive else ""
    read = INTERACTIVE_READERS.get(reply_type)
    reply = interactive.object(reply_type) if interactive and read else None
    if read is None or reply is None:
        raise MalformedPayload(f"{message.at('interactive')} holds no reply the bridge reads")
    return Content(text=read(reply))


def _reaction(message: JsonNode, kind: str) -> Content:
    # An empty emoji is how Meta reports that the customer took their reaction back.
    emoji = message.nested("reaction", "emoji")
    return Content(text=f"Reacted {emoji} to a message" if emoji else "Removed a reaction")


def _order(message: JsonNode, kind: str) -> Content:
    order = message.required_object("order")
    lines = [f"🛒 Order from catalog {order.text('catalog_id') or '(unknown)'}:"]
    lines += [_order_line(item) for item in order.objects("product_items")]
    note = order.text("text")
    if note:
        lines.append(note)
    return Content(text="\n".join(lines))


def _order_line(item: JsonNode) -> str:
    line = f"{item.text('quantity') or '1'} × {item.text('product_retailer_id') or '(unknown product)'}"
    price = item.text("item_price")
    return f"{line} at {price} {item.text('currency') or ''}".rstrip() if price else line


# `system.type` -> the fields naming the sender's new id. `wa_id` since Graph v12, `new_wa_id`
# before (Meta's system messages reference; whatsapp-api-js types). Meta documents the id as
# "number | string": `JsonNode.text` reads a number as its digits.
SYSTEM_NEW_ID_FIELDS: dict[str, tuple[str, ...]] = {"user_changed_number": ("wa_id", "new_wa_id")}


def _system(message: JsonNode, kind: str) -> Content:
    system = message.required_object("system")
    body = system.text("body") or ""
    system_type = system.text("type") or ""
    fields = SYSTEM_NEW_ID_FIELDS.get(system_type)
    if fields is None:
        return Content(text=body, problem=f"WhatsApp system notices of type {system_type!r} are not handled")
    new_id = next((value for value in map(system.text, fields) if value), None)
    if not new_id:
        raise MalformedPayload(f"{system.at(fields[0])} is missing")
    return Content(text=body, new_id=new_id)


def _unsupported(message: JsonNode, kind: str) -> Content:
    inner = message.nested("unsupported", "type")
    detail = f" ({inner})" if inner else ""
    return Content(problem=f"the customer sent a message the WhatsApp Cloud API does not support{detail}")


# `messages[].type` -> its reader (Meta's messages webhook reference, one page per type).
CONTENT_READERS: dict[str, Callable[[JsonNode, str], Content]] = {
    "text": _text,
    **dict.fromkeys(MEDIA_TYPES, _media),
    "location": _location,
    "contacts": _contacts,
    "button": _button,
    "interactive": _interactive,
    "reaction": _reaction,
    "order": _order,
    "system": _system,
    "unsupported": _unsupported,
}
