"""Bird's Channels API: `{"service": "channels", "event": "{platform}.inbound", "payload": {...}}`,
signed with `messagebird-signature`.

The signature is the base64 HMAC-SHA256 of `timestamp \\n URL \\n sha256(body)`, keyed by the
webhook subscription's signing key (docs.bird.com "Verifying a webhook subscription").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from bridge.core import freshness, signing
from bridge.core.errors import MalformedPayload, SignatureInvalid
from bridge.core.json_payloads import JsonNode
from bridge.core.settings import Settings
from bridge.model.messages import Channel, InboundMessage, Media
from bridge.model.senders import sender_problem
from bridge.providers.base import WebhookContent, WebhookRequest
from bridge.providers.messagebird.common import NAME, Content, ContentReader, read_content, sender

SIGNATURE_HEADER = "messagebird-signature"
TIMESTAMP_HEADER = "messagebird-request-timestamp"


def verify_signature(request: WebhookRequest, secret: str, *, now: float, settings: Settings) -> None:
    """Raise `SignatureInvalid` unless `messagebird-signature` signs this request.

    Bird documents no tolerance on the timestamp (unix seconds: "1719823259" in the sample its
    support published) and retries for 8 hours, so a short one would refuse its retries. A replayed message
    is deduplicated by its id only while the ledger remembers it, so the timestamp must be within
    `bridge.core.freshness`' window: older, the ledger may have forgotten it (`SignatureOutOfWindow`)."""
    stamp = request.headers.get(TIMESTAMP_HEADER, "")
    if not stamp:
        raise SignatureInvalid(f"{TIMESTAMP_HEADER} is missing")
    try:
        given = base64.b64decode(request.headers.get(SIGNATURE_HEADER, ""), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureInvalid(f"{SIGNATURE_HEADER} is not base64") from exc
    signed = f"{stamp}\n{request.url}\n".encode() + hashlib.sha256(request.body).digest()
    if not signing.equal(given, hmac.new(secret.encode(), signed, hashlib.sha256).digest()):
        raise SignatureInvalid(f"{SIGNATURE_HEADER} does not match the request")
    sent_at = freshness.signed_time(stamp, what=TIMESTAMP_HEADER)
    freshness.check_signed_time(sent_at, now=now, settings=settings, what=TIMESTAMP_HEADER)


def event(data: JsonNode, request: WebhookRequest, settings: Settings) -> WebhookContent:
    """Bird's `{platform}.inbound` events (docs.bird.com "Receiving messages"); its status
    events are not parsed: their fields are not confirmed."""
    platform, _, kind = (data.text("event") or "").partition(".")
    payload = data.required_object("payload")
    if kind != "inbound" or payload.text("direction") not in (None, "", "incoming"):
        return WebhookContent()
    # A WhatsApp user with a username may come without a phone number, known by the BSUID Bird
    # puts in meta.extraInformation.whatsappbsuid (docs.bird.com "Business-Scoped User IDs").
    bsuid = payload.nested("meta", "extraInformation", "whatsappbsuid")
    raw = payload.nested("sender", "contact", "identifierValue") or bsuid
    if not raw:
        raise MalformedPayload("payload.sender.contact.identifierValue is missing")
    customer = sender(raw, settings)
    aliases = (sender(bsuid, settings),) if bsuid and bsuid != raw else ()
    body = payload.object("body")
    kind = (body.text("type") if body else None) or ""
    text, media, problem = read_content(CHANNELS_CONTENT, kind, body, "Bird")
    message = InboundMessage(
        provider=NAME,
        channel=Channel.WHATSAPP if platform == "whatsapp" else Channel.SMS,
        provider_message_id=payload.required("id").strip(),
        sender=customer,
        business_number=payload.required("channelId").strip(),
        text=text,
        media=media,
        profile_name=payload.nested("sender", "contact", "annotations", "name") or None,
        received_at=payload.time("createdAt", default=request.received_at),
        aliases=aliases,
        problem=problem or sender_problem(customer),
    )
    return WebhookContent(messages=(message,))


def _text(body: JsonNode) -> Content:
    return body.nested("text", "text") or "", ()


def _images(body: JsonNode) -> Content:
    """`body.image.images[].mediaUrl`, seen in real payloads (research §4.4; not in Bird's pages)."""
    image = body.object("image")
    items = image.objects("images") if image else []
    media = tuple(Media(url=url) for item in items if (url := item.text("mediaUrl")))
    if image is None or not media:
        raise MalformedPayload("body.image.images has no mediaUrl")
    return image.text("text") or "", media


def _files(body: JsonNode) -> Content:
    """Bird sends audio, video, documents and stickers as `body.file.files[]` with a contentType."""
    file = body.object("file")
    items = file.objects("files") if file else []
    media = tuple(
        Media(url=url, content_type=item.text("contentType") or None, filename=item.text("filename") or None)
        for item in items
        if (url := item.text("mediaUrl"))
    )
    if file is None or not media:
        raise MalformedPayload("body.file.files has no mediaUrl")
    return file.text("text") or "", media


# Content type -> how to read it; a type missing here is stored with a problem, never dropped.
CHANNELS_CONTENT: dict[str, ContentReader] = {
    "text": _text,
    "image": _images,
    "file": _files,
}
