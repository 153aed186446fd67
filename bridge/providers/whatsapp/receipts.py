"""Read receipts through Meta's Cloud API: the customer's message marked read when an agent answers.

`POST {WHATSAPP_API_URL}/{phone-number-id}/messages`, the send endpoint, with the same Bearer token
and `{"messaging_product": "whatsapp", "status": "read", "message_id": <wamid>}`; Meta answers
`{"success": true}` (developers.facebook.com/documentation/business-messaging/whatsapp/messages/
mark-message-as-read). Marking a message read marks every earlier one of the chat too, so the
customer's latest is the one to mark. Meta takes it within 30 days of the message and answers a
wamid it does not know with 131009 ("Parameter value is not valid"), in Graph's error envelope
(`send.read_error`). The same call can show a typing indicator (`typing_indicator`): the bridge
asks for none, its reply follows at once.
"""

from __future__ import annotations

import httpx

from bridge.core.retrying import RetryPolicy
from bridge.core.settings import Settings
from bridge.providers.base import post_json, refused
from bridge.providers.refusals import json_answer
from bridge.providers.whatsapp.send import PROVIDER, messages_endpoint, read_error


def read_body(message_id: str) -> dict[str, str]:
    """The Cloud API's read receipt for the customer's message `message_id` (a wamid)."""
    return {"messaging_product": "whatsapp", "status": "read", "message_id": message_id}


def mark_read(
    message_id: str, business_number: str, settings: Settings, http: httpx.Client, policy: RetryPolicy
) -> None:
    """Mark `message_id` read through the phone-number id it reached (`business_number`).
    A 2xx without `success: true` is refused: whatever answered did not say it took it."""
    if not message_id or not business_number:
        raise refused(PROVIDER, "a read receipt needs the message's wamid and the phone-number id")
    url, headers = messages_endpoint(business_number, settings)
    response = post_json(
        http, url, read_body(message_id), provider=PROVIDER, policy=policy, headers=headers, error=read_error
    )
    answer = json_answer(response)
    if not isinstance(answer, dict) or answer.get("success") is not True:
        raise refused(
            PROVIDER, "Meta did not answer success to the read receipt", status=response.status_code
        )
