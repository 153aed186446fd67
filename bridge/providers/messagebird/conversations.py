"""MessageBird's Conversations API (WhatsApp and SMS channels): JSON `{type, contact, conversation,
message}` events.

`message.created` with `direction: received` is a customer's message; `message.updated` with
`direction: sent` reports on one of ours. Everything else (conversation.created/updated, the echo
of our own outbound message, a customer's message being updated) carries nothing to deliver.
"""

from __future__ import annotations

from bridge.core.errors import MalformedPayload
from bridge.core.json_payloads import JsonNode
from bridge.core.settings import Settings
from bridge.model.messages import Channel, DeliveryState, DeliveryStatus, InboundMessage, Media
from bridge.model.senders import sender_problem
from bridge.providers.base import WebhookContent, WebhookRequest
from bridge.providers.messagebird.common import NAME, Content, ContentReader, read_content, sender

# Conversations API message statuses (MessageBird's Message object) -> the bridge's. The list is
# not confirmed by a primary source (research §4.3), so a status missing here is ignored rather
# than refused: a 400 would only make MessageBird redeliver it.
CONVERSATION_STATUS_MAP: dict[str, DeliveryState | None] = {
    "accepted": None,
    "pending": None,
    "received": None,
    "deleted": None,
    "sent": DeliveryState.SENT,
    "delivered": DeliveryState.DELIVERED,
    "read": DeliveryState.READ,
    "failed": DeliveryState.FAILED,
    "rejected": DeliveryState.FAILED,
}


def event(data: JsonNode, request: WebhookRequest, settings: Settings) -> WebhookContent:
    """What one Conversations API event carries: a customer's message, a report, or nothing."""
    kind = data.text("type")
    if not kind:
        raise MalformedPayload("type is missing (nor is it a Bird Channels event)")
    if kind not in ("message.created", "message.updated"):
        return WebhookContent()  # conversation.created/updated: nothing to deliver
    message = data.required_object("message")
    direction = message.text("direction")
    if kind == "message.created" and direction == "received":
        return WebhookContent(messages=(_message(data, message, request, settings),))
    if kind == "message.updated" and direction == "sent":
        status = _status(message, request)
        return WebhookContent(statuses=(status,) if status else ())
    return WebhookContent()  # the echo of our own outbound message, or a customer's being updated


def _message(
    data: JsonNode, message: JsonNode, request: WebhookRequest, settings: Settings
) -> InboundMessage:
    # `msisdn` is a JSON number in MessageBird's contact objects.
    msisdn = data.nested("contact", "msisdn")
    raw = message.text("from") or msisdn
    if not raw:
        raise MalformedPayload("message.from is missing (nor is contact.msisdn set)")
    customer = sender(raw, settings)
    text, media, problem = read_content(
        CONVERSATION_CONTENT, message.text("type") or "", message.object("content"), "MessageBird"
    )
    return InboundMessage(
        provider=NAME,
        channel=Channel.WHATSAPP if (message.text("platform") or "").lower() == "whatsapp" else Channel.SMS,
        provider_message_id=message.required("id").strip(),
        sender=customer,
        # Replies leave through the channel the message came in on.
        business_number=message.required("channelId").strip(),
        text=text,
        media=media,
        profile_name=_profile_name(data.nested("contact", "displayName"), raw, msisdn),
        received_at=message.time("createdDatetime", default=request.received_at),
        problem=problem or sender_problem(customer),
    )


def _status(message: JsonNode, request: WebhookRequest) -> DeliveryStatus | None:
    reported = (message.text("status") or "").lower()
    state = CONVERSATION_STATUS_MAP.get(reported)
    if state is None:
        return None
    return DeliveryStatus(
        provider=NAME,
        provider_message_id=message.required("id").strip(),
        state=state,
        occurred_at=message.time("updatedDatetime", default=request.received_at),
        recipient=message.text("to") or None,
        error_message=reported if state is DeliveryState.FAILED else None,
    )


def _profile_name(display_name: str | None, *numbers: str | None) -> str | None:
    """MessageBird fills `displayName` with the number when it knows no name: that is no name."""
    digits = {number.lstrip("+") for number in numbers if number}
    name = (display_name or "").strip()
    return name if name and name.lstrip("+") not in digits else None


def _text(content: JsonNode) -> Content:
    return content.text("text") or "", ()


def _media(kind: str) -> ContentReader:
    """`content.{image,video,audio,file}` is `{url, caption}` (MessageBird SDKs' Media type)."""

    def read(content: JsonNode) -> Content:
        media = content.object(kind)
        url = (media.text("url") or "").strip() if media else ""
        if media is None or not url:
            raise MalformedPayload(f"content.{kind}.url is missing")
        return media.text("caption") or "", (Media(url=url),)

    return read


def _location(content: JsonNode) -> Content:
    location = content.object("location")
    # JSON numbers only (not `text`, which would also read a string): coordinates are numbers.
    place = location.data if location else {}
    latitude, longitude = place.get("latitude"), place.get("longitude")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (latitude, longitude)):
        raise MalformedPayload("content.location needs a numeric latitude and longitude")
    return f"Location: {latitude}, {longitude} https://maps.google.com/?q={latitude},{longitude}", ()


# Content type -> how to read it; a type missing here is stored with a problem, never dropped.
CONVERSATION_CONTENT: dict[str, ContentReader] = {
    "text": _text,
    "image": _media("image"),
    "video": _media("video"),
    "audio": _media("audio"),
    "file": _media("file"),
    "location": _location,
}
