"""Replies to customers through Vonage: which of its two APIs carries a message, and the two calls.

Which API, from what the inbound side stores (`sms_api.inbound`, `messages_api.inbound`):
- an SMS API message is channel SMS with `account` = the receiving `api-key` (a required field of
  Vonage's inbound SMS: Nexmo/api-specification `definitions/sms.yml`);
- a Messages API message is channel WHATSAPP, or SMS for both its `sms` and `mms` channels
  (`messages_api.CHANNELS`), with no `account`.
So the stored message tells WhatsApp from SMS, and (by `account`, incidentally) the SMS API from the
Messages API, but never an MMS from an SMS. The rule, which needs neither:
- WhatsApp -> Messages API, channel `whatsapp` (WhatsApp is Messages-only);
- SMS with attachments -> Messages API, channel `mms` (media travel as media only by MMS);
- any other SMS -> SMS API, from the same number: it sends from any number of the account, whichever
  API delivered the customer's message, and to every country (Vonage MMS is North-American).
`send_limits` never offers media on SMS (MMS to a customer outside the US/Canada fails), so an SMS
reply's attachments go as links unless the caller sends media itself.

One bridge message is one API call, whose id its delivery reports carry: a Messages API message is
a text or one attachment, the text its caption where the route's `SendLimits` take one (WhatsApp:
1024 characters, no caption on audio). The planner (`bridge.model.outgoing.plan`) sends other text first
as its own message; a message that breaks the limits anyway is refused with ValueError.

Both APIs authenticate with the account's API key and secret: form fields on the SMS API, HTTP
Basic on the Messages API ("basic authentication … for sending", research/providers.md §3.5; the
Java SDK's send endpoint accepts JWT or `ApiKeyHeaderAuthMethod`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import httpx

from bridge.core.errors import PartiallySent, ProviderRejected, RefusedPart
from bridge.core.retrying import RetryPolicy
from bridge.core.settings import Settings
from bridge.model.messages import Channel
from bridge.model.outgoing import (
    MediaKind,
    OutboundMessage,
    SendLimits,
    Template,
    check_planned,
    media_extension,
    media_kind,
)
from bridge.providers.base import SendFunctions, api_call, refused
from bridge.providers.refusals import json_answer, without_recipient
from bridge.providers.templates import template_object
from bridge.providers.vonage.failures import SMS_SEND_STATUSES, failure_reason, sms_api_code

log = logging.getLogger(__name__)

NAME = "vonage"

# Shows in Vonage's reports and every status callback which messages the bridge sent (both APIs
# take up to 40 characters: sms.yml `client-ref`, Java SDK `MessageRequest.validateClientReference`).
CLIENT_REF = "intercom-bridge"

# GSM 03.38 default alphabet and its extension table (3GPP TS 23.038 §6.2.1): text outside them
# must go as `type=unicode` or the SMS API garbles it (developer.vonage.com, "Concatenation and
# Encoding"). ESC (0x1B) only introduces the extension table.
GSM7_CHARACTERS = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    "\f^{}\\[~]|€"
)

# The Messages API `message_type` of each `media_kind`: a document goes as a `file`.
MESSAGE_TYPES: Mapping[MediaKind, str] = {
    MediaKind.IMAGE: "image",
    MediaKind.VIDEO: "video",
    MediaKind.AUDIO: "audio",
    MediaKind.DOCUMENT: "file",
}


@dataclass(frozen=True)
class Route:
    """One way out through Vonage: the API, its channel, and what one message may carry."""

    name: str
    channel: str | None  # the Messages API channel; None for the SMS API
    limits: SendLimits
    # Extensions this channel sends as a type of its own rather than their `media_kind`'s.
    types_by_extension: Mapping[str, str] = field(default_factory=dict)


# Text limits: Messages API SMS 1-1000 and WhatsApp 1-4096 characters (Java SDK `SmsTextRequest`,
# `WhatsappTextRequest`). The SMS API documents no maximum (its status 12 "Message Too Long" names
# none; a third-party integration reports a hard cap of 3600): the bridge keeps the Messages API's
# 1000 for SMS either way, so a reply never depends on an unconfirmed cap; Vonage concatenates the
# parts (153 GSM / 67 UCS-2 characters each). Media: one attachment per message. Captions: Vonage
# takes 3000 characters (Java SDK `MmsImageRequest`, `WhatsappImageRequest`), but WhatsApp itself
# takes 1024 (Meta Cloud API media `caption`); WhatsApp audio has no caption (`WhatsappAudioRequest`).
SMS_API = Route(name="sms-api", channel=None, limits=SendLimits(max_text=1000, media=False))
MMS = Route(
    name="mms",
    channel="mms",
    # MMS image, video and audio take a caption; a `vcard` takes none (the .NET SDK's
    # `MmsVcardRequest` holds an `Attachment`, its video a `CaptionedAttachment`), and a caption on
    # an MMS `file` is not documented: text beside a document goes first, as its own message.
    limits=SendLimits(
        max_text=1000,
        media=True,
        max_media=1,
        max_caption=3000,
        captioned=frozenset({MediaKind.IMAGE, MediaKind.VIDEO, MediaKind.AUDIO}),
    ),
    # Vonage's MMS image takes GIF (Java SDK MmsImageRequest: jpg, jpeg, png, gif), which WhatsApp's
    # does not; `vcard` for .vcf (MmsVcardRequest). Both are documents to `media_kind`.
    types_by_extension={"gif": "image", "vcf": "vcard"},
)
WHATSAPP = Route(
    name="whatsapp",
    channel="whatsapp",
    limits=SendLimits(max_text=4096, media=True, max_media=1, max_caption=1024),
)


def route_of(message: OutboundMessage) -> Route:
    """The API and channel that carry `message` (the rule in the module docstring)."""
    if message.channel is Channel.WHATSAPP:
        return WHATSAPP
    return MMS if message.media_urls else SMS_API


def send_limits(message: OutboundMessage) -> SendLimits:
    return route_of(message).limits


def send(message: OutboundMessage, settings: Settings, http: httpx.Client, policy: RetryPolicy) -> str:
    """Send `message` by its route (WhatsApp and MMS through the Messages API, SMS through the SMS
    API); the id Vonage gave it (SMS API `message-id`, Messages API `message_uuid`), which its
    delivery reports carry."""
    credentials = (settings.secret("vonage_api_key"), settings.secret("vonage_api_secret"))
    route = route_of(message)
    if message.template is not None:
        if route is not WHATSAPP:
            raise refused(NAME, "templates are WhatsApp's: Vonage sends SMS as free text at any time")
        return _post_message(template_body(message, message.template), settings, http, policy, credentials)
    if route is SMS_API:
        return _send_sms(message, settings, http, policy, credentials)
    return _post_message(messages_body(message, route), settings, http, policy, credentials)


#: `VonageAdapter.send_api`.
SEND_API = SendFunctions(send_limits=send_limits, send=send, failure_reason=failure_reason)


# --- the SMS API: POST {VONAGE_API_URL}/sms/json ---


def sms_form(
    message: OutboundMessage, *, api_key: str, api_secret: str, public_url: str | None
) -> dict[str, str]:
    """The SMS API's form (sms.yml `NewMessage`): a delivery report for every message, to the
    bridge's status route when its public URL is known (otherwise the account's default)."""
    form = {
        "api_key": api_key,
        "api_secret": api_secret,
        "from": message.sender,
        "to": _phone_digits(message.to),
        "text": message.text,
        "status-report-req": "1",
        "client-ref": CLIENT_REF,
    }
    if not is_gsm7(message.text):
        form["type"] = "unicode"
    if public_url:
        form["callback"] = f"{public_url.rstrip('/')}/webhooks/{NAME}/status"
    return form


def _send_sms(
    message: OutboundMessage,
    settings: Settings,
    http: httpx.Client,
    policy: RetryPolicy,
    credentials: tuple[str, str],
) -> str:
    """The SMS API answers 200 even when it refuses, with a status per SMS part. When every part
    failed, transient statuses (`SMS_SEND_STATUSES[...].retry`) are retried like a 429 and the
    others are permanent, with the code `sms-api-<status>` (receipt err-codes reuse the same
    numbers: `failures`). When some parts went out, nothing is retried: a retry sends the whole
    text again, and the customer would get those parts twice (`PartiallySent`)."""
    api_key, api_secret = credentials
    form = sms_form(message, api_key=api_key, api_secret=api_secret, public_url=settings.public_url)
    url = f"{settings.vonage_api_url.rstrip('/')}/sms/json"
    for attempt in range(1, policy.max_attempts + 1):
        error = partial(sms_api_error, recipient=message.to)
        response = api_call(http, "POST", url, provider=NAME, policy=policy, error=error, data=form)
        parts = sms_parts(response, recipient=message.to)
        accepted = tuple(part.message_id for part in parts if part.status == "0")
        failed = [(number, part) for number, part in enumerate(parts, 1) if part.status != "0"]
        if not failed:
            return accepted[0]
        if accepted:
            raise PartiallySent(
                provider=NAME,
                message_ids=accepted,
                total=len(parts),
                refused=tuple(
                    RefusedPart(number, sms_api_code(part.status), part.error_text) for number, part in failed
                ),
            )
        status, text = failed[0][1].status, failed[0][1].error_text
        known = SMS_SEND_STATUSES.get(status)
        reason = f"{text}: {known.reason}" if known else text
        if known is None or known.retry is None:
            code = sms_api_code(status)
            raise ProviderRejected(provider=NAME, code=code, message=reason, status=response.status_code)
        if attempt == policy.max_attempts:
            raise known.retry(f"{NAME} SMS API answered status {status} {attempt} times: {reason}")
        log.warning("%s SMS API status %s, retrying", NAME, status)
        policy.sleep(policy.backoff_delay(attempt))
    raise AssertionError("unreachable: the last attempt returns or raises")


class SmsPart(NamedTuple):
    """One entry of the SMS API's `messages`: one SMS part, with its own status and id."""

    status: str
    error_text: str
    message_id: str


def sms_parts(response: httpx.Response, *, recipient: str = "") -> list[SmsPart]:
    """The parts of the SMS API's answer, in its order, their error texts with the recipient's
    number masked.

    A long text is one entry per SMS part, each with its own `status`, `message-id` and receipt;
    the first accepted part's id stands for the message. An accepted part without an id is
    refused as an answer (the message may be out: a retry could send it twice)."""
    entries = _json(response).get("messages")
    if not isinstance(entries, list) or not entries or not all(isinstance(entry, dict) for entry in entries):
        raise refused(NAME, "the SMS API's answer lists no messages")
    parts = []
    for entry in entries:
        status = str(entry.get("status", ""))
        message_id = str(entry.get("message-id") or "")
        if status == "0" and not message_id:
            raise refused(NAME, "the SMS API accepted without a message-id")
        error_text = without_recipient(str(entry.get("error-text") or f"status {status}"), recipient)
        parts.append(SmsPart(status, error_text, message_id))
    return parts


def sms_api_error(response: httpx.Response, *, recipient: str = "") -> tuple[str | None, str]:
    """Code and message of an SMS API answer over HTTP 4xx/5xx: its own `messages[0]` shape, or the
    API gateway's RFC 7807 problem; the recipient's number masked, should Vonage echo it."""
    data = _json(response, strict=False)
    parts = data.get("messages")
    if isinstance(parts, list) and parts and isinstance(parts[0], dict):
        status = parts[0].get("status")
        code = sms_api_code(str(status)) if status not in (None, "") else None
        return code, without_recipient(str(parts[0].get("error-text") or ""), recipient)
    return messages_api_error(response, recipient=recipient)


def is_gsm7(text: str) -> bool:
    return all(character in GSM7_CHARACTERS for character in text)


# --- the Messages API: POST {VONAGE_MESSAGES_API_URL}/v1/messages ---


def messages_body(message: OutboundMessage, route: Route) -> dict[str, Any]:
    """The Messages API body for `message`: a text, or one attachment with the text as its caption
    (ValueError if the route takes none: `check_planned`)."""
    base = {
        "to": _address(message.to),
        "from": message.sender,
        "channel": route.channel,
        "client_ref": CLIENT_REF,
    }
    if not message.media_urls:
        return {**base, "message_type": "text", "text": message.text}
    check_planned(message, route.limits)
    url = message.media_urls[0]
    kind = media_type(url, route)
    attachment = {"url": url, **({"caption": message.text} if message.text.strip() else {})}
    return {**base, "message_type": kind, kind: attachment}


def template_body(message: OutboundMessage, template: Template) -> dict[str, Any]:
    """A WhatsApp template (Vonage Node SDK `WhatsAppTemplate`, Java SDK `WhatsappTemplateRequest`):
    `Template.name` is the template's name in the WhatsApp Business Account (legacy accounts:
    `namespace:name`), `Template.language` its locale (`en_US`), its variables the body's
    `template.parameters` in order ("The first value being {{1}} in the template").

    A header has no place in that message: Vonage sends a template with a media (or text) header
    as a `custom` message, whose `custom` object it passes to WhatsApp as it is, here Meta's own
    template object with a header component (developer.vonage.com/messages/code-snippets/whatsapp/
    send-media-mtm, …/concepts/custom-objects; `bridge.providers.templates`)."""
    base = {
        "to": _address(message.to),
        "from": message.sender,
        "channel": "whatsapp",
        "client_ref": CLIENT_REF,
    }
    if template.header is not None:
        custom = {"type": "template", "template": template_object(template, provider=NAME, policy=True)}
        return {"message_type": "custom", **base, "custom": custom}
    return {
        "message_type": "template",
        **base,
        "template": {"name": template.name, "parameters": list(template.variables)},
        "whatsapp": {"policy": "deterministic", "locale": template.language},
    }


def media_type(url: str, route: Route) -> str:
    """The Messages API `message_type` for an attachment, from its URL's extension."""
    special = route.types_by_extension.get(media_extension(url))
    return special or MESSAGE_TYPES[media_kind(url)]


def _post_message(
    body: dict[str, Any],
    settings: Settings,
    http: httpx.Client,
    policy: RetryPolicy,
    credentials: tuple[str, str],
) -> str:
    url = f"{settings.vonage_messages_api_url.rstrip('/')}/v1/messages"
    response = api_call(
        http,
        "POST",
        url,
        provider=NAME,
        policy=policy,
        error=partial(messages_api_error, recipient=str(body.get("to", ""))),
        json=body,
        auth=credentials,
    )
    message_uuid = _json(response).get("message_uuid")
    if not isinstance(message_uuid, str) or not message_uuid:
        raise refused(NAME, "the Messages API accepted without a message_uuid")
    return message_uuid


def messages_api_error(response: httpx.Response, *, recipient: str = "") -> tuple[str | None, str]:
    """Code and message of an RFC 7807 problem: the code is the `type`'s fragment or last path
    segment (`…/messages-olympus#1120` -> 1120, `…/api-errors#unauthorized`), else the `title`;
    the recipient's number masked, should Vonage echo it."""
    data = _json(response, strict=False)
    title, detail = data.get("title"), data.get("detail")
    code = problem_code(data.get("type")) or (str(title) if title not in (None, "") else None)
    return code, without_recipient(str(detail or title or response.reason_phrase), recipient)


def problem_code(problem_type: object) -> str | None:
    if not isinstance(problem_type, str) or not problem_type.strip():
        return None
    try:
        parts = urlsplit(problem_type.strip())
    except ValueError:
        return None
    return parts.fragment or parts.path.rstrip("/").rsplit("/", 1)[-1] or None


# --- shared ---


def _address(to: str) -> str:
    """The customer's address as Vonage takes it: digits without `+` (inbound gives it so), or a
    WhatsApp BSUID as is."""
    return to.strip().removeprefix("+")


def _phone_digits(to: str) -> str:
    address = _address(to)
    if not address.isdigit():
        # An alphanumeric sender id (`MTN`) or a WhatsApp user id: SMS cannot answer it.
        raise refused(NAME, "the customer's address is not a phone number")
    return address


def _json(response: httpx.Response, *, strict: bool = True) -> dict[str, Any]:
    """The answer's JSON object; an unreadable 2xx is refused (the message may be out: a retry
    could send it twice), an unreadable error is just empty."""
    data = json_answer(response)
    if isinstance(data, dict):
        return data
    if strict:
        raise refused(NAME, f"Vonage's answer is not JSON ({response.status_code})")
    return {}
