"""MessageBird / Bird: classic SMS/MMS forwarding, the Conversations API, and Bird's Channels API.

Three generations of one provider reach the same route (research/providers.md §4):
- classic number forwarding: a form POST, or a GET with the same fields in the query, naming the
  sender `originator` (international digits without `+`, or an alphanumeric id);
- the Conversations API (WhatsApp and SMS channels): JSON `{type, contact, conversation, message}`;
- Bird's Channels API: JSON `{"service": "channels", "event": "sms.inbound", "payload": {...}}`.

The first two are signed with `MessageBird-Signature-JWT`, a JWT (HS256/384/512, the account's
signing key) whose claims bind it to the URL as called (`url_hash`, query order included) and to
the raw body (`payload_hash`); it is valid 60 seconds (python SDK `RequestValidator` and its 44
vectors). Bird signs with `messagebird-signature`: base64 HMAC-SHA256 of `timestamp \\n URL \\n
sha256(body)`, keyed by the webhook subscription's signing key (docs.bird.com "Verifying a webhook
subscription"). The adapter takes the time from an injected clock so tests can freeze it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from bridge.errors import MalformedPayload, SignatureInvalid
from bridge.identity import IdentityKind, SenderIdentity, classify_sender
from bridge.messages import Channel, DeliveryState, DeliveryStatus, InboundMessage, Media
from bridge.providers import signing
from bridge.providers.base import (
    Acknowledgement,
    FetchedMedia,
    ProviderAdapter,
    WebhookContent,
    WebhookRequest,
    download,
)
from bridge.providers.payloads import FormData, parse_json_object, request_fields, required, timestamp
from bridge.settings import Settings

JWT_HEADER = "MessageBird-Signature-JWT"
JWT_ALGORITHMS = ("HS256", "HS384", "HS512")
JWT_ISSUER = "MessageBird"
JWT_CLAIMS = ("iss", "nbf", "exp", "jti")
BIRD_SIGNATURE_HEADER = "messagebird-signature"
BIRD_TIMESTAMP_HEADER = "messagebird-request-timestamp"
# courier answers MessageBird's forwards with a plain `OK`, which MessageBird expects.
ACKNOWLEDGEMENT = b"OK"
# The short-code flow's `receive_datetime` (courier parses it with this layout, as UTC).
SHORT_CODE_TIME = "%Y%m%d%H%M%S"
TRUSTED_DOMAINS = ("messagebird.com", "bird.com")

JsonObject = dict[str, Any]

# Classic SMS status reports (research §4.2, courier's statusMapping) -> the bridge's; None: not
# final enough to report.
SMS_STATUS_MAP: dict[str, DeliveryState | None] = {
    "scheduled": None,
    "buffered": None,
    "sent": DeliveryState.SENT,
    "delivered": DeliveryState.DELIVERED,
    "expired": DeliveryState.FAILED,
    "delivery_failed": DeliveryState.FAILED,
}

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

# Classic forwarding fields, by what they hold; the first present wins. A number's forward names
# the text `body` and the id `id` (`message_id` for MMS); the short-code flow says `message` and
# `mid` (courier handlers/messagebird). Names are matched case-insensitively, as courier's form
# decoder does: its own sample spells `CreatedDatetime` and `mediaURLs`.
NUMBER_FIELDS = {"text": ("body", "message"), "id": ("id", "message_id", "mid")}
SHORT_CODE_FIELDS = {"text": ("message", "body"), "id": ("mid", "id", "message_id")}
MEDIA_FIELDS = ("mediaurls", "mediaurls[]")


class ContentProblem(Exception):
    """A message's content cannot be read: the message is still stored, with this reason."""


ContentReader = Callable[[JsonObject], tuple[str, tuple[Media, ...]]]


class MessageBirdAdapter(ProviderAdapter):
    name = "messagebird"
    # Number forwards may come as GET with the fields in the query; status reports usually do.
    methods = frozenset({"GET", "POST"})
    status_methods = frozenset({"GET", "POST"})

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def disabled_reason(self, settings: Settings) -> str | None:
        if settings.messagebird_signing_key is None:
            return "MessageBird is not configured: set MESSAGEBIRD_SIGNING_KEY to verify its webhooks"
        return None

    def verify(self, request: WebhookRequest, settings: Settings) -> None:
        secret = settings.secret("messagebird_signing_key")
        token = request.headers.get(JWT_HEADER.lower())
        if token is None and request.headers.get(BIRD_SIGNATURE_HEADER):
            _verify_bird_signature(request, secret)
            return
        signing.verify_jwt(
            token,
            header=JWT_HEADER,
            secret=secret,
            body=request.body,
            algorithms=JWT_ALGORITHMS,
            issuer=JWT_ISSUER,
            required_claims=JWT_CLAIMS,
            url=request.url,
            payload_hash_required=True,
            now=self._clock(),
        )

    def parse(self, request: WebhookRequest, settings: Settings) -> WebhookContent:
        if _is_json(request):
            return self._parse_event(parse_json_object(request.body), request, settings)
        return WebhookContent(messages=(self._forwarded_sms(_fields(request), request, settings),))

    def parse_statuses(self, request: WebhookRequest, settings: Settings) -> list[DeliveryStatus]:
        if _is_json(request):
            content = self._parse_event(parse_json_object(request.body), request, settings)
            if content.messages:
                raise MalformedPayload(
                    f"inbound messages belong on /webhooks/{self.name}, not its status URL"
                )
            return list(content.statuses)
        return self._sms_status(_fields(request), request)

    def acknowledge(self) -> Acknowledgement:
        return Acknowledgement(media_type="text/plain", body=ACKNOWLEDGEMENT)

    def fetch_media(self, media: Media, settings: Settings, http: httpx.Client) -> FetchedMedia:
        """MessageBird and Bird media may need `Authorization: AccessKey`; the key is sent only to
        their own hosts over HTTPS (or to MESSAGEBIRD_API_URL's), never to a URL a payload names
        elsewhere."""
        if not media.url:
            raise MalformedPayload(f"{self.name} media {media.reference} has no URL")
        headers = {}
        if settings.messagebird_access_key is not None and _trusted(media.url, settings):
            headers["Authorization"] = f"AccessKey {settings.secret('messagebird_access_key')}"
        return download(http, media.url, media=media, headers=headers)

    # --- classic SMS/MMS forwarding and status reports ---

    def _forwarded_sms(self, form: FormData, request: WebhookRequest, settings: Settings) -> InboundMessage:
        short_code = form.get("shortcode", "").strip()
        names = SHORT_CODE_FIELDS if short_code else NUMBER_FIELDS
        sender = _sender(required(form, "originator"), settings)
        return InboundMessage(
            provider=self.name,
            channel=Channel.SMS,
            provider_message_id=_first_required(form, names["id"]),
            sender=sender,
            # The short-code flow names no recipient: the customer wrote to the short code.
            business_number=short_code or _first_required(form, ("recipient", "receiver")),
            text=_raw_first(form, names["text"]).replace("\x00", ""),
            media=tuple(Media(url=url) for url in _media_urls(form)),
            received_at=_forwarded_time(form, request.received_at),
            problem=_sender_problem(sender),
        )

    def _sms_status(self, form: FormData, request: WebhookRequest) -> list[DeliveryStatus]:
        reported = required(form, "status").lower()
        if reported not in SMS_STATUS_MAP:
            raise MalformedPayload(f"status {reported!r} is not one MessageBird documents")
        state = SMS_STATUS_MAP[reported]
        if state is None:
            return []
        failed = state is DeliveryState.FAILED
        return [
            DeliveryStatus(
                provider=self.name,
                provider_message_id=required(form, "id"),
                state=state,
                occurred_at=timestamp(form.get("statusdatetime"), default=request.received_at),
                recipient=form.get("recipient") or None,
                # statusErrorCode 103 means the recipient sent STOP (courier).
                error_code=(form.get("statuserrorcode") or None) if failed else None,
                error_message=(form.get("statusreason") or reported) if failed else None,
            )
        ]

    # --- JSON events: the Conversations API and Bird's Channels API ---

    def _parse_event(self, data: JsonObject, request: WebhookRequest, settings: Settings) -> WebhookContent:
        if data.get("service") == "channels" or "payload" in data:
            return self._channels_event(data, request, settings)
        event = _text(data, "type")
        if not event:
            raise MalformedPayload("type is missing (nor is it a Bird Channels event)")
        if event not in ("message.created", "message.updated"):
            return WebhookContent()  # conversation.created/updated: nothing to deliver
        message = _object(data, "message", "message")
        direction = _text(message, "direction")
        if event == "message.created" and direction == "received":
            return WebhookContent(messages=(self._conversation_message(data, message, request, settings),))
        if event == "message.updated" and direction == "sent":
            status = self._conversation_status(message, request)
            return WebhookContent(statuses=(status,) if status else ())
        return WebhookContent()  # the echo of our own outbound message, or a customer's being updated

    def _conversation_message(
        self, data: JsonObject, message: JsonObject, request: WebhookRequest, settings: Settings
    ) -> InboundMessage:
        contact = _optional_object(data, "contact")
        # `msisdn` is a JSON number in MessageBird's contact objects.
        raw = _text(message, "from") or _text(contact, "msisdn")
        if not raw:
            raise MalformedPayload("message.from is missing (nor is contact.msisdn set)")
        sender = _sender(raw, settings)
        kind = _text(message, "type")
        text, media, problem = _read_content(
            CONVERSATION_CONTENT, kind, _optional_object(message, "content"), "MessageBird"
        )
        return InboundMessage(
            provider=self.name,
            channel=Channel.WHATSAPP if _text(message, "platform").lower() == "whatsapp" else Channel.SMS,
            provider_message_id=_required_text(message, "id", "message.id"),
            sender=sender,
            # Replies leave through the channel the message came in on.
            business_number=_required_text(message, "channelId", "message.channelId"),
            text=text,
            media=media,
            profile_name=_profile_name(_text(contact, "displayName"), raw, _text(contact, "msisdn")),
            received_at=timestamp(_text(message, "createdDatetime") or None, default=request.received_at),
            problem=problem or _sender_problem(sender),
        )

    def _conversation_status(self, message: JsonObject, request: WebhookRequest) -> DeliveryStatus | None:
        reported = _text(message, "status").lower()
        state = CONVERSATION_STATUS_MAP.get(reported)
        if state is None:
            return None
        return DeliveryStatus(
            provider=self.name,
            provider_message_id=_required_text(message, "id", "message.id"),
            state=state,
            occurred_at=timestamp(_text(message, "updatedDatetime") or None, default=request.received_at),
            recipient=_text(message, "to") or None,
            error_message=reported if state is DeliveryState.FAILED else None,
        )

    def _channels_event(
        self, data: JsonObject, request: WebhookRequest, settings: Settings
    ) -> WebhookContent:
        """Bird's `{platform}.inbound` events (docs.bird.com "Receiving messages"); its status
        events are not parsed: their fields are not confirmed."""
        event = _text(data, "event")
        platform, _, kind = event.partition(".")
        payload = _object(data, "payload", "payload")
        if kind != "inbound" or _text(payload, "direction") not in ("", "incoming"):
            return WebhookContent()
        contact = _optional_object(_optional_object(payload, "sender"), "contact")
        extra = _optional_object(_optional_object(payload, "meta"), "extraInformation")
        # A WhatsApp user with a username may come without a phone number, known by the BSUID Bird
        # puts in meta.extraInformation.whatsappbsuid (docs.bird.com "Business-Scoped User IDs").
        bsuid = _text(extra, "whatsappbsuid")
        raw = _text(contact, "identifierValue") or bsuid
        if not raw:
            raise MalformedPayload("payload.sender.contact.identifierValue is missing")
        sender = _sender(raw, settings)
        aliases = (_sender(bsuid, settings),) if bsuid and bsuid != raw else ()
        body = _optional_object(payload, "body")
        text, media, problem = _read_content(CHANNELS_CONTENT, _text(body, "type"), body, "Bird")
        message = InboundMessage(
            provider=self.name,
            channel=Channel.WHATSAPP if platform == "whatsapp" else Channel.SMS,
            provider_message_id=_required_text(payload, "id", "payload.id"),
            sender=sender,
            business_number=_required_text(payload, "channelId", "payload.channelId"),
            text=text,
            media=media,
            profile_name=_text(_optional_object(contact, "annotations"), "name") or None,
            received_at=timestamp(_text(payload, "createdAt") or None, default=request.received_at),
            aliases=aliases,
            problem=problem or _sender_problem(sender),
        )
        return WebhookContent(messages=(message,))


# --- signatures and hosts ---


def _verify_bird_signature(request: WebhookRequest, secret: str) -> None:
    """Bird documents no tolerance on the timestamp and retries for 8 hours, so none is applied;
    a replayed message is deduplicated by its id anyway."""
    stamp = request.headers.get(BIRD_TIMESTAMP_HEADER, "")
    if not stamp:
        raise SignatureInvalid(f"{BIRD_TIMESTAMP_HEADER} is missing")
    try:
        given = base64.b64decode(request.headers.get(BIRD_SIGNATURE_HEADER, ""), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureInvalid(f"{BIRD_SIGNATURE_HEADER} is not base64") from exc
    signed = f"{stamp}\n{request.url}\n".encode() + hashlib.sha256(request.body).digest()
    if not signing.equal(given, hmac.new(secret.encode(), signed, hashlib.sha256).digest()):
        raise SignatureInvalid(f"{BIRD_SIGNATURE_HEADER} does not match the request")


def _trusted(url: str, settings: Settings) -> bool:
    try:
        parts, configured = urlsplit(url), urlsplit(settings.messagebird_api_url)
        host, configured_host = (parts.hostname or "").lower(), (configured.hostname or "").lower()
    except ValueError:
        return False
    if configured_host and (parts.scheme, host) == (configured.scheme, configured_host):
        return True
    own = any(host == domain or host.endswith("." + domain) for domain in TRUSTED_DOMAINS)
    return own and parts.scheme == "https"


# --- classic form fields ---


def _is_json(request: WebhookRequest) -> bool:
    content_type = request.content_type
    return content_type == "application/json" or (not content_type and request.body.lstrip()[:1] == b"{")


def _fields(request: WebhookRequest) -> FormData:
    """The request's fields with lower-case names, one value each: the last, as courier's decoder
    (gorilla/schema) keeps it. courier's sample repeats `body` and `id` on purpose and expects the
    text `Test 3`, the later value. Media URLs keep every value (see `_media_urls`)."""
    items = request_fields(request).multi_items()
    last = {name.lower(): value for name, value in items}
    media = [(name.lower(), value) for name, value in items if name.lower() in MEDIA_FIELDS]
    return FormData([*((name, value) for name, value in last.items() if name not in MEDIA_FIELDS), *media])


def _media_urls(form: FormData) -> list[str]:
    return [url.strip() for name in MEDIA_FIELDS for url in form.getlist(name) if url.strip()]


def _raw_first(form: FormData, names: tuple[str, ...]) -> str:
    """The first of `names` with a value, unstripped: a message's spacing is the customer's."""
    return next((form[name] for name in names if form.get(name, "").strip()), "")


def _first_required(form: FormData, names: tuple[str, ...]) -> str:
    value = _raw_first(form, names).strip()
    if not value:
        raise MalformedPayload(f"{names[0]} is missing (nor is {' or '.join(names[1:])} set)")
    return value


def _forwarded_time(form: FormData, default: datetime) -> datetime:
    if form.get("createddatetime"):
        return timestamp(form["createddatetime"], default=default)
    if form.get("receive_datetime"):
        try:
            return datetime.strptime(form["receive_datetime"], SHORT_CODE_TIME).replace(tzinfo=UTC)
        except ValueError:
            return timestamp(form["receive_datetime"], default=default)
    return timestamp(form.get("date_utc"), default=default)


# --- senders ---


def _sender(raw: str, settings: Settings) -> SenderIdentity:
    # MessageBird sends international digits without `+`: no default region may apply to them.
    return classify_sender(raw, country_code_included=True, default_region=settings.default_region)


def _sender_problem(sender: SenderIdentity) -> str | None:
    if sender.kind is IdentityKind.UNKNOWN:
        return (
            "the sender id is neither a phone number, a short code, an alphanumeric id nor a WhatsApp user id"
        )
    return None


def _profile_name(display_name: str, *numbers: str) -> str | None:
    """MessageBird fills `displayName` with the number when it knows no name: that is no name."""
    digits = {number.lstrip("+") for number in numbers if number}
    name = display_name.strip()
    return name if name and name.lstrip("+") not in digits else None


# --- JSON content ---


def _object(parent: JsonObject, key: str, path: str) -> JsonObject:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise MalformedPayload(f"{path} must be a JSON object")
    return value


def _optional_object(parent: JsonObject, key: str) -> JsonObject:
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def _objects(parent: JsonObject, key: str) -> list[JsonObject]:
    value = parent.get(key)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _text(parent: JsonObject, key: str) -> str:
    value = parent.get(key)
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


def _required_text(parent: JsonObject, key: str, path: str) -> str:
    value = _text(parent, key).strip()
    if not value:
        raise MalformedPayload(f"{path} is missing")
    return value


def _read_content(
    readers: dict[str, ContentReader], kind: str, content: JsonObject, provider: str
) -> tuple[str, tuple[Media, ...], str | None]:
    """Text, media and, when the content cannot be delivered, the reason (the message is kept)."""
    reader = readers.get(kind)
    if reader is None:
        return "", (), f"{provider} message type {kind!r} is not supported"
    try:
        text, media = reader(content)
    except ContentProblem as exc:
        return "", (), f"{provider} {kind} message: {exc}"
    return text.replace("\x00", ""), media, None


def _conversation_text(content: JsonObject) -> tuple[str, tuple[Media, ...]]:
    return _text(content, "text"), ()


def _conversation_media(kind: str) -> ContentReader:
    """`content.{image,video,audio,file}` is `{url, caption}` (MessageBird SDKs' Media type)."""

    def read(content: JsonObject) -> tuple[str, tuple[Media, ...]]:
        media = _optional_object(content, kind)
        url = _text(media, "url").strip()
        if not url:
            raise ContentProblem(f"content.{kind}.url is missing")
        return _text(media, "caption"), (Media(url=url),)

    return read


def _conversation_location(content: JsonObject) -> tuple[str, tuple[Media, ...]]:
    location = _optional_object(content, "location")
    latitude, longitude = location.get("latitude"), location.get("longitude")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (latitude, longitude)):
        raise ContentProblem("content.location needs a numeric latitude and longitude")
    return f"Location: {latitude}, {longitude} https://maps.google.com/?q={latitude},{longitude}", ()


def _channels_text(body: JsonObject) -> tuple[str, tuple[Media, ...]]:
    return _text(_optional_object(body, "text"), "text"), ()


def _channels_images(body: JsonObject) -> tuple[str, tuple[Media, ...]]:
    """`body.image.images[].mediaUrl`, seen in real payloads (research §4.4; not in Bird's pages)."""
    image = _optional_object(body, "image")
    media = tuple(Media(url=url) for item in _objects(image, "images") if (url := _text(item, "mediaUrl")))
    if not media:
        raise ContentProblem("body.image.images has no mediaUrl")
    return _text(image, "text"), media


def _channels_files(body: JsonObject) -> tuple[str, tuple[Media, ...]]:
    """Bird sends audio, video, documents and stickers as `body.file.files[]` with a contentType."""
    file = _optional_object(body, "file")
    media = tuple(
        Media(
            url=url, content_type=_text(item, "contentType") or None, filename=_text(item, "filename") or None
        )
        for item in _objects(file, "files")
        if (url := _text(item, "mediaUrl"))
    )
    if not media:
        raise ContentProblem("body.file.files has no mediaUrl")
    return _text(file, "text"), media


# Content type -> how to read it; a type missing here is stored with a problem, never dropped.
CONVERSATION_CONTENT: dict[str, ContentReader] = {
    "text": _conversation_text,
    "image": _conversation_media("image"),
    "video": _conversation_media("video"),
    "audio": _conversation_media("audio"),
    "file": _conversation_media("file"),
    "location": _conversation_location,
}
CHANNELS_CONTENT: dict[str, ContentReader] = {
    "text": _channels_text,
    "image": _channels_images,
    "file": _channels_files,
}
