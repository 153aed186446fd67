"""Vonage's error codes, as sentences an agent can act on, and which send statuses are transient.

Three numbering schemes meet here:
- SMS API send statuses (`messages[].status` in the answer to `POST /sms/json`, 1-33): the
  `x-errors` of Nexmo/api-specification `definitions/sms.yml`, also developer.vonage.com/api-errors/sms
  and the .NET SDK's `SmsStatusCode` enum. They arrive in an HTTP 200, so their retryability is
  data here, not an HTTP status.
- SMS API delivery-receipt `err-code` (1-14): `sms_api.SMS_ERROR_CODES` gives their names; this
  module adds what an agent can do about each, keyed by the same codes.
- Messages API error codes (1000-1370): the `title` of a status webhook's `error` and the fragment
  of an error `type` (`…/messages-olympus#1340`), from Nexmo/nexmo-oas-renderer
  `_open_api/errors/messages-olympus.md`.

SMS API send statuses 1-14 and receipt err-codes 1-14 overlap (7 is "Number Barred" when sending,
"Handset Busy" in a receipt), and `failure_reason` explains both (for notes on refused sends and on
failed delivery reports): a refused SMS API send therefore carries the code `sms-api-<status>`
(`sms_api_code`), a receipt its bare err-code.
"""

from __future__ import annotations

from typing import NamedTuple

from bridge.core.errors import ProviderRateLimited, ProviderUnavailable, RetryableError
from bridge.providers.vonage.sms_api import SMS_ERROR_CODES


class SendStatus(NamedTuple):
    """What an SMS API send status means, and the retryable error when trying again may succeed."""

    reason: str
    retry: type[RetryableError] | None = None


# SMS API send status -> meaning; "0" is success (Nexmo/api-specification definitions/sms.yml x-errors).
SMS_SEND_STATUSES: dict[str, SendStatus] = {
    "1": SendStatus("Vonage is throttling the account (SMS sent faster than its limit)", ProviderRateLimited),
    "2": SendStatus("the request missed a required parameter (from, to, text or the credentials)"),
    "3": SendStatus("a parameter was invalid, often the customer's or the business number"),
    "4": SendStatus("VONAGE_API_KEY / VONAGE_API_SECRET are wrong or disabled: fix the bridge's settings"),
    "5": SendStatus("Vonage had an internal error", ProviderUnavailable),
    "6": SendStatus("Vonage could not route the message, e.g. the number's prefix is not recognized"),
    "7": SendStatus("the customer's number is barred and may not receive messages"),
    "8": SendStatus("the Vonage account is suspended: contact Vonage support"),
    "9": SendStatus("the Vonage account has no credit left: top it up"),
    "10": SendStatus("too many simultaneous connections to Vonage", ProviderUnavailable),
    "11": SendStatus("the Vonage account is not enabled for the SMS API over HTTP (SMPP only?)"),
    "12": SendStatus("the message is longer than Vonage allows"),
    "14": SendStatus("Vonage could not verify the request's signature"),
    "15": SendStatus(
        "the business number is not an authorized sender for this destination (in North America a "
        "Vonage number or short code is required)"
    ),
    "22": SendStatus("the network code is unknown or not of the destination's country"),
    "23": SendStatus("the delivery-report callback URL is invalid: check BRIDGE_PUBLIC_URL"),
    "29": SendStatus(
        "the Vonage account is in demo mode and the customer's number is not on its whitelist: top up "
        "the account or whitelist the number"
    ),
    "32": SendStatus("a signed request may not also carry the API secret"),
    "33": SendStatus("the customer's number is de-activated and may not receive messages"),
}

# Receipt `err-code` (names in sms_api.SMS_ERROR_CODES, Vonage support article 204014733) -> what to do.
SMS_DELIVERY_ADVICE: dict[str, str] = {
    "1": "the carrier gave no reason; check the number, then try again later",
    "2": "the customer's phone was off or out of coverage; try again later",
    "3": "the number is no longer in service; ask the customer for a current number",
    "4": "the customer has barred messages from this sender",
    "5": "the number moved to another carrier and could not be reached; the customer may need to ask "
    "their carrier",
    "6": "the carrier's spam filter blocked the message (its sender or its content)",
    "7": "the customer's phone was busy; try again later",
    "8": "a network failure; try again later",
    "9": "the number is invalid or blacklisted (the customer may have replied STOP)",
    "10": "the carrier refused the message's content",
    "11": "Vonage has no route to the customer's network from this business number",
    "12": "the message could not be delivered to this number",
    "13": "the carrier blocked the content because of the customer's age",
    "14": "the carrier blocked the message (e.g. the customer's plan has no SMS)",
}

# Messages API error code -> what it means for the agent (messages-olympus.md, "Asynchronous Errors";
# the words of RFC 7807 `type`s from developer.vonage.com/api-errors, "Generic Errors").
MESSAGES_ERRORS: dict[str, str] = {
    "unauthorized": "VONAGE_API_KEY / VONAGE_API_SECRET are wrong: fix the bridge's settings",
    "forbidden": "the Vonage account may not do this (is the feature enabled for it?)",
    "low-balance": "the Vonage account's balance is too low: top it up",
    "1000": "Vonage throttled the account; the message can be sent again later",
    "1010": "the request missed a required parameter",
    "1020": "a parameter was invalid",
    "1022": "the WhatsApp template's parameters were invalid",
    "1030": "Vonage had an internal error; try again later",
    "1040": "Vonage could not process the message, e.g. the number's prefix is not recognized",
    "1050": "the customer's number is blacklisted and may not receive messages",
    "1060": "the Vonage account is barred from sending: contact Vonage support",
    "1070": "the Vonage account has no credit left: top it up",
    "1120": "local regulations refused the business number or sender id",
    "1140": "the Vonage account is not enabled for this feature",
    "1160": "the customer's number is not on the account's whitelist (demo account)",
    "1170": "the customer's number is missing or invalid",
    "1180": "the customer's phone was off or out of coverage; try again later",
    "1190": "the customer's number is no longer active; ask for a current number",
    "1200": "the number moved to another carrier and could not be reached; the customer may need to ask "
    "their carrier",
    "1210": "the carrier's spam filter blocked the message (its sender or its content)",
    "1220": "the customer's phone was busy; try again later",
    "1230": "a network failure; try again later",
    "1240": "the customer opted out (replied STOP) and no longer receives messages from this number",
    "1250": "Vonage has no route to the customer's network from this number",
    "1260": "the message could not be delivered to this number",
    "1270": "the carrier blocked the content because of the customer's age",
    "1280": "the carrier blocked the message (e.g. the customer's plan has no SMS)",
    "1290": "the customer's pre-paid account has no credit to receive the message",
    "1300": "the customer is not a user of this channel (e.g. the number has no WhatsApp)",
    "1310": "the customer's device cannot receive this message",
    "1320": "the message was already sent",
    "1330": "the carrier reported an unknown error; check the customer's number",
    "1340": "the customer last wrote more than 24 hours ago: WhatsApp only allows a template message now",
    "1360": "the message expired before it could be delivered (not charged)",
}


SMS_API_CODE_PREFIX = "sms-api-"


def sms_api_code(status: str) -> str:
    """The code a refused SMS API send carries: its status, marked apart from receipt err-codes."""
    return f"{SMS_API_CODE_PREFIX}{status}"


def failure_reason(code: str | None) -> str | None:
    """A sentence for a Vonage error code: a refused SMS API send (`sms-api-29`), a Messages API
    error (1000-1370, `unauthorized`…) or an SMS receipt's err-code; None when no table has it."""
    if code is None:
        return None
    code = code.strip()
    if code.startswith(SMS_API_CODE_PREFIX):
        known = SMS_SEND_STATUSES.get(code.removeprefix(SMS_API_CODE_PREFIX))
        return known.reason if known else None
    if code in MESSAGES_ERRORS:
        return MESSAGES_ERRORS[code]
    if code in SMS_ERROR_CODES and code in SMS_DELIVERY_ADVICE:
        return f"{SMS_ERROR_CODES[code]}: {SMS_DELIVERY_ADVICE[code]}"
    return None
