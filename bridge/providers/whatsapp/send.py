"""Replies through Meta's Cloud API: `POST {WHATSAPP_API_URL}/{phone-number-id}/messages`.

The request, as Meta documents it (developers.facebook.com/documentation/business-messaging/
whatsapp/messages/text-messages, …/image-messages, …/document-messages, …/audio-messages):
Bearer access token, JSON `{"messaging_product": "whatsapp", "recipient_type": "individual",
"to": <digits>, "type": …, <type>: {…}}`; the answer `{"messaging_product", "contacts": [...],
"messages": [{"id": "wamid…"}]}`. A customer known only by a business-scoped user id (BSUID, a
username user) is addressed with `recipient` instead of `to` (nyaruka/courier
`RecipientFields`; dualhook.com "BSUID API and sending changes": `to` wins when both are sent).
No per-message status callback exists: statuses come to the app's one webhook.

One bridge message may take two API calls. The planner hands the text and the attachment of a
reply together, but a caption holds 1024 characters where a text holds 4096, and audio takes no
caption at all: then the attachment goes first without a caption and the text follows as its own
message (splitting the text instead would cut the agent's words mid-thought). The id returned is
the attachment's, whose delivery reports can fail for more reasons (a link Meta cannot fetch,
131053) than plain text. If the second call fails after the first succeeded, the job's retry
sends the attachment again: a repeated attachment, rather than text silently dropped.

Errors are Graph's `{"error": {"message", "type", "code", "error_data": {"details"},
"fbtrace_id"}}` (…/whatsapp/support/error-codes). Meta answers some throttles with 400, not 429
(`THROTTLING_CODES`); those raise `ProviderRateLimited` at once rather than after sub-second
quick retries: their windows are seconds (pair rate, 131056) to an hour (app limits, 4/80007),
and hammering a spam limit (131048) only deepens it. The job's own retries
(`BRIDGE_RETRY_DELAYS`, 5 s to 30 min) are the right scale.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx

from bridge.errors import ConfigurationError, ProviderRateLimited, ProviderRejected
from bridge.logs import mask_number
from bridge.messages import Channel
from bridge.outgoing import OutboundMessage, SendLimits, Template
from bridge.providers.base import api_call
from bridge.retrying import RetryPolicy
from bridge.settings import Settings, env_name

log = logging.getLogger(__name__)

PROVIDER = "whatsapp"

# Meta: "Body text … Maximum 4096 characters" (text-messages); one attachment per message.
SEND_LIMITS: Mapping[Channel, SendLimits] = {
    Channel.WHATSAPP: SendLimits(max_text=4096, media=True, max_media=1),
}
# Meta: "Media asset caption text. Maximum 1024 characters." (image- and document-messages).
MAX_CAPTION = 1024

# A BSUID: two-letter country, `ENT.` for a parent id, then alphanumerics (research §2.2, §2.5).
BSUID = re.compile(r"^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]+$")

# The media type an attachment travels as, by the URL's extension: the URL is all a reply carries,
# and Meta fetches the link and checks the bytes itself. Meta's supported types: image JPEG/PNG
# (5 MB), video MP4/3GPP (16 MB), audio AAC/AMR/MP3/M4A/OGG-Opus (16 MB) (…/audio-messages, AWS
# End User Messaging "supported media types", a copy of Meta's table). Anything else (PDF, Office,
# GIF, WebP, HEIC…) goes as a document, a file the customer downloads, so it still arrives.
MEDIA_TYPE_BY_EXTENSION: Mapping[str, str] = {
    "jpg": "image",
    "jpeg": "image",
    "png": "image",
    "mp4": "video",
    "3gp": "video",
    "3gpp": "video",
    "aac": "audio",
    "amr": "audio",
    "mp3": "audio",
    "m4a": "audio",
    "ogg": "audio",
}
DOCUMENT = "document"
# Audio takes no `caption` (Meta's audio request syntax has only id/link/voice).
CAPTIONED_TYPES = frozenset({"image", "video", DOCUMENT})

# Graph codes that mean "slow down", whatever the HTTP status: app call limit (4), WABA rate limit
# (80007), Cloud API throughput (130429), spam-rate limit (131048), pair rate limit (131056),
# (de)registration limit (133016). nyaruka/courier `WACThrottlingErrorCodes`, research §2.5.
THROTTLING_CODES = frozenset({"4", "80007", "130429", "131048", "131056", "133016"})


def send_limits(message: OutboundMessage) -> SendLimits:
    """What one message carries on `message`'s channel; WhatsApp is the only one Meta sends."""
    limits = SEND_LIMITS.get(message.channel)
    if limits is None:
        raise _refused(f"Meta's Cloud API sends WhatsApp only, not {message.channel}")
    return limits


def send(message: OutboundMessage, settings: Settings, http: httpx.Client, policy: RetryPolicy) -> str:
    """Send `message`; the `wamid` of its first Cloud API message (see the module docstring)."""
    bodies = request_bodies(message)
    if not message.sender:
        raise _refused("no phone-number id to send from")
    token = settings.secret("whatsapp_access_token")
    if not token.strip():
        raise ConfigurationError(f"{env_name('whatsapp_access_token')} is empty")
    url = f"{settings.whatsapp_api_url.rstrip('/')}/{quote(message.sender, safe='')}/messages"
    headers = {"Authorization": f"Bearer {token}"}
    if len(bodies) > 1:
        log.info("whatsapp: the reply goes out as %d messages (attachment, then its text)", len(bodies))
    ids = [_post(http, url, body, headers=headers, policy=policy, recipient=message.to) for body in bodies]
    return ids[0]


def request_bodies(message: OutboundMessage) -> list[dict[str, Any]]:
    """The Cloud API message objects that carry `message`, in sending order.

    A template replaces text and attachments: it is what may be sent outside the 24-hour window,
    and the bridge's `Template` carries no variables for them."""
    limit = send_limits(message).max_text  # refuses a channel Meta does not carry
    base: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
    base |= recipient_fields(message.to)
    if message.template is not None:
        return [base | template_body(message.template)]
    text = message.text
    if len(text) > limit:
        raise _refused(f"the text is {len(text)} characters; WhatsApp takes {limit} per message")
    if not message.media_urls:
        if not text.strip():
            raise _refused("nothing to send: no text, media or template")
        return [base | text_body(text)]
    media = [media_object(url) for url in message.media_urls]
    # Only a lone attachment carries the text, and only when it fits the caption and takes one.
    captioned = len(media) == 1 and media[0][0] in CAPTIONED_TYPES and len(text) <= MAX_CAPTION
    bodies = []
    for kind, fields in media:
        if captioned and text.strip():
            fields = fields | {"caption": text}
        bodies.append(base | {"type": kind, kind: fields})
    if text.strip() and not captioned:
        bodies.append(base | text_body(text))
    return bodies


def recipient_fields(to: str) -> dict[str, str]:
    """`to` for a phone number (digits exactly as Meta gave them), `recipient` for a BSUID."""
    return {"recipient": to} if BSUID.match(to) else {"to": to}


def text_body(text: str) -> dict[str, Any]:
    # preview_url: the client renders a preview of a link in the text (and ignores it without one).
    return {"type": "text", "text": {"body": text, "preview_url": True}}


def template_body(template: Template) -> dict[str, Any]:
    """`Template.name` is the name of a template approved in WhatsApp Manager, `language` one of
    its approved language codes (`en_US`)."""
    return {"type": "template", "template": {"name": template.name, "language": {"code": template.language}}}


def media_object(url: str) -> tuple[str, dict[str, str]]:
    """The message type an attachment travels as and its media object (a document keeps its
    file name, which also picks the icon the customer sees)."""
    name = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    kind = MEDIA_TYPE_BY_EXTENSION.get(extension, DOCUMENT)
    fields = {"link": url}
    if kind == DOCUMENT and name:
        fields["filename"] = name
    return kind, fields


def read_error(response: httpx.Response, *, recipient: str = "") -> tuple[str | None, str]:
    """Graph's error code (a number, read as text) and its message with the details; the
    recipient's number masked, should Meta echo it."""
    try:
        data = response.json()
    except ValueError:
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None, response.reason_phrase or f"HTTP {response.status_code}"
    code = error.get("code")
    code_text = str(code) if isinstance(code, int | str) and not isinstance(code, bool) else None
    error_data = error.get("error_data")
    parts = [error.get("message"), error_data.get("details") if isinstance(error_data, dict) else None]
    texts = [part for part in parts if isinstance(part, str) and part]
    text = ": ".join(part for index, part in enumerate(texts) if part not in texts[:index])
    text = text or response.reason_phrase or f"HTTP {response.status_code}"
    if recipient:
        text = text.replace(recipient, mask_number(recipient))
    return code_text, text


def _refused(reason: str) -> ProviderRejected:
    """A message the bridge will not send as it is (no provider code: Meta never saw it)."""
    return ProviderRejected(provider=PROVIDER, code=None, message=reason)


def _post(
    http: httpx.Client,
    url: str,
    body: dict[str, Any],
    *,
    headers: dict[str, str],
    policy: RetryPolicy,
    recipient: str,
) -> str:
    try:
        response = api_call(
            http,
            "POST",
            url,
            provider=PROVIDER,
            policy=policy,
            error=lambda answer: read_error(answer, recipient=recipient),
            json=body,
            headers=headers,
        )
    except ProviderRejected as exc:
        if exc.code in THROTTLING_CODES:
            raise ProviderRateLimited(
                f"whatsapp throttled the send (Graph code {exc.code}, HTTP {exc.status}): {exc.message}"
            ) from exc
        raise
    return _message_id(response)


def _message_id(response: httpx.Response) -> str:
    """`messages[0].id` of Meta's answer. A 2xx without one is refused, not retried: the message
    may have gone out, and a retry could send it twice."""
    try:
        data = response.json()
    except ValueError:
        data = None
    messages = data.get("messages") if isinstance(data, dict) else None
    first = messages[0] if isinstance(messages, list) and messages else None
    message_id = first.get("id") if isinstance(first, dict) else None
    if not isinstance(message_id, str) or not message_id:
        raise ProviderRejected(
            provider=PROVIDER,
            code=None,
            message="Meta accepted the send but answered no messages[0].id",
            status=response.status_code,
        )
    return message_id
