"""Meta WhatsApp Cloud API: the `messages` webhook of a WhatsApp Business Account.

Wire format (research/providers.md §2): Meta checks the callback URL once with a GET
(`hub.mode=subscribe`, `hub.verify_token`, `hub.challenge`) and expects the challenge back, then
POSTs JSON signed with `X-Hub-Signature-256`, an HMAC-SHA256 of the raw body keyed by the app
secret. One POST may batch entries (one per WABA) × changes × `messages[]` and `statuses[]`:
inbound messages and delivery reports share the one URL. Media arrive as ids resolved with the
access token.

Structural damage (a missing message id, an `entry` that is not a list) refuses the whole request
with the field's path. A message whose *content* cannot be read is still returned, with `problem`
set: Meta retries a refused request for days, and the other messages of its batch with it.

Replies go out through `POST {WHATSAPP_API_URL}/{phone-number-id}/messages`, from the number the
customer wrote to; their delivery reports come back as `statuses[]` on the same webhook.

The modules: `adapter` (handshake, signature, the batch walk, media), `inbound` (a `messages[]`
item: its sender, contact and problems), `content` (what each message type says), `statuses`
(`statuses[]` as delivery reports), `errors` (Meta's `errors[]` objects, read by both), `send`
(replies through the Cloud API), `failures` (error codes explained for agents).
"""

from __future__ import annotations

from bridge.providers.whatsapp.adapter import (
    MEDIA_HOST_SUFFIXES,
    MESSAGES_FIELD,
    OBJECT,
    SIGNATURE_HEADER,
    WhatsAppAdapter,
)
from bridge.providers.whatsapp.content import (
    CONTENT_READERS,
    INTERACTIVE_READERS,
    MEDIA_TYPES,
    SYSTEM_NEW_ID_FIELDS,
)
from bridge.providers.whatsapp.failures import FAILURE_REASONS
from bridge.providers.whatsapp.send import MEDIA_TYPE_BY_EXTENSION, SEND_LIMITS, THROTTLING_CODES
from bridge.providers.whatsapp.statuses import STATUS_MAP

__all__ = [
    "CONTENT_READERS",
    "FAILURE_REASONS",
    "INTERACTIVE_READERS",
    "MEDIA_HOST_SUFFIXES",
    "MEDIA_TYPES",
    "MEDIA_TYPE_BY_EXTENSION",
    "MESSAGES_FIELD",
    "OBJECT",
    "SEND_LIMITS",
    "SIGNATURE_HEADER",
    "STATUS_MAP",
    "SYSTEM_NEW_ID_FIELDS",
    "THROTTLING_CODES",
    "WhatsAppAdapter",
]
