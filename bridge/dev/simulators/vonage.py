"""Vonage's inbound webhooks, as Vonage sends them.

- SMS API (the default): a form POST signed with the `sig` parameter, hashed with
  `VONAGE_SIGNATURE_SECRET` by `VONAGE_SIGNATURE_METHOD` (HMACs in upper-case hex, as Vonage sends
  them); `inbound_parts` splits a long text into `concat` parts, one request each.
- Messages API (WhatsApp, or any message with media): a JSON POST with `Authorization: Bearer`, an
  HS256 JWT of the same secret whose `payload_hash` is the body's SHA-256 (Vonage's "Signed
  webhooks" page lists the claims: iat, jti, iss, payload_hash, api_key, application_id).
"""

from __future__ import annotations

import json
import mimetypes
import secrets
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import urlencode

import jwt

from bridge.core.settings import Settings
from bridge.core.signing import sha256_hex
from bridge.dev.simulators.base import HeldMedia, MediaHolder, SimulatedMessage, SimulatedRequest, api_origin
from bridge.providers.vonage import SIGNATURE_PARAM, signature_method, sms_signature

PATH = "/webhooks/vonage"
# Vonage's Messages API `message_type` for a media's content type family.
MEDIA_TYPES = {"image": "image", "audio": "audio", "video": "video"}
# Vonage names media by UUID.
MEDIA = MediaHolder(
    api_url=lambda settings: settings.vonage_messages_api_url, new_id=lambda: str(uuid.uuid4())
)


def inbound(message: SimulatedMessage, base_url: str, settings: Settings) -> SimulatedRequest:
    """What Vonage sends for `message`: an SMS API form, or a Messages API JSON for WhatsApp/media."""
    if message.whatsapp or message.media:
        return messages_api_inbound(message, base_url, settings)
    params = _sms_params(message, message.text, settings, message_id=message.message_id)
    return _sms_request(params, base_url, settings)


def inbound_parts(
    message: SimulatedMessage, base_url: str, settings: Settings, parts: int
) -> list[SimulatedRequest]:
    """A long SMS as Vonage delivers it: `parts` requests sharing a `concat-ref`, each with its own
    messageId and its slice of the text, in order."""
    if not 1 <= parts <= 255:
        raise ValueError("a concatenated SMS has 1 to 255 parts")
    size = -(-len(message.text) // parts) or 1
    reference = str(secrets.randbelow(256))
    requests = []
    for index in range(parts):
        params = _sms_params(message, message.text[index * size : (index + 1) * size], settings)
        params += [
            ("concat", "true"),
            ("concat-ref", reference),
            ("concat-total", str(parts)),
            ("concat-part", str(index + 1)),
        ]
        requests.append(_sms_request(params, base_url, settings))
    return requests


def messages_api_inbound(message: SimulatedMessage, base_url: str, settings: Settings) -> SimulatedRequest:
    """A Messages API inbound (WhatsApp, or MMS when there is media), signed with a Bearer JWT."""
    if len(message.media) > 1:
        raise ValueError("a Vonage Messages API inbound carries one attachment; send one media per message")
    channel = "whatsapp" if message.whatsapp else ("mms" if message.media else "sms")
    payload: dict[str, object] = {
        "channel": channel,
        "message_uuid": message.message_id or str(uuid.uuid4()),
        "to": message.recipient.removeprefix("+"),
        "from": message.sender.removeprefix("+"),
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    }
    if message.media:
        first = message.media[0]
        kind = _message_type(first.content_type if isinstance(first, HeldMedia) else _guess_type(first))
        attachment: dict[str, str] = {"url": _media_url(first, settings)}
        if message.text:
            attachment["caption"] = message.text
        payload |= {"message_type": kind, kind: attachment}
    else:
        payload |= {"message_type": "text", "text": message.text}
    if message.whatsapp:
        payload["context_status"] = "none"
        if message.profile_name:
            payload["profile"] = {"name": message.profile_name}
    body = json.dumps(payload).encode()
    claims = {
        "iat": int(time.time()),
        "jti": str(uuid.uuid4()),
        "iss": "Vonage",
        "payload_hash": sha256_hex(body),
        "api_key": settings.vonage_api_key or "abcd1234",
    }
    token = jwt.encode(claims, settings.secret("vonage_signature_secret"), algorithm="HS256")
    return SimulatedRequest(
        url=base_url.rstrip("/") + PATH,
        body=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )


def _sms_params(
    message: SimulatedMessage, text: str, settings: Settings, *, message_id: str | None = None
) -> list[tuple[str, str]]:
    now = datetime.now(UTC)
    params = [
        ("msisdn", message.sender.removeprefix("+")),
        ("to", message.recipient.removeprefix("+")),
        ("messageId", message_id or secrets.token_hex(8).upper()),
        ("text", text),
        ("type", "text" if text.isascii() else "unicode"),
        ("message-timestamp", now.strftime("%Y-%m-%d %H:%M:%S")),
        ("timestamp", str(int(now.timestamp()))),
        ("nonce", str(uuid.uuid4())),
    ]
    if text.split():  # Vonage's `keyword`: the first word, upper-cased (for short-code campaigns)
        params.append(("keyword", text.split()[0].upper()))
    if settings.vonage_api_key:
        params.append(("api-key", settings.vonage_api_key))
    return params


def _sms_request(params: list[tuple[str, str]], base_url: str, settings: Settings) -> SimulatedRequest:
    method = settings.vonage_signature_method
    signature = sms_signature(dict(params), secret=settings.secret("vonage_signature_secret"), method=method)
    # Vonage sends "MD5 hash" signatures in lower case and HMACs in upper case (Node SDK vectors).
    if signature_method(method) != "md5hash":
        signature = signature.upper()
    return SimulatedRequest(
        url=base_url.rstrip("/") + PATH,
        body=urlencode([*params, (SIGNATURE_PARAM, signature)]).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def _guess_type(url: str) -> str:
    return mimetypes.guess_type(url)[0] or "image/jpeg"


def _message_type(content_type: str) -> str:
    return MEDIA_TYPES.get(content_type.split("/")[0], "file")


def _media_url(item: str | HeldMedia, settings: Settings) -> str:
    """A link as given; a file the stand-in holds at its public `/media/` on
    VONAGE_MESSAGES_API_URL's origin (Vonage's own are `api-us.nexmo.com/v3/media/{id}`), fetched
    without credentials as Vonage's are."""
    if isinstance(item, str):
        return item
    return f"{api_origin(MEDIA.api_url(settings))}/media/{item.media_id}"
