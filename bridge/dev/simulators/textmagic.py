"""TextMagic's incoming-message callback, as TextMagic sends it: the reply resource (`MessageIn`)
POSTed in the account's callback format to a URL carrying `?token=` (TextMagic signs nothing)."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlencode

from bridge.core.errors import ConfigurationError
from bridge.core.settings import Settings
from bridge.dev.simulators.base import SimulatedMessage, SimulatedRequest

PATH = "/webhooks/textmagic"
# The account setting `format`: m multipart/form-data (the v1 default), u urlencoded, j JSON.
CallbackFormat = Literal["multipart", "urlencoded", "json"]


def inbound(
    message: SimulatedMessage,
    base_url: str,
    settings: Settings,
    *,
    callback_format: CallbackFormat = "multipart",
) -> SimulatedRequest:
    """The callback TextMagic posts for `message`, to a URL carrying `TEXTMAGIC_WEBHOOK_SECRET`."""
    if message.media or message.whatsapp:
        raise ConfigurationError("TextMagic carries SMS only: no media, no WhatsApp")
    token = settings.secret("textmagic_webhook_secret")
    message_id = message.message_id or str(1_000_000 + secrets.randbelow(9_000_000_000))
    # TextMagic writes numbers as international digits without `+`.
    fields: dict[str, str | int] = {
        "id": int(message_id) if message_id.isdigit() else message_id,
        "sender": message.sender.lstrip("+"),
        "receiver": message.recipient.lstrip("+"),
        "messageTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"),
        "text": message.text,
    }
    if message.profile_name:
        first_name, _, last_name = message.profile_name.partition(" ")
        fields |= {"contactId": secrets.randbelow(10_000_000), "firstName": first_name, "lastName": last_name}
    body, content_type = _encode(fields, callback_format)
    return SimulatedRequest(
        url=f"{base_url.rstrip('/')}{PATH}?{urlencode({'token': token})}",
        body=body,
        headers={"Content-Type": content_type},
    )


def _encode(fields: dict[str, str | int], callback_format: CallbackFormat) -> tuple[bytes, str]:
    if callback_format == "json":
        return json.dumps(fields).encode(), "application/json"
    if callback_format == "urlencoded":
        return urlencode(fields).encode(), "application/x-www-form-urlencoded"
    boundary = secrets.token_hex(16)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    body = "".join(parts) + f"--{boundary}--\r\n"
    return body.encode(), f"multipart/form-data; boundary={boundary}"
