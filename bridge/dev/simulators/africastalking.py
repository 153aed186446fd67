"""Africa's Talking's incoming-message callback, as it sends it: a form POST to a URL carrying
`?token=` (Africa's Talking signs nothing)."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from urllib.parse import urlencode

from bridge.core.errors import ConfigurationError
from bridge.core.settings import Settings
from bridge.dev.simulators.base import SimulatedMessage, SimulatedRequest

PATH = "/webhooks/africastalking"


def inbound(message: SimulatedMessage, base_url: str, settings: Settings) -> SimulatedRequest:
    """The form Africa's Talking posts for `message`, to a URL carrying AFRICASTALKING_WEBHOOK_SECRET."""
    if message.media or message.whatsapp:
        raise ConfigurationError("Africa's Talking carries SMS only: no media, no WhatsApp")
    token = settings.secret("africastalking_webhook_secret")
    # The field order of courier's captured request (samples/africastalking_sms_inbound_courier.form).
    params = [
        ("linkId", str(secrets.randbelow(10**20)).zfill(20)),
        ("text", message.text),
        ("to", message.recipient),
        ("id", message.message_id or str(uuid.uuid4())),
        ("date", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")),
        ("from", message.sender),
    ]
    return SimulatedRequest(
        url=f"{base_url.rstrip('/')}{PATH}?{urlencode({'token': token})}",
        body=urlencode(params).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
