"""Vonage's Messages API (SMS, MMS, WhatsApp): the Bearer JWT, inbound messages and their statuses.

Wire format (research/providers.md §3): a JSON POST with `message_uuid` and `channel`, signed with
`Authorization: Bearer`, an HS256 JWT keyed by the signature secret whose `payload_hash` claim
binds the body. Statuses come to `/webhooks/vonage/status` as the same kind of JSON.

Missing or mistyped required fields (ids, numbers, a media URL) refuse the request with the field's
path; an optional detail of the wrong type (a caption, a profile name) is dropped instead, never a
reason to refuse the customer's message.
"""

from __future__ import annotations

import math
import mimetypes
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from bridge.core import freshness, signing
from bridge.core.errors import MalformedPayload, RetryLater, SignatureInvalid
from bridge.core.json_payloads import JsonNode
from bridge.core.settings import Settings
from bridge.model.messages import Channel, DeliveryState, DeliveryStatus, InboundMessage, Media
from bridge.model.senders import IdentityKind, SenderIdentity, classify_sender, sender_problem
from bridge.providers.base import WebhookRequest
from bridge.providers.payloads import state_of

# Messages API `status` (Java SDK `MessageStatus.Status`) -> the bridge's (each one is reported).
MESSAGES_STATES: dict[str, DeliveryState | None] = {
    "submitted": DeliveryState.SENT,
    "delivered": DeliveryState.DELIVERED,
    "read": DeliveryState.READ,
    "rejected": DeliveryState.FAILED,
    "undeliverable": DeliveryState.FAILED,
}

# Messages API channels the bridge delivers; others (viber_service, messenger, rcs) are kept with a problem.
CHANNELS: dict[str, Channel] = {"sms": Channel.SMS, "mms": Channel.SMS, "whatsapp": Channel.WHATSAPP}

# WhatsApp stickers are always WebP; a vCard URL rarely has an extension to guess from.
DEFAULT_CONTENT_TYPES: dict[str, str] = {"sticker": "image/webp", "vcard": "text/vcard"}


def request_body(request: WebhookRequest) -> JsonNode | None:
    """The JSON object of a Messages API request, or None for the SMS API (whose POST-JSON is flat)."""
    content_type = request.content_type
    is_json = content_type == "application/json" or (not content_type and request.body.lstrip()[:1] == b"{")
    if request.method != "POST" or not request.body or not is_json:
        return None
    node = JsonNode.parse(request.body)
    return node if "message_uuid" in node.data and "channel" in node.data else None


def verify_bearer(request: WebhookRequest, *, secret: str, now: float, settings: Settings) -> dict[str, Any]:
    """The Messages API's signature: `Authorization: Bearer`, an HS256 JWT of the signature secret
    whose `payload_hash` must be the body's SHA-256 (Vonage "Signed webhooks"; the SDKs check only
    the HS256 signature). Its claims (iat, jti, iss, api_key, application_id) on success.

    Vonage's token carries no `exp`; its `iat` is the one signed time, so it is required and must
    be within `bridge.core.freshness`' window: a request captured once would otherwise be good forever,
    and new again once the ledger forgot its message."""
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    if not scheme:
        # Vonage ("Signed webhooks"): after a rare internal error it may send a callback unsigned,
        # and retries (signed) when answered with a 5xx. A 403 would lose the message.
        raise RetryLater("the Messages API callback is unsigned; asking Vonage to send it again")
    if scheme.lower() != "bearer":
        raise SignatureInvalid("Authorization is not a Bearer token")
    claims = signing.verify_jwt(
        token.strip() or None,
        header="Authorization",
        secret=secret,
        body=request.body,
        algorithms=("HS256",),
        required_claims=("iat",),
        payload_hash_required=True,
        url=None,
        now=now,
    )
    issued = freshness.signed_time(claims["iat"], what="the Authorization token's iat")
    freshness.check_signed_time(issued, now=now, settings=settings, what="the Authorization token's iat")
    return claims


# --- inbound messages ---


class _Content(NamedTuple):
    text: str = ""
    media: tuple[Media, ...] = ()
    problem: str | None = None


def inbound(data: JsonNode, request: WebhookRequest, settings: Settings, *, provider: str) -> InboundMessage:
    """The customer's message in a Messages API inbound request."""
    channel_name = _string(data, "channel")
    sender_raw = _string(data, "from")
    # `from` is digits without "+", or a WhatsApp BSUID (`US.1349…`) for users who hide their number.
    sender = classify_sender(sender_raw, country_code_included=True, default_region=settings.default_region)
    channel = CHANNELS.get(channel_name.lower())
    if channel is None:
        # The model has no such channel: kept as SMS, with a problem that stops its delivery.
        content = _Content(
            text=_optional(data, "text") or "", problem=f"channel {channel_name} is not supported"
        )
    else:
        content = _content(data)
    return InboundMessage(
        provider=provider,
        channel=channel or Channel.SMS,
        provider_message_id=_string(data, "message_uuid"),
        sender=sender,
        business_number=_string(data, "to"),
        text=content.text.replace("\x00", ""),
        media=content.media,
        profile_name=_optional(_details(data, "profile"), "name"),
        received_at=data.time("timestamp", default=request.received_at),
        aliases=_aliases(data, sender_raw, settings) if channel is Channel.WHATSAPP else (),
        problem=content.problem or sender_problem(sender),
    )


def _content(data: JsonNode) -> _Content:
    # `content` lists every attachment of an MMS that has several (Java SDK InboundMessage).
    if isinstance(data.data.get("content"), list):
        return _attachments(data)
    message_type = _string(data, "message_type").lower()
    handler = CONTENT_HANDLERS.get(message_type)
    if handler is None:
        return _Content(
            text=_optional(data, "text") or "", problem=f"message_type {message_type} is not supported"
        )
    return handler(data)


def _text(data: JsonNode) -> _Content:
    text = data.data.get("text")
    if not isinstance(text, str):
        raise MalformedPayload(f"{data.at('text')} is missing")
    return _Content(text=text)


def _media_of(kind: str) -> Callable[[JsonNode], _Content]:
    def handler(data: JsonNode) -> _Content:
        attachment = data.required_object(kind)
        url = _string(attachment, "url")
        filename = _optional(attachment, "name")
        media = Media(url=url, content_type=_content_type(kind, url, filename), filename=filename)
        return _Content(text=_optional(attachment, "caption") or "", media=(media,))

    return handler


def _attachments(data: JsonNode) -> _Content:
    media: list[Media] = []
    texts = [_optional(data, "text")]
    for index, value in enumerate(data.data["content"]):
        if not isinstance(value, dict):
            raise MalformedPayload(f"{data.at('content')}[{index}] is not an object")
        item = JsonNode(value, f"{data.at('content')}[{index}]")
        kind = _optional(item, "type") or "file"
        url = _string(item, "url")
        media.append(Media(url=url, content_type=_content_type(kind, url, None)))
        texts.append(_optional(item, "caption"))
    return _Content(text="\n".join(text for text in texts if text), media=tuple(media))


def _location(data: JsonNode) -> _Content:
    place = data.required_object("location")
    latitude, longitude = _coordinate(place, "lat", "latitude"), _coordinate(place, "long", "longitude")
    lines = [_optional(place, "name"), _optional(place, "address")]
    lines.append(f"Location: {latitude}, {longitude} https://maps.google.com/?q={latitude},{longitude}")
    return _Content(text="\n".join(line for line in lines if line))


def _reply(data: JsonNode) -> _Content:
    # The customer picked an option of an interactive list or reply buttons.
    reply = data.required_object("reply")
    title = _optional(reply, "title") or _optional(reply, "id")
    if title is None:
        raise MalformedPayload(f"{reply.at('title')} is missing")
    return _Content(text="\n".join(line for line in (title, _optional(reply, "description")) if line))


def _button(data: JsonNode) -> _Content:
    # The customer tapped a quick-reply button of a template.
    return _Content(text=_string(data.required_object("button"), "text"))


def _unsupported(data: JsonNode) -> _Content:
    return _Content(problem="Vonage could not read the customer's message (message_type unsupported)")


# Messages API `message_type` -> what the customer said, as text and media.
CONTENT_HANDLERS: dict[str, Callable[[JsonNode], _Content]] = {
    "text": _text,
    **{kind: _media_of(kind) for kind in ("image", "audio", "video", "file", "vcard", "sticker")},
    "location": _location,
    "reply": _reply,
    "button": _button,
    "unsupported": _unsupported,
}


def _aliases(data: JsonNode, sender_raw: str, settings: Settings) -> tuple[SenderIdentity, ...]:
    """The sender's other WhatsApp ids (`whatsapp.sender`: phone `wa_id`, BSUID `user_id`, parent
    BSUID), so they all lead to one contact (Java SDK `WhatsappUser`)."""
    user = _details(_details(data, "whatsapp"), "sender")
    aliases: list[SenderIdentity] = []
    for field in ("wa_id", "user_id", "parent_user_id"):
        raw = _optional(user, field)
        if raw and raw != sender_raw and raw not in {alias.raw for alias in aliases}:
            alias = classify_sender(raw, country_code_included=True, default_region=settings.default_region)
            if alias.kind is not IdentityKind.UNKNOWN:
                aliases.append(alias)
    return tuple(aliases)


def _content_type(kind: str, url: str, filename: str | None) -> str | None:
    """Guessed from the file name or URL; Vonage's own media URLs (`/v3/media/<id>`) tell nothing."""
    try:
        path = filename or urlsplit(url).path
    except ValueError:
        path = ""
    guessed = mimetypes.guess_type(path)[0] if path else None
    return guessed or DEFAULT_CONTENT_TYPES.get(kind)


def _coordinate(place: JsonNode, *names: str) -> str:
    for name in names:
        value = place.data.get(name)
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float) or (isinstance(value, str) and value.strip()):
            try:
                number = float(value)
            except (ValueError, OverflowError):
                continue
            if math.isfinite(number):
                return str(value).strip()
    raise MalformedPayload(f"{place.at(names[0])} is missing")


# --- statuses ---


def statuses(data: JsonNode, request: WebhookRequest, *, provider: str) -> list[DeliveryStatus]:
    """The status in a Messages API status request."""
    reported = _string(data, "status").lower()
    state = state_of(reported, MESSAGES_STATES, provider="Vonage")
    if state is None:
        return []
    error = _details(data, "error")
    # `title` is the error code (1000, 1340…); `type` links to it (…/messages-olympus#1340).
    code = error.data.get("title")
    error_code = str(code) if isinstance(code, str | int) and not isinstance(code, bool) else None
    link = error.data.get("type")
    if error_code is None and isinstance(link, str) and "#" in link:
        error_code = link.rsplit("#", 1)[1] or None
    failed = state is DeliveryState.FAILED
    return [
        DeliveryStatus(
            provider=provider,
            provider_message_id=_string(data, "message_uuid"),
            state=state,
            occurred_at=data.time("timestamp", default=request.received_at),
            recipient=_optional(data, "to"),
            error_code=error_code,
            error_message=_optional(error, "detail") or (reported if failed else None),
        )
    ]


# --- the Messages API's reading rules, on top of `JsonNode` ---


def _string(node: JsonNode, key: str) -> str:
    """A required string, stripped. Unlike `JsonNode.required`, a number is refused: Vonage's ids,
    numbers and URLs are strings, and a number in their place is a malformed payload."""
    if not isinstance(node.data.get(key), str | None):
        raise MalformedPayload(f"{node.at(key)} must be a string")
    return node.required(key).strip()


def _optional(node: JsonNode, key: str) -> str | None:
    """An optional string, stripped; None when absent, blank or of another type (dropped, not refused)."""
    value = node.data.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _details(node: JsonNode, key: str) -> JsonNode:
    """An optional object (`profile`, `whatsapp`, `error`); empty when absent or of another type."""
    value = node.data.get(key)
    return JsonNode(value if isinstance(value, dict) else {}, node.at(key))
