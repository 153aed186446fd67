"""Meta's WhatsApp Cloud API webhook, as Meta sends it: compact JSON signed with
`X-Hub-Signature-256` (HMAC-SHA256 of the raw body, keyed by `WHATSAPP_APP_SECRET`).

The customer's number goes out as Meta writes it, international digits without `+`. The
recipient stands for the business phone number: it becomes `metadata.phone_number_id` (what the
bridge replies through) as given, and the display number without `+`. WhatsApp carries one
attachment per message, so each media URL becomes an image message of its own, the text riding
as the first one's caption; the media id is the URL's last path segment, so a stand-in Graph API
can serve `GET /{media-id}` from it.
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
from bridge.dev.simulators.base import SimulatedMessage, SimulatedRequest

PATH = "/webhooks/whatsapp"
WABA_ID = "102290129340398"  # the WhatsApp Business Account id of Meta's own example


def inbound(message: SimulatedMessage, base_url: str, settings: Settings) -> SimulatedRequest:
    """The JSON Meta posts for `message`, signed with `WHATSAPP_APP_SECRET`."""
    wa_id = message.sender.lstrip("+")
    message_id = message.message_id or _wamid()
    timestamp = str(int(time.time()))
    common = {"from": wa_id, "timestamp": timestamp}
    if message.media:
        items = [
            {
                **common,
                "id": message_id if index == 0 else f"{message_id}.{index}",
                "type": "image",
                "image": _image(url, caption=message.text if index == 0 else ""),
            }
            for index, url in enumerate(message.media)
        ]
    else:
        items = [{**common, "id": message_id, "type": "text", "text": {"body": message.text}}]
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


def _image(url: str, *, caption: str) -> dict[str, str]:
    media_id = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1] or sha256_hex(url)[:16]
    # Meta's `sha256` hashes the file, which the simulator does not have: the URL's stands in.
    image = {"mime_type": _guess_type(url), "sha256": sha256_hex(url), "id": media_id}
    if caption:
        image["caption"] = caption
    return image


def _wamid() -> str:
    return "wamid." + secrets.token_urlsafe(36)


def _guess_type(url: str) -> str:
    lowered = urlsplit(url).path.lower()
    for suffix, content_type in ((".png", "image/png"), (".webp", "image/webp"), (".gif", "image/gif")):
        if lowered.endswith(suffix):
            return content_type
    return "image/jpeg"
