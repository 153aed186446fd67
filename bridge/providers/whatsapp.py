"""Meta WhatsApp Cloud API: the `messages` webhook of a WhatsApp Business Account.

Wire format (research/providers.md §2): Meta checks the callback URL once with a GET
(`hub.mode=subscribe`, `hub.verify_token`, `hub.challenge`) and expects the challenge back, then
POSTs JSON signed with `X-Hub-Signature-256`, an HMAC-SHA256 of the raw body keyed by the app
secret. One POST may batch entries (one per WABA) × changes × `messages[]` and `statuses[]`:
inbound messages and delivery reports share the one URL. Media arrive as ids resolved with the
access token.

Structural damage (a missing message id, an `entry` that is not a list) refuses the whole request
with the field's path. A message whose *content* cannot be read is still returned, with `problem`
set: Meta retries a refused request for days, and the other messages of its batch with it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from bridge.errors import MalformedPayload, SignatureInvalid
from bridge.identity import IdentityKind, SenderIdentity, classify_sender
from bridge.messages import Channel, DeliveryState, DeliveryStatus, InboundMessage, Media
from bridge.providers import payloads, signing
from bridge.providers.base import (
    Acknowledgement,
    FetchedMedia,
    ProviderAdapter,
    WebhookContent,
    WebhookRequest,
    download,
)
from bridge.settings import Settings

SIGNATURE_HEADER = "X-Hub-Signature-256"
OBJECT = "whatsapp_business_account"
MESSAGES_FIELD = "messages"
MEDIA_TYPES = ("image", "video", "audio", "sticker", "document")
# Hosts Meta serves media from (`lookaside.fbsbx.com` in webhook `url`s): the access token goes
# to them and to WHATSAPP_API_URL's host only, never to a URL a payload names elsewhere.
MEDIA_HOST_SUFFIXES = ("fbsbx.com", "facebook.com", "fbcdn.net", "whatsapp.net")

# Meta's `statuses[].status` -> the bridge's; None: nothing to report (research/providers.md §2.6).
# `played` is a voice message heard, so it was read; `deleted` (the user deleted our message)
# has no delivery meaning, as in courier. Statuses missing here are skipped, not refused: a new
# status word must not make Meta redeliver the customer messages batched with it.
STATUS_MAP: dict[str, DeliveryState | None] = {
    "sent": DeliveryState.SENT,
    "delivered": DeliveryState.DELIVERED,
    "read": DeliveryState.READ,
    "played": DeliveryState.READ,
    "failed": DeliveryState.FAILED,
    "deleted": None,
}


class WhatsAppAdapter(ProviderAdapter):
    name = "whatsapp"
    methods = frozenset({"GET", "POST"})
    status_methods = frozenset({"POST"})

    def disabled_reason(self, settings: Settings) -> str | None:
        # An empty secret counts as unset: an HMAC keyed by "" is one anybody can compute.
        secret = settings.whatsapp_app_secret
        if secret is None or not secret.get_secret_value():
            return "WhatsApp is not configured: set WHATSAPP_APP_SECRET to verify its webhooks"
        return None

    def handshake(self, request: WebhookRequest, settings: Settings) -> Acknowledgement | None:
        """Meta's subscription check. Every GET is one: a GET that fails it is refused (403)."""
        if request.method != "GET":
            return None
        query = payloads.parse_form(request.query)
        if query.get("hub.mode") != "subscribe":
            raise SignatureInvalid("hub.mode must be subscribe (Meta's verification request)")
        token = settings.whatsapp_verify_token
        if token is None or not token.get_secret_value():
            raise SignatureInvalid("WHATSAPP_VERIFY_TOKEN is not set: the subscription cannot be verified")
        given = query.get("hub.verify_token")
        if not given or not signing.equal(given, token.get_secret_value()):
            raise SignatureInvalid("hub.verify_token does not match WHATSAPP_VERIFY_TOKEN")
        challenge = query.get("hub.challenge")
        if not challenge:
            raise SignatureInvalid("hub.challenge is missing")
        return Acknowledgement(media_type="text/plain", body=challenge.encode())

    def verify(self, request: WebhookRequest, settings: Settings) -> None:
        signing.verify_hmac_header(
            request.headers.get(SIGNATURE_HEADER.lower()),
            header=SIGNATURE_HEADER,
            secret=settings.secret("whatsapp_app_secret"),
            body=request.body,
            digest=hashlib.sha256,
            prefix="sha256=",
        )

    def parse(self, request: WebhookRequest, settings: Settings) -> WebhookContent:
        root = _Json(payloads.parse_json_object(request.body), "")
        if root.data.get("object") != OBJECT:
            raise MalformedPayload(f'object must be "{OBJECT}"')
        messages: list[InboundMessage] = []
        statuses: list[DeliveryStatus] = []
        for entry in root.objects("entry", required=True):
            for change in entry.objects("changes"):
                if change.required("field") != MESSAGES_FIELD:
                    continue  # account_update, message_template_status_update…: not messages
                value = change.object("value")
                if value is None:
                    raise MalformedPayload(f"{change.at('value')} is missing")
                messages += _messages(value, account=entry.text("id"), request=request, settings=settings)
                for status in value.objects("statuses"):
                    report = _status(status, request)
                    if report is not None:
                        statuses.append(report)
        return WebhookContent(messages=tuple(messages), statuses=tuple(statuses))

    def parse_statuses(self, request: WebhookRequest, settings: Settings) -> list[DeliveryStatus]:
        """Meta posts statuses to the main URL; this route takes the same JSON if pointed at it.
        Messages sent here are refused rather than dropped: only the main URL stores them."""
        content = self.parse(request, settings)
        if content.messages:
            raise MalformedPayload("messages belong to /webhooks/whatsapp, not its status route")
        return list(content.statuses)

    def fetch_media(self, media: Media, settings: Settings, http: httpx.Client) -> FetchedMedia:
        """Meta gives a media id: `GET {WHATSAPP_API_URL}/{id}` answers a short-lived URL, which
        needs the same Bearer token (courier's `resolveMediaURL`). The id is preferred over a
        webhook `url`, which may have expired by the time a retried job fetches it."""
        headers = {"Authorization": f"Bearer {settings.secret('whatsapp_access_token')}"}
        if media.provider_id:
            api_url = f"{settings.whatsapp_api_url.rstrip('/')}/{quote(media.provider_id, safe='')}"
            response = http.get(api_url, headers=headers)
            response.raise_for_status()
            try:
                info = _Json(payloads.parse_json_object(response.content), f"media {media.provider_id}")
            except MalformedPayload as exc:
                raise MalformedPayload(f"Meta's answer for media {media.provider_id}: {exc.reason}") from exc
            content_type = media.content_type or info.text("mime_type")
            located = media.model_copy(update={"content_type": content_type})
            return download(http, info.required("url"), media=located, headers=headers)
        if not media.url:
            raise MalformedPayload(f"whatsapp media {media.reference} has neither an id nor a URL")
        trusted = _meta_host(media.url, settings)
        return download(http, media.url, media=media, headers=headers if trusted else None)


@dataclass(frozen=True)
class _Json:
    """A JSON object and where it sits in the payload, so every complaint names the field
    (`entry[0].changes[1].value.messages[2].id is missing`)."""

    data: dict[str, Any]
    path: str

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def text(self, key: str) -> str | None:
        """A string field, or None when absent. Numbers are read as text: Meta documents some
        ids as "number | string" (`system.new_wa_id`) and error codes are numbers."""
        value = self.data.get(key)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise MalformedPayload(f"{self.at(key)} must be a string")

    def required(self, key: str) -> str:
        value = self.text(key)
        if value is None or not value.strip():
            raise MalformedPayload(f"{self.at(key)} is missing")
        return value

    def object(self, key: str) -> _Json | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise MalformedPayload(f"{self.at(key)} must be an object")
        return _Json(value, self.at(key))

    def objects(self, key: str, *, required: bool = False) -> list[_Json]:
        value = self.data.get(key)
        if value is None and not required:
            return []
        if not isinstance(value, list):
            raise MalformedPayload(
                f"{self.at(key)} {'must be a list' if value is not None else 'is missing'}"
            )
        items = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise MalformedPayload(f"{self.at(key)}[{index}] must be an object")
            items.append(_Json(item, f"{self.at(key)}[{index}]"))
        return items

    def time(self, key: str, *, default: datetime) -> datetime:
        """Unix seconds as a string (Meta's `timestamp`); the receive time when unreadable, of
        whatever type: a bad clock is no reason to refuse a batch of messages."""
        value = self.data.get(key)
        readable = isinstance(value, str | int | float) and not isinstance(value, bool)
        return payloads.timestamp(value if readable else None, default=default)

    def nested(self, *keys: str) -> str | None:
        """`nested("profile", "name")`: a string under optional objects."""
        node: _Json | None = self
        for key in keys[:-1]:
            node = node.object(key) if node else None
        return node.text(keys[-1]) if node else None


# --- messages ---


@dataclass(frozen=True)
class _Content:
    """What a message of one type says: readable text, media, and why it cannot be delivered."""

    text: str = ""
    media: tuple[Media, ...] = ()
    problem: str | None = None
    new_id: str | None = None  # the sender's new WhatsApp id (system messages)


def _messages(
    value: _Json, *, account: str | None, request: WebhookRequest, settings: Settings
) -> list[InboundMessage]:
    items = value.objects("messages")
    if not items:
        return []
    metadata = value.object("metadata")
    if metadata is None:
        raise MalformedPayload(f"{value.at('metadata')} is missing")
    # Replies go out through /{phone-number-id}/messages: the id is the business number.
    business_number = metadata.required("phone_number_id")
    contacts = value.objects("contacts")
    return [
        _message(item, contacts, business_number, account, request, settings.default_region) for item in items
    ]


def _message(
    message: _Json,
    contacts: list[_Json],
    business_number: str,
    account: str | None,
    request: WebhookRequest,
    region: str,
) -> InboundMessage:
    provider_message_id = message.required("id")
    phone, user_id = message.text("from"), message.text("from_user_id")
    contact = _contact(contacts, phone, user_id)
    if contact is not None:
        phone = phone or contact.text("wa_id")
        user_id = user_id or contact.text("user_id")
    sender, aliases = _sender(message, phone, user_id, region)
    content = _content(message)
    new_identity = None
    problems = [content.problem, _errors_problem(message)]
    if content.new_id:
        new_identity = classify_sender(content.new_id, country_code_included=True, default_region=region)
        if new_identity.kind is IdentityKind.UNKNOWN:
            problems.append("the sender's new WhatsApp id is neither a phone number nor a user id")
    if message.text("group_id"):
        problems.insert(0, "group messages are not supported")
    if sender.kind is IdentityKind.UNKNOWN:
        problems.append("the sender is neither a phone number nor a WhatsApp user id")
    reasons = [problem for problem in problems if problem]
    return InboundMessage(
        provider="whatsapp",
        channel=Channel.WHATSAPP,
        provider_message_id=provider_message_id,
        sender=sender,
        business_number=business_number,
        text=content.text.replace("\x00", ""),
        media=content.media,
        profile_name=_profile_name(contact),
        received_at=message.time("timestamp", default=request.received_at),
        account=account,
        aliases=aliases,
        new_identity=new_identity,
        problem="; ".join(reasons) or None,
    )


def _contact(contacts: list[_Json], phone: str | None, user_id: str | None) -> _Json | None:
    """The sender's `contacts[]` entry, by wa_id or BSUID. Meta says a wa_id and the `from`
    number may differ, so a change's only contact is taken as the sender's when nothing matches."""
    for contact in contacts:
        if (phone and contact.text("wa_id") == phone) or (user_id and contact.text("user_id") == user_id):
            return contact
    return contacts[0] if len(contacts) == 1 else None


def _profile_name(contact: _Json | None) -> str | None:
    if contact is None:
        return None
    return contact.nested("profile", "name") or contact.nested("profile", "username")


def _sender(
    message: _Json, phone: str | None, user_id: str | None, region: str
) -> tuple[SenderIdentity, tuple[SenderIdentity, ...]]:
    """The phone number when known, its BSUID as an alias; the BSUID alone for users who hide
    their number behind a username (no `from`, only `from_user_id`; research/providers.md §2.2)."""
    if phone:
        sender = classify_sender(phone, country_code_included=True, default_region=region)
        alias = (
            classify_sender(user_id, country_code_included=True, default_region=region) if user_id else None
        )
        aliases = (alias,) if alias and alias.kind is IdentityKind.WHATSAPP_USER else ()
        return sender, aliases
    if user_id:
        return classify_sender(user_id, country_code_included=True, default_region=region), ()
    raise MalformedPayload(f"{message.at('from')} and {message.at('from_user_id')} are both missing")


def _content(message: _Json) -> _Content:
    kind = message.text("type")
    if not kind:
        return _Content(problem="the message has no type")
    reader = CONTENT_READERS.get(kind)
    if reader is None:
        return _Content(problem=f"WhatsApp messages of type {kind!r} are not supported")
    try:
        return reader(message, kind)
    except MalformedPayload as exc:
        return _Content(problem=f"the {kind} message cannot be read: {exc.reason}")


def _errors_problem(message: _Json) -> str | None:
    """Meta's `errors[]` on an inbound message (e.g. 131051 for an unsupported type)."""
    try:
        reasons = [_error(error) for error in message.objects("errors")]
    except MalformedPayload as exc:
        return f"WhatsApp reported errors that cannot be read: {exc.reason}"
    return (
        "; ".join(f"WhatsApp error {code or '?'}: {text or 'no details'}" for code, text in reasons) or None
    )


def _error(error: _Json) -> tuple[str | None, str | None]:
    """Meta's error code, and its title with the details (`message` repeats the title)."""
    parts = [error.text("title") or error.text("message"), error.nested("error_data", "details")]
    unique = [part for index, part in enumerate(parts) if part and part not in parts[:index]]
    return error.text("code"), ": ".join(unique) or None


def _text(message: _Json, kind: str) -> _Content:
    body = message.object("text")
    return _Content(text=(body.text("body") if body else None) or "")


def _media(message: _Json, kind: str) -> _Content:
    item = message.object(kind)
    if item is None:
        raise MalformedPayload(f"{message.at(kind)} is missing")
    media_id, url = item.text("id"), item.text("url")
    if not media_id and not url:
        raise MalformedPayload(f"{item.at('id')} is missing")
    media = Media(
        url=url,
        provider_id=media_id,
        content_type=item.text("mime_type"),
        filename=item.text("filename") if kind == "document" else None,
    )
    return _Content(text=item.text("caption") or "", media=(media,))


def _location(message: _Json, kind: str) -> _Content:
    place = message.object("location")
    if place is None:
        raise MalformedPayload(f"{message.at('location')} is missing")
    latitude, longitude = place.required("latitude"), place.required("longitude")
    label = ", ".join(part for part in (place.text("name"), place.text("address")) if part)
    where = f"{label} " if label else ""
    return _Content(
        text=f"📍 Location: {where}({latitude}, {longitude}) https://maps.google.com/?q={latitude},{longitude}"
    )


def _contacts(message: _Json, kind: str) -> _Content:
    lines = []
    for card in message.objects("contacts"):
        name = card.nested("name", "formatted_name") or card.nested("name", "first_name") or "(no name)"
        details = [f"📞 {p.text('phone')}" for p in card.objects("phones") if p.text("phone")]
        details += [f"✉️ {e.text('email')}" for e in card.objects("emails") if e.text("email")]
        lines.append(f"👤 Contact: {name}" + "".join(f", {detail}" for detail in details))
    if not lines:
        raise MalformedPayload(f"{message.at('contacts')} is empty")
    return _Content(text="\n".join(lines))


def _button(message: _Json, kind: str) -> _Content:
    return _Content(text=message.nested("button", "text") or message.nested("button", "payload") or "")


# `interactive.type` -> how to read the reply; a Flow (`nfm_reply`) answers with its JSON.
INTERACTIVE_READERS: dict[str, Callable[[_Json], str]] = {
    "button_reply": lambda reply: reply.required("title"),
    "list_reply": lambda reply: "\n".join(
        part for part in (reply.required("title"), reply.text("description")) if part
    ),
    "nfm_reply": lambda reply: reply.text("body") or reply.text("response_json") or "",
}


def _interactive(message: _Json, kind: str) -> _Content:
    interactive = message.object("interactive")
    reply_type = interactive.required("type") if interactive else ""
    read = INTERACTIVE_READERS.get(reply_type)
    reply = interactive.object(reply_type) if interactive and read else None
    if read is None or reply is None:
        raise MalformedPayload(f"{message.at('interactive')} holds no reply the bridge reads")
    return _Content(text=read(reply))


def _reaction(message: _Json, kind: str) -> _Content:
    # An empty emoji is how Meta reports that the customer took their reaction back.
    emoji = message.nested("reaction", "emoji")
    return _Content(text=f"Reacted {emoji} to a message" if emoji else "Removed a reaction")


def _order(message: _Json, kind: str) -> _Content:
    order = message.object("order")
    if order is None:
        raise MalformedPayload(f"{message.at('order')} is missing")
    lines = [f"🛒 Order from catalog {order.text('catalog_id') or '(unknown)'}:"]
    lines += [_order_line(item) for item in order.objects("product_items")]
    note = order.text("text")
    if note:
        lines.append(note)
    return _Content(text="\n".join(lines))


def _order_line(item: _Json) -> str:
    line = f"{item.text('quantity') or '1'} × {item.text('product_retailer_id') or '(unknown product)'}"
    price = item.text("item_price")
    return f"{line} at {price} {item.text('currency') or ''}".rstrip() if price else line


# `system.type` -> the fields naming the sender's new id. `wa_id` since Graph v12, `new_wa_id`
# before (Meta's system messages reference; whatsapp-api-js types).
SYSTEM_NEW_ID_FIELDS: dict[str, tuple[str, ...]] = {"user_changed_number": ("wa_id", "new_wa_id")}


def _system(message: _Json, kind: str) -> _Content:
    system = message.object("system")
    if system is None:
        raise MalformedPayload(f"{message.at('system')} is missing")
    body = system.text("body") or ""
    system_type = system.text("type") or ""
    fields = SYSTEM_NEW_ID_FIELDS.get(system_type)
    if fields is None:
        return _Content(text=body, problem=f"WhatsApp system notices of type {system_type!r} are not handled")
    new_id = next((value for value in map(system.text, fields) if value), None)
    if not new_id:
        raise MalformedPayload(f"{system.at(fields[0])} is missing")
    return _Content(text=body, new_id=new_id)


def _unsupported(message: _Json, kind: str) -> _Content:
    inner = message.nested("unsupported", "type")
    detail = f" ({inner})" if inner else ""
    return _Content(problem=f"the customer sent a message the WhatsApp Cloud API does not support{detail}")


# `messages[].type` -> its reader (Meta's messages webhook reference, one page per type).
CONTENT_READERS: dict[str, Callable[[_Json, str], _Content]] = {
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


# --- statuses ---


def _status(status: _Json, request: WebhookRequest) -> DeliveryStatus | None:
    provider_message_id = status.required("id")
    state = STATUS_MAP.get(status.required("status").lower())
    if state is None:
        return None
    errors = status.objects("errors")
    code, text = _error(errors[0]) if errors else (None, None)
    if state is DeliveryState.FAILED and not text:
        text = "failed"
    return DeliveryStatus(
        provider="whatsapp",
        provider_message_id=provider_message_id,
        state=state,
        occurred_at=status.time("timestamp", default=request.received_at),
        # A BSUID recipient (a username user) comes as `recipient_user_id` [M].
        recipient=status.text("recipient_id") or status.text("recipient_user_id"),
        error_code=code,
        error_message=text,
    )


def _meta_host(url: str, settings: Settings) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    api_host = (urlsplit(settings.whatsapp_api_url).hostname or "").lower()
    meta = any(host == suffix or host.endswith("." + suffix) for suffix in MEDIA_HOST_SUFFIXES)
    return meta or (bool(api_host) and host == api_host)
