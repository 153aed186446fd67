"""Replies through Meta's Cloud API: `POST {WHATSAPP_API_URL}/{phone-number-id}/messages`.

The request, as Meta documents it (developers.facebook.com/documentation/business-messaging/
whatsapp/messages/text-messages, …/image-messages, …/document-messages, …/audio-messages):
Bearer access token, JSON `{"messaging_product": "whatsapp", "recipient_type": "individual",
"to": <digits>, "type": …, <type>: {…}}`; the answer `{"messaging_product", "contacts": [...],
"messages": [{"id": "wamid…"}]}`. A customer known only by a business-scoped user id (BSUID, a
username user) is addressed with `recipient` instead of `to` (nyaruka/courier
`RecipientFields`; dualhook.com "BSUID API and sending changes": `to` wins when both are sent).
No per-message status callback exists: statuses come to the app's one webhook.

One bridge message is one API call, and its `wamid` the id its delivery reports carry. A caption
holds 1024 characters where a text holds 4096, and audio takes no caption at all: `SEND_LIMITS`
says so, and the planner (`bridge.model.outgoing.plan`) then sends the text first as its own message.
A message that breaks them anyway is a caller's bug, refused with ValueError before any call.

Errors are Graph's `{"error": {"message", "type", "code", "error_data": {"details"},
"fbtrace_id"}}` (…/whatsapp/support/error-codes). Meta answers some throttles with 400, not 429
(`THROTTLING_CODES`); those raise `ProviderRateLimited` at once rather than after sub-second
quick retries: their windows are seconds (pair rate, 131056) to an hour (app limits, 4/80007),
and hammering a spam limit (131048) only deepens it. The job's own retries
(`BRIDGE_RETRY_DELAYS`, 5 s to 30 min) are the right scale.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial
from typing import Any
from urllib.parse import quote

import httpx

from bridge.core.errors import ConfigurationError, ProviderRateLimited, ProviderRejected
from bridge.core.retrying import RetryPolicy
from bridge.core.settings import Settings, env_name
from bridge.model.messages import Channel
from bridge.model.outgoing import (
    MEDIA_KIND_BY_EXTENSION,
    MediaKind,
    OutboundMessage,
    SendLimits,
    Template,
    attachment_name,
    check_planned,
    media_kind,
)
from bridge.providers.base import SendFunctions, post_json, refused
from bridge.providers.refusals import error_code, json_answer, status_text, without_recipient
from bridge.providers.templates import template_object
from bridge.providers.whatsapp.failures import failure_reason

PROVIDER = "whatsapp"

# Meta: "Body text … Maximum 4096 characters" (text-messages); one attachment per message;
# "Media asset caption text. Maximum 1024 characters." (image- and document-messages), and no
# caption on audio (the default `captioned`).
SEND_LIMITS: Mapping[Channel, SendLimits] = {
    Channel.WHATSAPP: SendLimits(max_text=4096, media=True, max_media=1, max_caption=1024),
}

# A BSUID: two-letter country, `ENT.` for a parent id, then alphanumerics (research §2.2, §2.5).
BSUID = re.compile(r"^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]+$")

# Meta's message types are `MediaKind`'s values (image, video, audio, document), so the shared
# table serves as Meta's; under its old name here for `bridge.providers.whatsapp`'s exports.
MEDIA_TYPE_BY_EXTENSION: Mapping[str, str] = MEDIA_KIND_BY_EXTENSION

# Graph codes that mean "slow down", whatever the HTTP status: app call limit (4), WABA rate limit
# (80007), Cloud API throughput (130429), spam-rate limit (131048), pair rate limit (131056),
# (de)registration limit (133016). nyaruka/courier `WACThrottlingErrorCodes`, research §2.5.
THROTTLING_CODES = frozenset({"4", "80007", "130429", "131048", "131056", "133016"})


def send_limits(message: OutboundMessage) -> SendLimits:
    """What one message carries on `message`'s channel; WhatsApp is the only one Meta sends."""
    limits = SEND_LIMITS.get(message.channel)
    if limits is None:
        raise refused(PROVIDER, f"Meta's Cloud API sends WhatsApp only, not {message.channel}")
    return limits


def send(message: OutboundMessage, settings: Settings, http: httpx.Client, policy: RetryPolicy) -> str:
    """Send `message` in one call to `POST {WHATSAPP_API_URL}/{phone-number-id}/messages`; the
    `wamid` Meta gave it (the answer's first message's id)."""
    body = request_body(message)
    if not message.sender:
        raise refused(PROVIDER, "no phone-number id to send from")
    url, headers = messages_endpoint(message.sender, settings)
    error = partial(read_error, recipient=message.to)
    try:
        response = post_json(http, url, body, provider=PROVIDER, policy=policy, headers=headers, error=error)
    except ProviderRejected as exc:
        if exc.code in THROTTLING_CODES:
            raise ProviderRateLimited(
                f"whatsapp throttled the send (Graph code {exc.code}, HTTP {exc.status}): {exc.message}"
            ) from exc
        raise
    return _message_id(response)


def messages_endpoint(phone_number_id: str, settings: Settings) -> tuple[str, dict[str, str]]:
    """`{WHATSAPP_API_URL}/{phone-number-id}/messages` and its Bearer header: where messages and
    read receipts go (`ConfigurationError` naming the variable when the token is empty)."""
    token = settings.secret("whatsapp_access_token")
    if not token.strip():
        raise ConfigurationError(f"{env_name('whatsapp_access_token')} is empty")
    url = f"{settings.whatsapp_api_url.rstrip('/')}/{quote(phone_number_id, safe='')}/messages"
    return url, {"Authorization": f"Bearer {token}"}


#: `WhatsAppAdapter.send_api`.
SEND_API = SendFunctions(send_limits=send_limits, send=send, failure_reason=failure_reason)


def request_body(message: OutboundMessage) -> dict[str, Any]:
    """The Cloud API message object that carries `message`: a text, or one attachment with the
    text as its caption (ValueError if Meta takes none: `check_planned`).

    A template replaces text and attachments: it is what may be sent outside the 24-hour window,
    its variables and header its only content (`template_body`)."""
    limits = send_limits(message)  # refuses a channel Meta does not carry
    base: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
    base |= recipient_fields(message.to)
    if message.template is not None:
        return base | template_body(message.template)
    text = message.text
    if len(text) > limits.max_text:
        raise refused(
            PROVIDER, f"the text is {len(text)} characters; WhatsApp takes {limits.max_text} per message"
        )
    if not message.media_urls:
        if not text.strip():
            raise refused(PROVIDER, "nothing to send: no text, media or template")
        return base | text_body(text)
    check_planned(message, limits)
    kind, fields = media_object(message.media_urls[0])
    if text.strip():
        fields |= {"caption": text}
    return base | {"type": kind, kind: fields}


def recipient_fields(to: str) -> dict[str, str]:
    """`to` for a phone number (digits exactly as Meta gave them), `recipient` for a BSUID."""
    return {"recipient": to} if BSUID.match(to) else {"to": to}


def text_body(text: str) -> dict[str, Any]:
    # preview_url: the client renders a preview of a link in the text (and ignores it without one).
    return {"type": "text", "text": {"body": text, "preview_url": True}}


def template_body(template: Template) -> dict[str, Any]:
    """`Template.name` is the name of a template approved in WhatsApp Manager, `language` one of
    its approved language codes (`en_US`). Its variables fill the body's placeholders in order,
    one text parameter each, and its header goes as the header component's parameter: a media
    object with a `link` (image, video, document) or a text (`bridge.providers.templates`, Meta's
    "Send media-based message template"). A template with neither is sent by name alone.

    Variables are positional: a template made with named parameters (`{{first_name}}`, Meta's
    `parameter_format: NAMED`) wants each value with its `parameter_name`, which `Template` does not
    carry: Meta refuses such a send, and its refusal reaches the caller."""
    return {"type": "template", "template": template_object(template, provider=PROVIDER)}


def media_object(url: str) -> tuple[str, dict[str, str]]:
    """The message type an attachment travels as and its media object (a document keeps its
    file name, which also picks the icon the customer sees)."""
    kind = media_kind(url)
    fields = {"link": url}
    name = attachment_name(url)
    if kind is MediaKind.DOCUMENT and name:
        fields["filename"] = name
    return kind.value, fields


def read_error(response: httpx.Response, *, recipient: str = "") -> tuple[str | None, str]:
    """Graph's error code (a number, read as text) and its message with the details; the
    recipient's number masked, should Meta echo it."""
    data = json_answer(response)
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None, status_text(response)
    error_data = error.get("error_data")
    parts = [error.get("message"), error_data.get("details") if isinstance(error_data, dict) else None]
    texts = [part for part in parts if isinstance(part, str) and part]
    text = ": ".join(part for index, part in enumerate(texts) if part not in texts[:index])
    return error_code(error.get("code")), without_recipient(text or status_text(response), recipient)


def _message_id(response: httpx.Response) -> str:
    """`messages[0].id` of Meta's answer. A 2xx without one is refused, not retried: the message
    may have gone out, and a retry could send it twice."""
    data = json_answer(response)
    messages = data.get("messages") if isinstance(data, dict) else None
    first = messages[0] if isinstance(messages, list) and messages else None
    message_id = first.get("id") if isinstance(first, dict) else None
    if not isinstance(message_id, str) or not message_id:
        raise refused(
            PROVIDER, "Meta accepted the send but answered no messages[0].id", status=response.status_code
        )
    return message_id
