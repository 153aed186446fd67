"""Sending SMS through Africa's Talking's messaging API, from the short code the customer wrote to.

The request is the one Africa's Talking's own Python SDK makes (`africastalking/SMS.py`,
`SMSService.send`; research/providers.md §6): `POST {AFRICASTALKING_API_URL}/version1/messaging`
with headers `apiKey` and `Accept: application/json`, form fields `username`, `to`, `message`,
`from` and `bulkSMSMode=1`. The answer is
`{"SMSMessageData": {"Message": "Sent to 1/1 Total Cost: KES 0.8000", "Recipients": [{"statusCode":
101, "number": "+2547…", "status": "Success", "cost": "KES 0.8000", "messageId": "ATXid_…"}]}}`
(help.africastalking.com "Why did my messages fail?"). One recipient per request, so the
recipient's `statusCode` is the verdict: 100-102 sent, anything else refused. Africa's Talking
sometimes also answers that code as the HTTP status (406 UserInBlacklist, 409
DoNotDisturbRejection, with the same JSON body: africastalking-node.js issue #143; AT's SMS
notifications docs), and answers an unknown sender id with no recipients at all
(`"Message": "InvalidSenderId"`: medic/medic-docs PR #112). A wrong key is a plain-text 401, "The
supplied authentication is invalid".

Premium (on-demand) replies: when the customer wrote to a premium service, `reply_reference`
holds the inbound `linkId`. Africa's Talking takes those on another host,
`https://content.africastalking.com/version1/messaging`, with `bulkSMSMode=0`, `linkId` and the
service's `keyword` (the SDK's `send_premium`). The bridge has no setting for that host or the
keyword, so every reply goes the standard way above, which suits two-way (non-premium) short
codes and sender ids; a premium service's operator may refuse it.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from bridge.core.errors import ProviderRejected
from bridge.core.logs import mask
from bridge.core.retrying import RetryPolicy
from bridge.core.settings import Settings
from bridge.model.messages import Channel
from bridge.model.outgoing import OutboundMessage, SendLimits
from bridge.providers.base import SendFunctions, api_call, refused
from bridge.providers.refusals import json_answer

PROVIDER = "africastalking"
SEND_PATH = "/version1/messaging"
# "This should always be 1 for bulk messages" (the SDKs); the sender, not the customer, pays.
BULK_SMS_MODE = "1"

# Africa's Talking documents no maximum for `message`: longer texts go out as several SMS
# (`messageParts` in the answer). The bridge keeps one reply to 6 concatenated GSM-7 parts
# (6 × 153 characters) so a long reply arrives as a few readable messages, not one huge one.
LIMITS: dict[Channel, SendLimits] = {
    Channel.SMS: SendLimits(max_text=918, media=False),
}

# A recipient's `statusCode` in the send answer. Source: Africa's Talking's SMS API reference,
# as the africastalking-elixir SDK's documentation reproduces it (100 Processed ... 502
# RejectedByGateway). 100-102 mean the message was accepted.
SUCCESS_CODES = frozenset({100, 101, 102})

_NOT_NETWORK = "the customer's number does not belong to the operator it was sent through"

# Why a message failed: the send answer's statusCode (and its status word), and a delivery
# report's `failureReason`. Sources: the statusCode table above; AT's delivery-report docs
# (docs.africastalking.com/sms/deliveryreports, which spell it `NotNetworkSubcriber`).
FAILURE_REASONS: dict[str, str] = {
    "401": "Africa's Talking held the message for a risk review (RiskHold); contact Africa's Talking support",
    "402": (
        "the sender id or short code is not registered for this Africa's Talking account "
        "(InvalidSenderId); check the number the customer wrote to"
    ),
    "403": "the customer's number is not a valid phone number (InvalidPhoneNumber)",
    "404": "the customer's number is of a type Africa's Talking cannot send to (UnsupportedNumberType)",
    "405": "the Africa's Talking account has run out of credit (InsufficientBalance); top it up",
    "406": (
        "the customer opted out of messages from this sender (UserInBlacklist); they must opt in "
        "again before you can reach them"
    ),
    "407": "Africa's Talking found no route to the customer's network (CouldNotRoute)",
    "409": (
        "Nigerian rules forbid promotional sender ids between 8pm and 8am (DoNotDisturbRejection); "
        "send again in the morning"
    ),
    "500": "Africa's Talking had an internal error (InternalServerError); send again",
    "501": "the operator's gateway failed (GatewayError); send again",
    "502": "the operator's gateway rejected the message (RejectedByGateway)",
    "InsufficientCredit": ("the customer has too little airtime for this premium message; they must top up"),
    "InvalidLinkId": "the premium reply's linkId was invalid or expired; the customer must write again",
    "UserIsInactive": "the customer's line is inactive or was deactivated by their operator",
    "UserInBlackList": (
        "the customer blocked messages from this short code or keyword; they must opt in again"
    ),
    "UserAccountSuspended": "the customer's operator has suspended their line",
    # The docs spell it `NotNetworkSubcriber`; both spellings are kept in case AT fixes it.
    "NotNetworkSubcriber": _NOT_NETWORK,
    "NotNetworkSubscriber": _NOT_NETWORK,
    "UserNotSubscribedToProduct": "the customer is not subscribed to this premium service",
    "UserDoesNotExist": "the customer's number does not exist",
    "DeliveryFailure": "the operator could not deliver the message and gave no reason",
    "InvalidSenderId": (
        "the sender id or short code is not registered for this Africa's Talking account; check "
        "the number the customer wrote to"
    ),
}
# Looked up without regard to case: send answers say `UserInBlacklist`, reports `UserInBlackList`.
_REASONS_BY_KEY = {key.lower(): text for key, text in FAILURE_REASONS.items()}
# A bare status word (`InvalidSenderId`), as AT's `Message` carries one when nothing was sent.
_WORD = re.compile(r"^[A-Za-z]+$")


def send_limits(message: OutboundMessage) -> SendLimits:
    """What one Africa's Talking SMS carries: text only, attachments go as links."""
    return LIMITS[Channel.SMS]


def failure_reason(code: str | None) -> str | None:
    """An agent's explanation of an AT statusCode or failureReason, None when not in the table."""
    return _REASONS_BY_KEY.get((code or "").strip().lower())


def send_message(
    message: OutboundMessage, settings: Settings, http: httpx.Client, policy: RetryPolicy
) -> str:
    """Send `message` as an SMS; the `messageId` Africa's Talking gave it (`ATXid_…`)."""
    username = settings.secret("africastalking_username")
    api_key = settings.secret("africastalking_api_key")
    if message.template is not None:
        raise refused(PROVIDER, "Africa's Talking sends plain SMS and has no message templates")
    # The planner never gives SMS media (`media=False`); should any arrive, they travel as links.
    text = "\n".join([message.text, *message.media_urls]).strip()
    response = api_call(
        http,
        "POST",
        settings.africastalking_api_url.rstrip("/") + SEND_PATH,
        provider=PROVIDER,
        policy=policy,
        error=read_error,
        headers={"apiKey": api_key, "Accept": "application/json"},
        data={
            "username": username,
            "to": message.to,
            "message": text,
            "from": message.sender,
            "bulkSMSMode": BULK_SMS_MODE,
        },
    )
    return _message_id(response)


#: `AfricasTalkingAdapter.send_api`.
SEND_API = SendFunctions(send_limits=send_limits, send=send_message, failure_reason=failure_reason)


def _message_id(response: httpx.Response) -> str:
    recipient = _recipient(response)
    if recipient is None:
        code, message = read_error(response)
        raise ProviderRejected(
            provider=PROVIDER,
            code=code,
            message=message or "no recipient in the answer",
            status=response.status_code,
        )
    status_code = recipient.get("statusCode")
    if _as_int(status_code) not in SUCCESS_CODES:
        raise ProviderRejected(
            provider=PROVIDER,
            code=str(status_code) if status_code is not None else None,
            message=str(recipient.get("status") or "the recipient was not sent to"),
            status=response.status_code,
        )
    message_id = recipient.get("messageId")
    if not isinstance(message_id, str) or not message_id or message_id == "None":
        raise refused(PROVIDER, "Africa's Talking accepted the message without a messageId")
    return message_id


def read_error(response: httpx.Response) -> tuple[str | None, str]:
    """Africa's Talking's code and message: the recipient's statusCode and status, the bare
    word in `Message` (`InvalidSenderId`), or the plain-text body (`The supplied authentication
    is invalid`)."""
    recipient = _recipient(response)
    if recipient is not None:
        status_code = recipient.get("statusCode")
        return (
            str(status_code) if status_code is not None else None,
            mask(str(recipient.get("status") or "")),
        )
    data = _message_data(response)
    if data is not None:
        summary = str(data.get("Message") or "")
        return (summary if _WORD.match(summary) else None), mask(summary)
    return None, mask(response.text.strip()[:200]) or response.reason_phrase


def _message_data(response: httpx.Response) -> dict[str, Any] | None:
    body = json_answer(response)
    data = body.get("SMSMessageData") if isinstance(body, dict) else None
    return data if isinstance(data, dict) else None


def _recipient(response: httpx.Response) -> dict[str, Any] | None:
    data = _message_data(response)
    recipients = data.get("Recipients") if data is not None else None
    if isinstance(recipients, list) and recipients and isinstance(recipients[0], dict):
        return recipients[0]
    return None


def _as_int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None
