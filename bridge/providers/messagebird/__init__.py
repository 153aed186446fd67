"""MessageBird / Bird: classic SMS/MMS forwarding, the Conversations API, and Bird's Channels API.

Three generations of one provider reach the same route (research/providers.md §4):
- classic number forwarding: a form POST, or a GET with the same fields in the query, naming the
  sender `originator` (international digits without `+`, or an alphanumeric id): `classic`;
- the Conversations API (WhatsApp and SMS channels): JSON `{type, contact, conversation, message}`:
  `conversations`;
- Bird's Channels API: JSON `{"service": "channels", "event": "sms.inbound", "payload": {...}}`:
  `channels`, with Bird's own signature.

`adapter` wires them behind the one `ProviderAdapter` interface; `common` holds what they share.
Replies leave through `send` (the SMS API or the Conversations API, by the channel written to);
`failures` explains MessageBird's error codes to agents.

In the JSON generations, structural damage (a missing message id, a `contact` or `payload.body`
that is not an object, a field of the wrong JSON type) refuses the request naming the field's
path (`json_payloads.JsonNode`). Content a reader cannot read (an image without a URL, a type the
bridge does not read) keeps the message, with the reason as its problem.
"""

from __future__ import annotations

from bridge.providers.messagebird.adapter import MessageBirdAdapter

__all__ = ["MessageBirdAdapter"]
