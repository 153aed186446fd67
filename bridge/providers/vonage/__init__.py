"""Vonage (ex-Nexmo): the SMS API and the Messages API (SMS, MMS, WhatsApp) on one route.

Two wire formats reach `/webhooks/vonage` (research/providers.md §3), told apart per request:
- SMS API: flat parameters (`msisdn`, `to`, `messageId`, `text`) as a GET query, a form POST or a
  flat JSON POST (the dashboard's webhook format), signed with a `sig` parameter: a hash of the
  sorted parameters and the signature secret (`md5hash`, or an MD5/SHA-1/SHA-256/SHA-512 HMAC).
  A long SMS arrives in parts (`concat-*`); each part carries a `Fragment` and the core joins them.
- Messages API: a JSON POST with `message_uuid` and `channel`, signed with `Authorization: Bearer`,
  an HS256 JWT keyed by the same signature secret whose `payload_hash` claim binds the body.
Delivery reports of both APIs come to `/webhooks/vonage/status` in the same two shapes. Vonage
wants any 2xx back; the default JSON acknowledgement will do.

The modules: `adapter` (which API a request speaks, media), `sms_api` (the `sig` signature, inbound
SMS and their parts, delivery receipts), `messages_api` (the Bearer JWT, what each message type
says, statuses), `send` (replies: WhatsApp and MMS by the Messages API, SMS by the SMS API) and
`failures` (Vonage's error codes as sentences for agents).
"""

from __future__ import annotations

from bridge.providers.vonage.adapter import NAME, VonageAdapter, vonage_host
from bridge.providers.vonage.messages_api import (
    CHANNELS,
    CONTENT_HANDLERS,
    DEFAULT_CONTENT_TYPES,
    MESSAGES_STATES,
    verify_bearer,
)
from bridge.providers.vonage.sms_api import (
    DEFAULT_MAX_SKEW,
    MAX_PARTS,
    SIGNATURE_DIGESTS,
    SIGNATURE_PARAM,
    SMS_ERROR_CODES,
    SMS_RECEIPT_STATES,
    SMS_TYPE_PROBLEMS,
    signature_method,
    sms_signature,
)

__all__ = [
    "CHANNELS",
    "CONTENT_HANDLERS",
    "DEFAULT_CONTENT_TYPES",
    "DEFAULT_MAX_SKEW",
    "MAX_PARTS",
    "MESSAGES_STATES",
    "NAME",
    "SIGNATURE_DIGESTS",
    "SIGNATURE_PARAM",
    "SMS_ERROR_CODES",
    "SMS_RECEIPT_STATES",
    "SMS_TYPE_PROBLEMS",
    "VonageAdapter",
    "signature_method",
    "sms_signature",
    "verify_bearer",
    "vonage_host",
]
