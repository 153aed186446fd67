"""Meta's WhatsApp Cloud API webhook, as Meta sends it: compact JSON signed with
`X-Hub-Signature-256` (HMAC-SHA256 of the raw body, keyed by `WHATSAPP_APP_SECRET`).

The customer's number goes out as Meta writes it, international digits without `+`. The
recipient stands for the business phone number: it becomes `metadata.phone_number_id` (what the
bridge replies through) as given, and the display number without `+`. WhatsApp carries one
attachment per message, so each attachment becomes a message of its own, the text riding as the
first one's caption. A file held by the stand-in (`HeldMedia`) goes as Meta names it: its media id,
type, `sha256` and (a document) file name, which the bridge resolves through the stand-in's Graph
API. A link becomes an image whose media id is the link's last path segment, so a stand-in Graph
API can serve `GET /{media-id}` from it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from bridge.core.settings import Settings
from bridge.core.signing import hmac_hex, sha256_hex
from bridge.dev.simulators.base import HeldMedia, MediaHolder, SimulatedMessage, SimulatedRequest

PATH = "/webhooks/whatsapp"
WABA_ID = "102290129340398"  # the WhatsApp Business Account id of Meta's own example
# A file's message type by its content type's family; anything else is a document.
MEDIA_KINDS = {"image": "image", "video": "video", "audio": "audio"}
# The types a customer can caption (Meta's webhook reference: not audio).
CAPTIONED = frozenset({"image", "video", "document"})
# Meta's media ids are numbers (`1037543291543636`); its Graph API resolves one to a short-lived URL.
MEDIA = MediaHolder(
    api_url=lambda settings: settings.whatsapp_api_url,
    new_id=lambda: str(10**15 + secrets.randbelow(9 * 10**15)),
)


def inbound(message: SimulatedMessage, base_url: str, settings: Settings) -> SimulatedRequest:
    """The JSON Meta posts for `message`, signed with `WHATSAPP_APP_SECRET`."""
    wa_id = message.sender.lstrip("+")
    message_id = message.message_id or _wamid()
    timestamp = str(int(time.time()))
    common = {"from": wa_id, "timestamp": timestamp}
    items = [
        {**common, "id": message_id if index == 0 else f"{message_id}.{index}", **content}
        for index, content in enumerate(_contents(message))
    ]
    contact: dict[str, Any] = {"wa_id": wa_id}
    if message.profile_name:
        contact["profile"] = {"name": message.profile_name}
    value = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": message.recipient.lstrip("+"),
            "phone_number_id": message.recipient,
        },
        "contacts": [contact],
        "messages": items,
    }
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"value": value, "field": "messages"}]}],
    }
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    signature = "sha256=" + hmac_hex(settings.secret("whatsapp_app_secret"), body, hashlib.sha256)
    return SimulatedRequest(
        url=base_url.rstrip("/") + PATH,
        body=body,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": signature,
            "User-Agent": "facebookexternalua",
        },
    )


def _contents(message: SimulatedMessage) -> list[dict[str, Any]]:
    """Each message's type and content object: one per attachment, the text riding as the first
    one's caption, or a text message of its own when there is no attachment or it takes none."""
    contents = [_media_content(item) for item in message.media]
    if message.text and contents and contents[0]["type"] in CAPTIONED:
        contents[0][contents[0]["type"]]["caption"] = message.text
    elif message.text or not contents:
        contents.insert(0, {"type": "text", "text": {"body": message.text}})
    return contents


def _media_content(item: str | HeldMedia) -> dict[str, Any]:
    if isinstance(item, str):
        media_id = urlsplit(item).path.rstrip("/").rsplit("/", 1)[-1] or sha256_hex(item)[:16]
        # Meta's `sha256` hashes the file, which the simulator does not have: the URL's stands in.
        return {
            "type": "image",
            "image": {"mime_type": _guess_type(item), "sha256": sha256_hex(item), "id": media_id},
        }
    kind = MEDIA_KINDS.get(item.content_type.partition("/")[0], "document")
    media = {"mime_type": item.content_type, "sha256": item.sha256, "id": item.media_id}
    if kind == "document":
        media["filename"] = item.filename
    return {"type": kind, kind: media}


def _wamid() -> str:
    return "wamid." + secrets.token_urlsafe(36)


def _guess_type(url: str) -> str:
    lowered = urlsplit(url).path.lower()
    for suffix, content_type in ((".png", "image/png"), (".webp", "image/webp"), (".gif", "image/gif")):
        if lowered.endswith(suffix):
            return content_type
    return "image/jpeg"
