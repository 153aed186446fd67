"""Read receipts through Vonage's Messages API: the customer's WhatsApp message marked read.

`PATCH {VONAGE_MESSAGES_API_URL}/v1/messages/{message_uuid}` with `{"status": "read"}` (Vonage's
"Mark an Inbound Message as Read"; the Java SDK's `MessagesClient.ackInboundMessage`, the Python
SDK's `mark_whatsapp_message_read`), authenticated as a send is (HTTP Basic `api_key:api_secret`,
as the Python SDK does without an application; the API reference takes Basic or a JWT). Only
WhatsApp messages can be updated so (422 for another channel), and the id is the inbound
`message_uuid`. Errors are RFC 7807 problems (`send.messages_api_error`).

Vonage keeps a message in one region, and the PATCH must reach that region's host ("a
geo-specific URL must be used", the inbound message's `_self.href`): `api-eu.nexmo.com`,
`api-us.nexmo.com` or `api-ap.nexmo.com`. So read receipts work when `VONAGE_MESSAGES_API_URL` is
the host of the region the WhatsApp number lives in (sends work through any of them); elsewhere
Vonage answers 404 and the receipt is counted as rejected, the reply still sent.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

import httpx

from bridge.core.retrying import RetryPolicy
from bridge.core.settings import Settings
from bridge.providers.base import api_call, refused
from bridge.providers.vonage.send import NAME, messages_api_error

READ_BODY = {"status": "read"}


def mark_read(
    message_id: str, business_number: str, settings: Settings, http: httpx.Client, policy: RetryPolicy
) -> None:
    """Mark the customer's WhatsApp message `message_id` (its `message_uuid`) read; any 2xx is
    Vonage taking it (the SDKs read no answer)."""
    try:
        uuid.UUID(message_id)
    except ValueError:
        raise refused(NAME, "a read receipt needs the message_uuid of a Messages API message") from None
    credentials = (settings.secret("vonage_api_key"), settings.secret("vonage_api_secret"))
    url = f"{settings.vonage_messages_api_url.rstrip('/')}/v1/messages/{quote(message_id, safe='')}"
    api_call(
        http,
        "PATCH",
        url,
        provider=NAME,
        policy=policy,
        error=messages_api_error,
        json=READ_BODY,
        auth=credentials,
    )
