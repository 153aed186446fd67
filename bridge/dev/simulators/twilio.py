"""Twilio's inbound webhook, as Twilio sends it: a signed form POST (SMS, MMS, WhatsApp)."""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from bridge.core.settings import Settings
from bridge.dev.simulators.base import HeldMedia, MediaHolder, SimulatedMessage, SimulatedRequest

PATH = "/webhooks/twilio"
# A message's media are Media resources under it on Twilio's API, `ME` and 32 hex digits.
MEDIA = MediaHolder(
    api_url=lambda settings: settings.twilio_api_url, new_id=lambda: "ME" + secrets.token_hex(16)
)


def inbound(message: SimulatedMessage, base_url: str, settings: Settings) -> SimulatedRequest:
    """The form Twilio posts for `message`, signed with `TWILIO_AUTH_TOKEN`."""
    account_sid = settings.twilio_account_sid or "AC" + "0" * 32
    prefix = "MM" if message.media else "SM"
    sid = message.message_id or prefix + secrets.token_hex(16)
    sender, recipient = message.sender, message.recipient
    params: list[tuple[str, str]] = [
        ("ToCountry", "US"),
        ("SmsMessageSid", sid),
        ("NumMedia", str(len(message.media))),
        ("SmsSid", sid),
        ("SmsStatus", "received"),
        ("Body", message.text),
        ("To", f"whatsapp:{recipient}" if message.whatsapp else recipient),
        ("NumSegments", "1"),
        ("MessageSid", sid),
        ("AccountSid", account_sid),
        ("From", f"whatsapp:{sender}" if message.whatsapp else sender),
        ("ApiVersion", "2010-04-01"),
    ]
    for index, item in enumerate(message.media):
        if isinstance(item, HeldMedia):
            # Where Twilio keeps a message's media: its API, under the message (the bridge fetches
            # them with the account's credentials, from TWILIO_API_URL's origin).
            api_url = MEDIA.api_url(settings).rstrip("/")
            media_url = f"{api_url}/2010-04-01/Accounts/{account_sid}/Messages/{sid}/Media/{item.media_id}"
            params.append((f"MediaUrl{index}", media_url))
            params.append((f"MediaContentType{index}", item.content_type))
        else:
            params.append((f"MediaUrl{index}", item))
            params.append((f"MediaContentType{index}", _guess_type(item)))
    if message.whatsapp:
        params.append(("WaId", sender.lstrip("+")))
        if message.profile_name:
            params.append(("ProfileName", message.profile_name))
    url = base_url.rstrip("/") + PATH
    signature = RequestValidator(settings.secret("twilio_auth_token")).compute_signature(url, dict(params))
    return SimulatedRequest(
        url=url,
        body=urlencode(params).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
        },
    )


def _guess_type(url: str) -> str:
    lowered = url.lower()
    for suffix, content_type in (
        (".png", "image/png"),
        (".gif", "image/gif"),
        (".mp4", "video/mp4"),
        (".pdf", "application/pdf"),
        (".ogg", "audio/ogg"),
    ):
        if lowered.endswith(suffix):
            return content_type
    return "image/jpeg"
