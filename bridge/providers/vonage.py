"""Vonage (ex-Nexmo): the SMS API and the Messages API (SMS, MMS, WhatsApp) on one route.

Two wire formats reach `/webhooks/vonage` (research/providers.md §3), told apart per request:
- SMS API: flat parameters (`msisdn`, `to`, `messageId`, `text`) as a GET query, a form POST or a
  flat JSON POST (the dashboard's webhook format), signed with a `sig` parameter: a hash of the
  sorted parameters and the signature secret (`md5hash`, or an MD5/SHA-1/SHA-256/SHA-512 HMAC).
  A long SMS arrives in parts (`concat-*`); each part carries a `Fragment` and the core joins them.
- Messages API: a JSON POST with `message_uuid` and `channel`, signed with `Authorization: Bearer`,
  an HS256 JWT keyed by the same signature secret whose `payload_hash` claim binds the body.
Delivery reports of both APIs come to `/webhooks/vonage/status` in the same two shapes. Vonage
wants any 2xx back; the default JSON acknowledgement will do.
"""

from __future__ import annotations

import hashlib
import logging
import math
import mimetypes
import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import httpx

from bridge.errors import ConfigurationError, MalformedPayload, RetryLater, SignatureInvalid
from bridge.identity import IdentityKind, SenderIdentity, classify_sender
from bridge.messages import Channel, DeliveryState, DeliveryStatus, Fragment, InboundMessage, Media
from bridge.providers import signing
from bridge.providers.base import (
    FetchedMedia,
    ProviderAdapter,
    WebhookContent,
    WebhookRequest,
    download,
    on_domain,
    same_origin,
)
from bridge.providers.payloads import FormData, first, parse_json_object, request_fields, required, timestamp
from bridge.settings import Settings

log = logging.getLogger(__name__)

NAME = "vonage"
SIGNATURE_PARAM = "sig"
# How far the signed `timestamp` may be from now. Vonage documents it as the time it *started*
# pushing the message and resends for 24 hours without a 2xx: a tighter window would refuse the
# retries that follow any outage, and lose the message. Replays inside the window are harmless:
# the ledger dedupes by messageId for BRIDGE_RETENTION_DAYS.
DEFAULT_MAX_SKEW = 26 * 3600.0
# GSM concatenation numbers parts with one octet: at most 255 parts (3GPP TS 23.040 §9.2.3.24.1).
MAX_PARTS = 255

# VONAGE_SIGNATURE_METHOD -> HMAC digest; None is the dashboard's default "MD5 hash",
# md5(base + secret), which is no HMAC (the Python SDK v4 cannot check it; providers.md §3.2).
SIGNATURE_DIGESTS: dict[str, signing.HashFactory | None] = {
    "md5hash": None,
    "md5": hashlib.md5,
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha512": hashlib.sha512,
}

# SMS API `type` -> why the message cannot be delivered as text (None: it can).
SMS_TYPE_PROBLEMS: dict[str, str | None] = {
    "text": None,
    "unicode": None,
    "binary": "binary SMS is not supported",
}

# SMS API delivery receipt `status` -> the bridge's; None: not final enough to report.
SMS_RECEIPT_STATES: dict[str, DeliveryState | None] = {
    "accepted": None,
    "buffered": None,
    "unknown": None,
    "delivered": DeliveryState.DELIVERED,
    "expired": DeliveryState.FAILED,
    "failed": DeliveryState.FAILED,
    "rejected": DeliveryState.FAILED,
}

# SMS API receipt `err-code` meanings (Vonage support article 204014733, "SMS Delivery Error Codes").
SMS_ERROR_CODES: dict[str, str] = {
    "1": "Unknown",
    "2": "Absent Subscriber - Temporary",
    "3": "Absent Subscriber - Permanent",
    "4": "Call Barred by User",
    "5": "Portability Error",
    "6": "Anti-Spam Rejection",
    "7": "Handset Busy",
    "8": "Network Error",
    "9": "Illegal Number",
    "10": "Illegal Message",
    "11": "Unroutable",
    "12": "Destination Unreachable",
    "13": "Subscriber Age Restriction",
    "14": "Number Blocked by Carrier",
}

# Messages API `status` (Java SDK `MessageStatus.Status`) -> the bridge's.
MESSAGES_STATES: dict[str, DeliveryState] = {
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


class VonageAdapter(ProviderAdapter):
    name = NAME
    # The SMS API calls with GET or POST, as the dashboard's "HTTP method" says; Messages API POSTs.
    methods = frozenset({"GET", "POST"})
    status_methods = frozenset({"GET", "POST"})

    def __init__(self, *, clock: Callable[[], float] = time.time, max_skew: float = DEFAULT_MAX_SKEW) -> None:
        self._clock = clock
        self._max_skew = max_skew

    def disabled_reason(self, settings: Settings) -> str | None:
        if settings.vonage_signature_secret is None:
            return "Vonage is not configured: set VONAGE_SIGNATURE_SECRET to verify its webhooks"
        method = settings.vonage_signature_method
        if signature_method(method) is None:
            return f"VONAGE_SIGNATURE_METHOD {method!r} is not one of {', '.join(SIGNATURE_DIGESTS)}"
        return None

    def verify(self, request: WebhookRequest, settings: Settings) -> None:
        secret = settings.secret("vonage_signature_secret")
        if _messages_api_body(request) is not None:
            verify_bearer(request, secret=secret, now=self._clock())
        else:
            self._verify_sig(request, secret, settings.vonage_signature_method)

    def parse(self, request: WebhookRequest, settings: Settings) -> WebhookContent:
        # A delivery report sent to the inbound URL (a slip in the dashboard) is kept as a status,
        # never mistaken for an empty message from the recipient.
        data = _messages_api_body(request)
        if data is not None:
            if "status" in data and "message_type" not in data:
                return WebhookContent(statuses=tuple(_messages_statuses(data, request)))
            return WebhookContent(messages=(_messages_inbound(data, request, settings),))
        fields = request_fields(request)
        if "status" in fields and "text" not in fields:
            return WebhookContent(statuses=tuple(_sms_receipts(fields, request)))
        return WebhookContent(messages=(_sms_inbound(fields, request, settings),))

    def parse_statuses(self, request: WebhookRequest, settings: Settings) -> list[DeliveryStatus]:
        data = _messages_api_body(request)
        if data is not None:
            return _messages_statuses(data, request)
        return _sms_receipts(request_fields(request), request)

    def fetch_media(self, media: Media, settings: Settings, http: httpx.Client) -> FetchedMedia:
        """Messages API media sit on Vonage's media servers (`https://api-us.nexmo.com/v3/media/<id>`)
        behind a unique URL valid for 48 hours, fetched without credentials. With "Secure Inbound
        Media" switched on, Vonage wants a Bearer JWT signed with the application's private key
        (RS256), which neither the API secret nor the signature secret can make: the bridge sends no
        credentials anywhere, and logs why when a Vonage host refuses
        (developer.vonage.com/messages/concepts/secure-inbound-media)."""
        if not media.url:
            raise MalformedPayload(f"vonage media {media.reference} has no URL")
        try:
            return download(http, media.url, media=media)
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code in (401, 403) and vonage_host(media.url, settings):
                log.warning(
                    'Vonage refused a media download with HTTP %s: is "Secure Inbound Media" on for the '
                    "Vonage application? The bridge cannot sign application JWTs; switch it off",
                    exc.response.status_code,
                )
            raise

    def _verify_sig(self, request: WebhookRequest, secret: str, method: str) -> None:
        params: dict[str, str] = {}
        for key, value in request_fields(request).multi_items():
            # The signature covers one value per key; a second one (say, in the query string of a
            # signed POST) would be read by `parse` without being signed.
            if key in params:
                raise SignatureInvalid(f"the parameter {key!r} appears twice; Vonage signs each once")
            params[key] = value
        given = params.get(SIGNATURE_PARAM, "").strip()
        if not given:
            raise SignatureInvalid("the sig parameter is missing (Vonage support enables signed webhooks)")
        if not signing.equal(given.lower(), sms_signature(params, secret=secret, method=method)):
            raise SignatureInvalid("sig does not match the parameters (check VONAGE_SIGNATURE_METHOD)")
        self._check_fresh(params.get("timestamp"))

    def _check_fresh(self, value: str | None) -> None:
        """The signed `timestamp` (unix seconds) stops a captured request from being replayed.

        Vonage documents it as the time it *started* pushing the message and retries for 24 hours:
        if redeliveries keep the first attempt's time, one after an outage longer than `max_skew`
        is refused, so `max_skew` is a constructor argument."""
        if value is None:
            return
        try:
            sent = float(value)
        except ValueError as exc:
            raise SignatureInvalid("timestamp is not a unix time") from exc
        if not math.isfinite(sent) or abs(self._clock() - sent) > self._max_skew:
            raise SignatureInvalid(f"timestamp is more than {self._max_skew:.0f} seconds away from now")


def verify_bearer(request: WebhookRequest, *, secret: str, now: float) -> dict[str, Any]:
    """The Messages API's signature: `Authorization: Bearer`, an HS256 JWT of the signature secret
    whose `payload_hash` must be the body's SHA-256 (Vonage "Signed webhooks"; the SDKs check only
    the HS256 signature). Its claims (iat, jti, iss, api_key, application_id) on success."""
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    if not scheme:
        # Vonage ("Signed webhooks"): after a rare internal error it may send a callback unsigned,
        # and retries (signed) when answered with a 5xx. A 403 would lose the message.
        raise RetryLater("the Messages API callback is unsigned; asking Vonage to send it again")
    if scheme.lower() != "bearer":
        raise SignatureInvalid("Authorization is not a Bearer token")
    return signing.verify_jwt(
        token.strip() or None,
        header="Authorization",
        secret=secret,
        body=request.body,
        algorithms=("HS256",),
        payload_hash_required=True,
        url=None,
        now=now,
    )


def signature_method(name: str) -> str | None:
    """The `SIGNATURE_DIGESTS` key for a method as people write it (`SHA-256 HMAC`, `sha256hmac`,
    `md5`), or None. The Node SDK names HMACs `md5hmac` and so on; the dashboard, `MD5 HMAC`."""
    key = re.sub(r"[\s_-]", "", name.lower())
    if key != "md5hash":
        key = key.replace("hmac", "")
    return key if key in SIGNATURE_DIGESTS else None


def sms_signature(params: Mapping[str, str], *, secret: str, method: str) -> str:
    """Vonage's `sig` for `params`, as lower-case hex (Vonage sends HMACs in upper case).

    The base is `&key=value` over the parameters sorted by key, `sig` left out, with `&` and `=`
    in values replaced by `_` (developer.vonage.com "Signing messages", manual steps).
    """
    key = signature_method(method)
    if key is None:
        raise ConfigurationError(
            f"VONAGE_SIGNATURE_METHOD {method!r} is not one of {', '.join(SIGNATURE_DIGESTS)}"
        )
    base = "".join(
        f"&{name}={value.replace('&', '_').replace('=', '_')}"
        for name, value in sorted(params.items())
        if name != SIGNATURE_PARAM
    )
    digest = SIGNATURE_DIGESTS[key]
    if digest is None:
        return hashlib.md5((base + secret).encode()).hexdigest()
    return signing.hmac_hex(secret, base.encode(), digest)


def vonage_host(url: str, settings: Settings) -> bool:
    """Whether `url` is on Vonage's own hosts (nexmo.com, vonage.com, or VONAGE_API_URL's)."""
    return on_domain(url, "nexmo.com", "vonage.com") or same_origin(url, settings.vonage_api_url)


def _messages_api_body(request: WebhookRequest) -> dict[str, Any] | None:
    """The JSON object of a Messages API request, or None for the SMS API (whose POST-JSON is flat)."""
    content_type = request.content_type
    is_json = content_type == "application/json" or (not content_type and request.body.lstrip()[:1] == b"{")
    if request.method != "POST" or not request.body or not is_json:
        return None
    data = parse_json_object(request.body)
    return data if "message_uuid" in data and "channel" in data else None


# --- SMS API ---


def _sms_inbound(fields: FormData, request: WebhookRequest, settings: Settings) -> InboundMessage:
    sender_raw = required(fields, "msisdn")
    # msisdn is international digits without "+" (or an alphanumeric id such as "MTN").
    sender = classify_sender(sender_raw, country_code_included=True, default_region=settings.default_region)
    kind = fields.get("type", "").strip().lower() or "text"
    type_problem = SMS_TYPE_PROBLEMS.get(kind, f"SMS type {kind!r} is not supported")
    return InboundMessage(
        provider=NAME,
        channel=Channel.SMS,
        provider_message_id=required(fields, "messageId"),
        sender=sender,
        business_number=required(fields, "to"),
        text=fields.get("text", "").replace("\x00", ""),
        received_at=timestamp(first(fields, "message-timestamp", "timestamp"), default=request.received_at),
        account=fields.get("api-key") or None,
        fragment=_fragment(fields, sender_raw),
        problem=type_problem or _sender_problem(sender),
    )


def _fragment(fields: FormData, sender_raw: str) -> Fragment | None:
    """One part of a long SMS: parts share `concat-ref` per sender, each has its own messageId."""
    if fields.get("concat", "").strip().lower() != "true" and "concat-ref" not in fields:
        return None
    reference = required(fields, "concat-ref")
    total, part = _integer(fields, "concat-total"), _integer(fields, "concat-part")
    if not 1 <= part <= total <= MAX_PARTS:
        raise MalformedPayload(f"concat-part {part} of concat-total {total} is out of 1..{MAX_PARTS}")
    return Fragment(group=f"{sender_raw}:{reference}", index=part, total=total)


def _integer(fields: FormData, name: str) -> int:
    value = required(fields, name)
    if not value.isdecimal() or len(value) > 6:
        raise MalformedPayload(f"{name} is not a number")
    return int(value)


def _sms_receipts(fields: FormData, request: WebhookRequest) -> list[DeliveryStatus]:
    reported = required(fields, "status").lower()
    if reported not in SMS_RECEIPT_STATES:
        raise MalformedPayload(f"status {reported!r} is not one Vonage documents")
    state = SMS_RECEIPT_STATES[reported]
    if state is None:
        return []
    failed = state is DeliveryState.FAILED
    error_code = fields.get("err-code", "").strip() or None
    # `scts` (YYMMDDHHMM) is the carrier's time in an undocumented zone; message-timestamp is UTC.
    return [
        DeliveryStatus(
            provider=NAME,
            provider_message_id=required(fields, "messageId"),
            state=state,
            occurred_at=timestamp(
                first(fields, "message-timestamp", "timestamp"), default=request.received_at
            ),
            recipient=fields.get("msisdn") or None,
            error_code=error_code if failed else None,
            error_message=SMS_ERROR_CODES.get(error_code or "", reported) if failed else None,
        )
    ]


# --- Messages API ---


class _Content(NamedTuple):
    text: str = ""
    media: tuple[Media, ...] = ()
    problem: str | None = None


def _messages_inbound(data: dict[str, Any], request: WebhookRequest, settings: Settings) -> InboundMessage:
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
    profile = data.get("profile")
    return InboundMessage(
        provider=NAME,
        channel=channel or Channel.SMS,
        provider_message_id=_string(data, "message_uuid"),
        sender=sender,
        business_number=_string(data, "to"),
        text=content.text.replace("\x00", ""),
        media=content.media,
        profile_name=_optional(profile, "name") if isinstance(profile, dict) else None,
        received_at=_time(data, request),
        aliases=_aliases(data, sender_raw, settings) if channel is Channel.WHATSAPP else (),
        problem=content.problem or _sender_problem(sender),
    )


def _content(data: dict[str, Any]) -> _Content:
    # `content` lists every attachment of an MMS that has several (Java SDK InboundMessage).
    if isinstance(data.get("content"), list):
        return _attachments(data)
    message_type = _string(data, "message_type").lower()
    handler = CONTENT_HANDLERS.get(message_type)
    if handler is None:
        return _Content(
            text=_optional(data, "text") or "", problem=f"message_type {message_type} is not supported"
        )
    return handler(data)


def _text(data: dict[str, Any]) -> _Content:
    text = data.get("text")
    if not isinstance(text, str):
        raise MalformedPayload("text is missing")
    return _Content(text=text)


def _media_of(kind: str) -> Callable[[dict[str, Any]], _Content]:
    def handler(data: dict[str, Any]) -> _Content:
        attachment = _object(data, kind)
        url = _string(attachment, "url", path=f"{kind}.")
        filename = _optional(attachment, "name")
        media = Media(url=url, content_type=_content_type(kind, url, filename), filename=filename)
        return _Content(text=_optional(attachment, "caption") or "", media=(media,))

    return handler


def _attachments(data: dict[str, Any]) -> _Content:
    media: list[Media] = []
    texts = [_optional(data, "text")]
    for index, item in enumerate(data["content"]):
        if not isinstance(item, dict):
            raise MalformedPayload(f"content[{index}] is not an object")
        kind = _optional(item, "type") or "file"
        url = _string(item, "url", path=f"content[{index}].")
        media.append(Media(url=url, content_type=_content_type(kind, url, None)))
        texts.append(_optional(item, "caption"))
    return _Content(text="\n".join(text for text in texts if text), media=tuple(media))


def _location(data: dict[str, Any]) -> _Content:
    place = _object(data, "location")
    latitude, longitude = _coordinate(place, "lat", "latitude"), _coordinate(place, "long", "longitude")
    lines = [_optional(place, "name"), _optional(place, "address")]
    lines.append(f"Location: {latitude}, {longitude} https://maps.google.com/?q={latitude},{longitude}")
    return _Content(text="\n".join(line for line in lines if line))


def _reply(data: dict[str, Any]) -> _Content:
    # The customer picked an option of an interactive list or reply buttons.
    reply = _object(data, "reply")
    title = _optional(reply, "title") or _optional(reply, "id")
    if title is None:
        raise MalformedPayload("reply.title is missing")
    return _Content(text="\n".join(line for line in (title, _optional(reply, "description")) if line))


def _button(data: dict[str, Any]) -> _Content:
    # The customer tapped a quick-reply button of a template.
    return _Content(text=_string(_object(data, "button"), "text", path="button."))


def _unsupported(data: dict[str, Any]) -> _Content:
    return _Content(problem="Vonage could not read the customer's message (message_type unsupported)")


# Messages API `message_type` -> what the customer said, as text and media.
CONTENT_HANDLERS: dict[str, Callable[[dict[str, Any]], _Content]] = {
    "text": _text,
    **{kind: _media_of(kind) for kind in ("image", "audio", "video", "file", "vcard", "sticker")},
    "location": _location,
    "reply": _reply,
    "button": _button,
    "unsupported": _unsupported,
}


def _messages_statuses(data: dict[str, Any], request: WebhookRequest) -> list[DeliveryStatus]:
    reported = _string(data, "status").lower()
    if reported not in MESSAGES_STATES:
        raise MalformedPayload(f"status {reported!r} is not one Vonage documents")
    state = MESSAGES_STATES[reported]
    reported_error = data.get("error")
    error: dict[str, Any] = reported_error if isinstance(reported_error, dict) else {}
    # `title` is the error code (1000, 1340…); `type` links to it (…/messages-olympus#1340).
    code = error.get("title")
    error_code = str(code) if isinstance(code, str | int) and not isinstance(code, bool) else None
    if error_code is None and isinstance(error.get("type"), str) and "#" in error["type"]:
        error_code = error["type"].rsplit("#", 1)[1] or None
    failed = state is DeliveryState.FAILED
    return [
        DeliveryStatus(
            provider=NAME,
            provider_message_id=_string(data, "message_uuid"),
            state=state,
            occurred_at=_time(data, request),
            recipient=_optional(data, "to"),
            error_code=error_code,
            error_message=_optional(error, "detail") or (reported if failed else None),
        )
    ]


def _aliases(data: dict[str, Any], sender_raw: str, settings: Settings) -> tuple[SenderIdentity, ...]:
    """The sender's other WhatsApp ids (`whatsapp.sender`: phone `wa_id`, BSUID `user_id`, parent
    BSUID), so they all lead to one contact (Java SDK `WhatsappUser`)."""
    whatsapp = data.get("whatsapp")
    user = whatsapp.get("sender") if isinstance(whatsapp, dict) else None
    if not isinstance(user, dict):
        return ()
    aliases: list[SenderIdentity] = []
    for field in ("wa_id", "user_id", "parent_user_id"):
        raw = _optional(user, field)
        if raw and raw != sender_raw and raw not in {alias.raw for alias in aliases}:
            alias = classify_sender(raw, country_code_included=True, default_region=settings.default_region)
            if alias.kind is not IdentityKind.UNKNOWN:
                aliases.append(alias)
    return tuple(aliases)


def _time(data: dict[str, Any], request: WebhookRequest) -> datetime:
    value = data.get("timestamp")
    usable = isinstance(value, str | int | float) and not isinstance(value, bool)
    return timestamp(value if usable else None, default=request.received_at)


def _content_type(kind: str, url: str, filename: str | None) -> str | None:
    """Guessed from the file name or URL; Vonage's own media URLs (`/v3/media/<id>`) tell nothing."""
    try:
        path = filename or urlsplit(url).path
    except ValueError:
        path = ""
    guessed = mimetypes.guess_type(path)[0] if path else None
    return guessed or DEFAULT_CONTENT_TYPES.get(kind)


def _coordinate(place: dict[str, Any], *names: str) -> str:
    for name in names:
        value = place.get(name)
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float) or (isinstance(value, str) and value.strip()):
            try:
                number = float(value)
            except (ValueError, OverflowError):
                continue
            if math.isfinite(number):
                return str(value).strip()
    raise MalformedPayload(f"location.{names[0]} is missing")


def _object(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    if not isinstance(value, dict):
        raise MalformedPayload(f"{name} is missing")
    return value


def _string(data: dict[str, Any], name: str, *, path: str = "") -> str:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise MalformedPayload(f"{path}{name} must be a string")
    if not value or not value.strip():
        raise MalformedPayload(f"{path}{name} is missing")
    return value.strip()


def _optional(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _sender_problem(sender: SenderIdentity) -> str | None:
    if sender.kind is IdentityKind.UNKNOWN:
        return (
            "the sender id is neither a phone number, a short code, an alphanumeric id nor a WhatsApp user id"
        )
    return None
