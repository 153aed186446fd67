"""Read receipts through Twilio: a WhatsApp typing indicator, which marks the customer's message read.

Twilio's API has no call that only marks a message read. Its Typing Indicators resource (Public
Beta, twilio.com/docs/whatsapp/api/typing-indicators-resource) does that and more: `POST
{TWILIO_MESSAGING_API_URL}/v2/Indicators/Typing.json`, form `messageId=<SM…|MM…>&channel=whatsapp`,
HTTP Basic `AccountSid:AuthToken`, answered `{"success": true}`; "Twilio automatically marks the
referenced message as read … and displays the typing indicator", which disappears "when your
response is delivered or after 25 seconds". So the bridge sends it just before the reply (the
reply dismisses the indicator), never after one. The `messageId` must be a Message or Media SID
(`^(SM|MM)[0-9a-fA-F]{32}$`, the SDK's `messaging.v2.typing_indicator`); Twilio's errors come as
its usual `{"code", "message"}` (`check.read_error`). Not HIPAA-eligible, Twilio says: a team
under HIPAA turns read receipts off (`BRIDGE_READ_RECEIPTS=false`).
"""

from __future__ import annotations

import httpx

from bridge.core.retrying import RetryPolicy
from bridge.core.settings import Settings
from bridge.providers.base import api_call, refused
from bridge.providers.refusals import json_answer
from bridge.providers.twilio.check import read_error

PROVIDER = "twilio"
PATH = "/v2/Indicators/Typing.json"


def typing_form(message_id: str) -> dict[str, str]:
    """The typing indicator (and read receipt) for the customer's WhatsApp message `message_id`."""
    return {"messageId": message_id, "channel": "whatsapp"}


def mark_read(
    message_id: str, business_number: str, settings: Settings, http: httpx.Client, policy: RetryPolicy
) -> None:
    """Mark `message_id` read with a typing indicator (`business_number` is not needed: the SID
    names the chat). A 2xx without `success: true` is refused."""
    if not message_id:
        raise refused(PROVIDER, "a read receipt needs the customer's message SID")
    settings.require("twilio_account_sid")
    credentials = (str(settings.twilio_account_sid), settings.secret("twilio_auth_token"))
    url = settings.twilio_messaging_api_url.rstrip("/") + PATH
    response = api_call(
        http,
        "POST",
        url,
        provider=PROVIDER,
        policy=policy,
        error=read_error,
        data=typing_form(message_id),
        auth=credentials,
        headers={"Accept": "application/json"},
    )
    answer = json_answer(response)
    if not isinstance(answer, dict) or answer.get("success") is not True:
        raise refused(
            PROVIDER, "Twilio did not answer success to the typing indicator", status=response.status_code
        )
