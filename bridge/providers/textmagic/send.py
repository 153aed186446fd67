"""Replies through TextMagic's REST API v2: `POST {TEXTMAGIC_API_URL}/api/v2/messages`.

The request (textmagic.com/docs/api/send-sms; textmagic-rest-python-v2 `SendMessageInputObject`):
headers `X-TM-Username` and `X-TM-Key`, JSON `{"text", "phones", "from"}`: `phones` is "phone
numbers in international E.164 format without the leading plus sign", `from` "one of the allowed
sender settings (phone number or alphanumeric sender ID)"; when it is not allowed for the
destination TextMagic falls back to the default sender rather than refusing. A reply leaves from
the number the customer wrote to (the callback's `receiver`); a v1 callback names none, and then
`from` is left out, so the account's default sender answers, which is where v1 replies arrived.

The answer (201, `SendMessageResponse`) is `{"id", "href", "type", "sessionId", "bulkId",
"messageId", "scheduleId", "chatId"}`: `type` is `message` for one recipient, and the delivery
callback's `MessageOut.id` is the message id (`MessageOut.md`: "id: Message ID"), so `messageId`
is what reports refer to (`id` too, for type `message`). Errors are `{"code": <HTTP status>,
"message", "errors": {"common": [...], "fields": {name: [...]}}}` (textmagic.com/docs/api/
response-codes): the code is the HTTP status, so the message carries the detail.

TextMagic carries no media (attachments travel as links in the text) and has no per-message
callback URL: the account's delivery callback URL receives every report.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial
from typing import Any

import httpx

from bridge.core.retrying import RetryPolicy
from bridge.core.settings import Settings
from bridge.model.messages import Channel
from bridge.model.outgoing import OutboundMessage, SendLimits
from bridge.model.phones import strip_formatting
from bridge.providers.base import SendFunctions, post_json, refused
from bridge.providers.refusals import error_code, json_answer, status_text, without_recipient

log = logging.getLogger(__name__)

PROVIDER = "textmagic"
PATH = "/api/v2/messages"

# TextMagic sends 1 to 6 parts per message (`partsCount`, SendMessageInputObject) and answers 400
# for a longer text (`cutExtra` false). One emoji makes a text UCS-2, 67 characters a part: 6 x 67
# fits whatever the agent types (GSM-7 text alone would fit 6 x 153 = 918).
LIMITS: Mapping[Channel, SendLimits] = {
    Channel.SMS: SendLimits(max_text=6 * 67, media=False),
}

# What an agent can do about each delivery status letter; what happened is the inbound adapter's
# `FAILURE_REASONS` (and "u" here, a final status it reports as sent).
ADVICE: Mapping[str, str] = {
    "f": "check the number with the customer, or reach them another way",
    "e": "ask an admin to check the TextMagic account (balance, sender settings), then replay the reply",
    "j": "the carrier may be filtering its content or sender; rephrase it (e.g. without links) or reach "
    "the customer another way",
    "u": "it may or may not have arrived; ask the customer if it matters",
}
UNKNOWN = {"u": "the operator never confirmed delivery"}


def send_limits(message: OutboundMessage) -> SendLimits:
    """What one SMS carries: text only, attachments as links."""
    return LIMITS[Channel.SMS]


def send(message: OutboundMessage, settings: Settings, http: httpx.Client, policy: RetryPolicy) -> str:
    """`POST /api/v2/messages` from the number the customer wrote to; the TextMagic message id its
    delivery callbacks carry."""
    body = request_body(message)
    headers = {
        "X-TM-Username": settings.secret("textmagic_username"),
        "X-TM-Key": settings.secret("textmagic_api_key"),
        "Accept": "application/json",
    }
    url = f"{settings.textmagic_api_url.rstrip('/')}{PATH}"
    error = partial(read_error, recipient=body["phones"])
    response = post_json(http, url, body, provider=PROVIDER, policy=policy, headers=headers, error=error)
    return message_id(response)


def request_body(message: OutboundMessage) -> dict[str, Any]:
    """The JSON body for `message`; refused when TextMagic could not carry it."""
    if message.channel is not Channel.SMS:
        raise refused(PROVIDER, f"TextMagic sends SMS only, not {message.channel}")
    if message.template is not None:
        raise refused(PROVIDER, "TextMagic sends no WhatsApp templates: it is SMS only")
    if message.media_urls:
        raise refused(PROVIDER, "TextMagic carries no attachments; they travel as links in the text")
    if not message.text.strip():
        raise refused(PROVIDER, "nothing to send: the text is empty")
    phone = strip_formatting(message.to).removeprefix("+")
    if not phone.isdigit():
        raise refused(PROVIDER, "the customer's sender id is not a number: SMS cannot be sent back to it")
    body = {"text": message.text, "phones": phone}
    return body | ({"from": message.sender} if message.sender else {})


def message_id(response: httpx.Response) -> str:
    """`messageId` (the id reports carry), else `id` for a `message`. A 2xx without one is refused,
    not retried: the message may have gone out, and a retry could send it twice."""
    data = json_answer(response)
    found = data.get("messageId") if isinstance(data, dict) else None
    if found is None and isinstance(data, dict) and data.get("type", "message") == "message":
        found = data.get("id")
    if isinstance(found, bool) or not isinstance(found, int | str) or not str(found):
        raise refused(
            PROVIDER, "TextMagic accepted the send but answered no message id", status=response.status_code
        )
    return str(found)


def read_error(response: httpx.Response, *, recipient: str = "") -> tuple[str | None, str]:
    """TextMagic's `code` (the HTTP status) and its message with the common and field errors; the
    recipient's number masked, should TextMagic echo it."""
    data = json_answer(response)
    if not isinstance(data, dict):
        return None, status_text(response)
    parts = [str(data.get("message") or status_text(response))]
    errors = data.get("errors")
    if isinstance(errors, dict):
        common = errors.get("common")
        parts += [str(item) for item in common] if isinstance(common, list) else []
        fields = errors.get("fields")
        if isinstance(fields, dict):
            parts += [f"{name}: {'; '.join(map(str, texts))}" for name, texts in fields.items() if texts]
    return error_code(data.get("code")), without_recipient("; ".join(parts), recipient)


def failure_reason(code: str | None, happened: Mapping[str, str]) -> str | None:
    """A sentence for a delivery status letter: what `happened` (the inbound adapter's table) and
    what to do; None for a letter that is no failure."""
    letter = (code or "").strip().lower()
    what = happened.get(letter) or UNKNOWN.get(letter)
    advice = ADVICE.get(letter)
    return f"{what}: {advice}" if what and advice else None


def send_api(happened: Mapping[str, str]) -> SendFunctions:
    """`TextMagicAdapter.send_api`, its failure reasons worded with `happened` (the inbound
    adapter's table: delivery callbacks carry only the letter)."""
    return SendFunctions(
        send_limits=send_limits, send=send, failure_reason=partial(failure_reason, happened=happened)
    )
