"""MessageBird's inbound webhooks, as MessageBird sends them, signed with `MessageBird-Signature-JWT`.

SMS and MMS come as a number's classic "forward to URL" form POST; WhatsApp as a Conversations API
`message.created` event. Both are signed the way MessageBird signs (python SDK `RequestValidator`):
an HS256 JWT keyed by `MESSAGEBIRD_SIGNING_KEY`, valid 60 seconds, bound to the URL and the body.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import jwt

from bridge.core.settings import Settings
from bridge.core.signing import sha256_hex
from bridge.dev.simulators.base import HeldMedia, MediaHolder, SimulatedMessage, SimulatedRequest, api_origin

PATH = "/webhooks/messagebird"
# How long MessageBird's tokens are valid (exp - nbf in every vector of the python SDK).
TOKEN_LIFETIME = 60
# Conversations API content type by the attachment's file extension; images otherwise.
CONTENT_TYPES = {".mp4": "video", ".ogg": "audio", ".mp3": "audio", ".pdf": "file"}
# The same by a file's content type family; anything else is a file.
CONTENT_KINDS = {"image": "image", "video": "video", "audio": "audio"}
# MessageBird names media by UUID.
MEDIA = MediaHolder(api_url=lambda settings: settings.messagebird_api_url, new_id=lambda: str(uuid.uuid4()))


def inbound(message: SimulatedMessage, base_url: str, settings: Settings) -> SimulatedRequest:
    """The request MessageBird sends for `message`, signed with `MESSAGEBIRD_SIGNING_KEY`."""
    url = base_url.rstrip("/") + PATH
    now = int(time.time())
    if message.whatsapp:
        body, content_type = (
            json.dumps(_conversation_event(message, now, settings)).encode(),
            "application/json",
        )
    else:
        body, content_type = (
            urlencode(_sms_form(message, now, settings)).encode(),
            "application/x-www-form-urlencoded",
        )
    return SimulatedRequest(
        url=url,
        body=body,
        headers={
            "Content-Type": content_type,
            "MessageBird-Signature-JWT": signature(
                url, body, settings.secret("messagebird_signing_key"), now
            ),
        },
    )


def signature(url: str, body: bytes, signing_key: str, now: int) -> str:
    """`MessageBird-Signature-JWT` for a request to `url` carrying `body`, issued at `now`."""
    claims: dict[str, Any] = {
        "iss": "MessageBird",
        "nbf": now,
        "exp": now + TOKEN_LIFETIME,
        "jti": str(uuid.uuid4()),
        "url_hash": sha256_hex(url),
    }
    if body:  # MessageBird leaves payload_hash out when there is no body
        claims["payload_hash"] = sha256_hex(body)
    return jwt.encode(claims, signing_key, algorithm="HS256")


def _sms_form(message: SimulatedMessage, now: int, settings: Settings) -> list[tuple[str, str]]:
    """A number's forward: international digits without `+` (research/providers.md §4.1)."""
    params = [
        ("id", message.message_id or uuid.uuid4().hex),
        ("recipient", message.recipient.lstrip("+")),
        ("originator", message.sender.lstrip("+")),
        ("body", message.text),
        ("createdDatetime", _rfc3339(now)),
    ]
    params += [("mediaUrls", _media_url(item, settings)) for item in message.media]
    return params


def _conversation_event(message: SimulatedMessage, now: int, settings: Settings) -> dict[str, Any]:
    """A `message.created` event of a WhatsApp channel (developers.messagebird.com, "Programmatically
    handle inbound messages"). A WhatsApp message carries one attachment: only the first is sent,
    with the text as its caption."""
    digits = message.sender.lstrip("+")
    created = _rfc3339(now)
    contact_id, conversation_id = _stable_id("contact", digits), _stable_id("conversation", digits)
    kind: str = "text"
    content: dict[str, Any] = {"text": message.text}
    if message.media:
        first = message.media[0]
        kind = (
            CONTENT_KINDS.get(first.content_type.partition("/")[0], "file")
            if isinstance(first, HeldMedia)
            else CONTENT_TYPES.get(_extension(first), "image")
        )
        media = {"url": _media_url(first, settings)}
        if message.text:
            media["caption"] = message.text
        content = {kind: media}
    return {
        "type": "message.created",
        "contact": {
            "id": contact_id,
            "href": f"https://contacts.messagebird.com/v2/contacts/{contact_id}",
            "msisdn": int(digits) if digits.isdigit() else digits,
            "displayName": message.profile_name or digits,
            "firstName": "",
            "lastName": "",
            "customDetails": {},
            "attributes": {},
            "createdDatetime": created,
            "updatedDatetime": created,
        },
        "conversation": {
            "id": conversation_id,
            "contactId": contact_id,
            "status": "active",
            "createdDatetime": created,
            "updatedDatetime": created,
            "lastReceivedDatetime": created,
        },
        "message": {
            "id": message.message_id or uuid.uuid4().hex,
            "conversationId": conversation_id,
            "platform": "whatsapp",
            "to": message.recipient.lstrip("+"),
            "from": digits,
            # The business's channel: stable per recipient number, so replies find their thread.
            "channelId": _stable_id("channel", message.recipient),
            "type": kind,
            "content": content,
            "direction": "received",
            "status": "received",
            "createdDatetime": created,
            "updatedDatetime": created,
        },
    }


def _media_url(item: str | HeldMedia, settings: Settings) -> str:
    """A link as given; a file the stand-in holds at its public `/media/` on MESSAGEBIRD_API_URL's
    origin (MessageBird's own is `media.messagebird.com/v1/media/{id}`), fetched with the access key."""
    if isinstance(item, str):
        return item
    return f"{api_origin(MEDIA.api_url(settings))}/media/{item.media_id}"


def _stable_id(kind: str, value: str) -> str:
    return hashlib.md5(f"{kind}:{value}".encode(), usedforsecurity=False).hexdigest()


def _extension(url: str) -> str:
    path = url.lower().split("?", 1)[0]
    return path[path.rfind(".") :] if "." in path.rsplit("/", 1)[-1] else ""


def _rfc3339(now: int) -> str:
    return datetime.fromtimestamp(now, UTC).isoformat()
