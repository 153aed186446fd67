"""Replies through MessageBird: the classic SMS/MMS API or the Conversations API, chosen by the
channel the customer wrote to. Bird's Channels API is refused.

`OutboundMessage.sender` is the inbound message's `business_number`, and each payload generation
stores a different kind of id there, so its shape says which API can answer (`API_BY_SENDER`):
- classic number forwards (`classic`) store the number written to, digits or a short code: the SMS
  API, `POST {MESSAGEBIRD_API_URL}/messages` with `{"recipients": [digits], "originator", "body",
  "reportUrl"}` (messagebird python SDK `message_create`, nodejs `examples/messages_create.js`,
  php-rest-api commit f073e19 "Add reportUrl parameter"; nyaruka/courier handlers/messagebird sends
  the same JSON). Attachments go to `POST /mms` with `mediaUrls`, `recipients` there a
  comma-separated string (python SDK `mms_create` joins a list with commas; go-rest-api
  `mms.CreateRequest.Recipients` is a string, "comma separated list"), which Bird sends within the
  US and Canada only, up to 10 per message (docs.bird.com "MMS sizes and limitations"): elsewhere
  attachments travel as links in the text (`send_limits`).
- Conversations API events (`conversations`) store `message.channelId`, 32 hex digits
  (`619747f69cf940a98fb443140ce9aed2` in the SDKs' examples), WhatsApp and SMS channels alike:
  `POST {MESSAGEBIRD_CONVERSATIONS_API_URL}/v1/send` with `{"to", "from": <channelId>, "type",
  "content"}` (go-rest-api `conversation/api.go` `sendMessagePath`; nodejs `types/conversations.d.ts`
  `ConversationParameter`, `Media {url, caption?}`). Statuses come as `message.updated` events to
  the channel's webhook (`/webhooks/messagebird`), so no `reportUrl` is sent: its body is not
  documented anywhere we could read, and the webhook already reports every message.
- Bird's Channels API events (`channels`) store `payload.channelId`, a dashed UUID: neither API
  above reaches a Bird channel (Bird sends through `api.bird.com/workspaces/{ws}/channels/{id}/
  messages`, unconfirmed, research §4.4), so such replies are refused with that reason.

Every API answers `{"errors": [{"code", "description", "parameter"}]}` on failure
(developers.messagebird.com/api/conversations "Error Object Example"). The SMS API answers the
message object with its `id` (messagebird-async `examples/example.json`); `/v1/send` answers
`{"id", "status": "accepted"}` (go-rest-api `testdata/messageSendResponse.json`) or, in the nodejs
SDK's types, `{"message": {"id", "status"}}`: both are read.

One bridge message is one API call, whose id its reports carry: an MMS carries its body beside its
media, a WhatsApp message one attachment with the text as its caption where WhatsApp takes one
(`LIMITS`). The planner (`bridge.model.outgoing.plan`) sends other text first as its own message; a
message that breaks the limits anyway is refused with ValueError.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from functools import partial
from typing import Any

import httpx
import phonenumbers

from bridge.core.retrying import RetryPolicy
from bridge.core.settings import Settings
from bridge.model.messages import Channel
from bridge.model.outgoing import MediaKind, OutboundMessage, SendLimits, Template, check_planned, media_kind
from bridge.model.phones import international_digits_to_e164, strip_formatting
from bridge.providers.base import SendFunctions, post_json, refused
from bridge.providers.messagebird.common import NAME
from bridge.providers.messagebird.failures import failure_reason
from bridge.providers.refusals import error_code, json_answer, status_text, without_recipient
from bridge.providers.templates import components


class Api(StrEnum):
    """The MessageBird API a reply leaves through."""

    SMS = "sms"  # classic SMS/MMS API, rest.messagebird.com
    CONVERSATIONS = "conversations"  # conversations.messagebird.com/v1
    BIRD = "bird"  # Bird's Channels API: no reply through it yet


# The inbound business_number's shape -> the API that answers it; anything else is a number or a
# short code of the classic SMS API. Conversations channel ids are 32 hex digits, Bird's dashed UUIDs
# (tests/providers/test_messagebird.py carries one of each from the providers' own samples).
API_BY_SENDER: tuple[tuple[re.Pattern[str], Api], ...] = (
    (re.compile(r"^[0-9a-f]{32}$", re.IGNORECASE), Api.CONVERSATIONS),
    (re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE), Api.BIRD),
)

# SMS: 9 concatenated parts (1377 GSM-7 characters, the `body` maxLength of api-evangelist's
# MessageBird message schema; not on MessageBird's own pages we could read). One emoji makes a
# message UCS-2, 67 characters a part, so 9 x 67 is what fits whatever the agent types.
SMS_TEXT = 9 * 67
# WhatsApp: Meta's 4096-character text body; captions hold 1024 (Meta's text- and image-messages),
# and audio takes none (the default `captioned`).
WHATSAPP_TEXT = 4096
MAX_CAPTION = 1024
# MMS: up to 10 attachments, US and Canada only (docs.bird.com "MMS sizes and limitations"); its
# `body` travels beside `mediaUrls` in the same request, so no caption limit.
MMS_REGIONS = frozenset({"US", "CA"})
MMS_LIMITS = SendLimits(max_text=SMS_TEXT, media=True, max_media=10)
WHATSAPP_LIMITS = SendLimits(max_text=WHATSAPP_TEXT, media=True, max_media=1, max_caption=MAX_CAPTION)
LIMITS: Mapping[tuple[Api, Channel], SendLimits] = {
    (Api.SMS, Channel.SMS): SendLimits(max_text=SMS_TEXT, media=False),
    (Api.CONVERSATIONS, Channel.SMS): SendLimits(max_text=SMS_TEXT, media=False),
    (Api.CONVERSATIONS, Channel.WHATSAPP): WHATSAPP_LIMITS,
}

# The Conversations content type of each `media_kind`: a document goes as a `file` the customer
# downloads, so it still arrives.
CONTENT_TYPES: Mapping[MediaKind, str] = {
    MediaKind.IMAGE: "image",
    MediaKind.VIDEO: "video",
    MediaKind.AUDIO: "audio",
    MediaKind.DOCUMENT: "file",
}


def api_for(message: OutboundMessage) -> Api:
    """Which API answers the channel `message.sender` names."""
    return api_for_sender(message.sender)


def api_for_sender(sender: str) -> Api:
    """Which API answers the business address `sender` (`API_BY_SENDER`)."""
    return next((api for pattern, api in API_BY_SENDER if pattern.match(sender)), Api.SMS)


def send_limits(message: OutboundMessage) -> SendLimits:
    """What one message carries. Never refuses: a reply `send` cannot make is refused there, where
    the agent is told why."""
    api = api_for(message)
    if api is Api.SMS and message.channel is Channel.SMS and _mms_reaches(message):
        return MMS_LIMITS
    return LIMITS.get((api, message.channel), LIMITS[(Api.SMS, Channel.SMS)])


def send(message: OutboundMessage, settings: Settings, http: httpx.Client, policy: RetryPolicy) -> str:
    """Send `message` in one call, through the SMS API or the Conversations API by the channel the
    customer wrote to (a Bird Channels conversation is refused); the id MessageBird's reports name
    it by."""
    api = api_for(message)
    reason = refusal(api, message)
    if reason:
        raise refused(NAME, reason)
    if api is Api.CONVERSATIONS:
        url = f"{settings.messagebird_conversations_api_url.rstrip('/')}/v1/send"
        body = conversation_body(message)
    else:
        path, body = sms_body(message, report_url=_report_url(settings))
        url = f"{settings.messagebird_api_url.rstrip('/')}/{path}"
    headers = {
        "Authorization": f"AccessKey {settings.secret('messagebird_access_key')}",
        "Accept": "application/json",
    }
    error = partial(read_error, recipient=message.to)
    response = post_json(http, url, body, provider=NAME, policy=policy, headers=headers, error=error)
    return _message_id(response)


#: `MessageBirdAdapter.send_api`.
SEND_API = SendFunctions(send_limits=send_limits, send=send, failure_reason=failure_reason)


def refusal(api: Api, message: OutboundMessage) -> str | None:
    """Why `message` cannot leave through `api` at all, or None."""
    if api is Api.BIRD:
        return (
            f"the customer wrote through Bird channel {message.sender} (Bird's Channels API), which the "
            "bridge cannot reply through: MessageBird's SMS and Conversations APIs do not reach Bird "
            "channels. Reply from Bird's inbox."
        )
    if api is Api.SMS and message.channel is Channel.WHATSAPP:
        return "WhatsApp leaves through a Conversations channel, and this thread names none"
    if message.template is not None and (api, message.channel) != (Api.CONVERSATIONS, Channel.WHATSAPP):
        return "templates are WhatsApp's, sent through the Conversations API; this is an SMS"
    if message.template is None and not message.text.strip() and not message.media_urls:
        return "nothing to send: no text, media or template"
    return None


def sms_body(message: OutboundMessage, *, report_url: str | None) -> tuple[str, dict[str, Any]]:
    """The SMS API path (`messages` or `mms`) and JSON body for `message`."""
    digits = strip_formatting(message.to).removeprefix("+")
    if not digits.isdigit():
        raise refused(NAME, "the customer's sender id is not a number: SMS cannot be sent back to it")
    body: dict[str, Any] = {"recipients": [digits], "originator": message.sender}
    if message.text:
        body["body"] = message.text
    if not message.media_urls:
        return "messages", body | ({"reportUrl": report_url} if report_url else {})
    if message.channel is not Channel.SMS or not _mms_reaches(message):
        raise refused(NAME, "MessageBird sends MMS between US and Canadian numbers only")
    if len(message.media_urls) > MMS_LIMITS.max_media:
        raise refused(NAME, f"an MMS carries at most {MMS_LIMITS.max_media} attachments")
    # python SDK `mms_create` takes no report URL: MMS reports go to the account's status URL.
    # `recipients` is a comma-separated string on `/mms`, here of one number (module docstring).
    return "mms", body | {"recipients": digits, "mediaUrls": list(message.media_urls)}


def conversation_body(message: OutboundMessage) -> dict[str, Any]:
    """The `/v1/send` body that carries `message`: a text, or one WhatsApp attachment with the text
    as its caption (ValueError where WhatsApp takes none: `check_planned`)."""
    base = {"to": message.to, "from": message.sender}
    if message.template is not None:
        return base | {"type": "hsm", "content": {"hsm": hsm(message.template)}}
    text = message.text
    if not message.media_urls or message.channel is not Channel.WHATSAPP:
        if message.media_urls:
            raise refused(NAME, "attachments travel as links on a Conversations SMS channel")
        return base | {"type": "text", "content": {"text": text}}
    if len(message.media_urls) > 1:
        raise refused(NAME, "a WhatsApp message carries one attachment")
    check_planned(message, WHATSAPP_LIMITS)
    kind = media_type(message.media_urls[0])
    media: dict[str, str] = {"url": message.media_urls[0]} | ({"caption": text} if text.strip() else {})
    return base | {"type": kind, "content": {kind: media}}


def hsm(template: Template) -> dict[str, Any]:
    """Conversations `content.hsm` (go-rest-api `conversation/hsm.go` and its
    `testdata/conversationStartHsmRequest.json`). `Template.name` is the template's name in
    MessageBird's WhatsApp Template Manager, optionally prefixed by the account's WhatsApp namespace
    as `namespace/name` (the nodejs SDK's types call the namespace required; whether MessageBird
    fills it in when left out is not documented).

    The variables are `params`, one `{"default": value}` each in order (hsm.go
    `HSMLocalizableParameter`: "Default is required"). A header cannot go in `params`: a template
    with one is sent with `components` instead, Meta's header and body components with a media
    `url` (java-rest-api `ConversationContentHsm.components`, `MessageComponent`, `MessageParam`,
    `Media {url}`; `bridge.providers.templates`)."""
    namespace, _, name = template.name.rpartition("/")
    body: dict[str, Any] = {"namespace": namespace} if namespace else {}
    body |= {"templateName": name, "language": {"policy": "deterministic", "code": template.language}}
    if template.header is not None:
        return body | {"components": components(template, provider=NAME, media_field="url")}
    return body | {"params": [{"default": value} for value in template.variables]}


def media_type(url: str) -> str:
    """The Conversations content type an attachment travels as."""
    return CONTENT_TYPES[media_kind(url)]


def read_error(response: httpx.Response, *, recipient: str = "") -> tuple[str | None, str]:
    """The first of `errors[]`: its code (a number, read as text) and its description, naming the
    parameter; the recipient's number masked, should MessageBird echo it."""
    data = json_answer(response)
    errors = data.get("errors") if isinstance(data, dict) else None
    first = errors[0] if isinstance(errors, list) and errors else None
    if not isinstance(first, dict):
        return None, status_text(response)
    description = first.get("description")
    text = description if isinstance(description, str) and description else response.reason_phrase
    parameter = first.get("parameter")
    if isinstance(parameter, str) and parameter:
        text = f"{text} (parameter {parameter})"
    return error_code(first.get("code")), without_recipient(text, recipient)


def _mms_reaches(message: OutboundMessage) -> bool:
    """Whether both numbers are US or Canadian, the only ones MessageBird's MMS serves."""
    return all(_region(number) in MMS_REGIONS for number in (message.to, message.sender))


def _region(number: str) -> str | None:
    digits = strip_formatting(number).removeprefix("+")
    e164 = international_digits_to_e164(digits) if digits.isdigit() and len(digits) > 6 else None
    if e164 is None:
        return None
    region: str | None = phonenumbers.region_code_for_number(phonenumbers.parse(e164))
    return region


def _report_url(settings: Settings) -> str | None:
    if not settings.public_url:
        return None
    return f"{settings.public_url.rstrip('/')}/webhooks/{NAME}/status"


def _message_id(response: httpx.Response) -> str:
    """`id`, or `message.id`. A 2xx without one is refused, not retried: the message may have gone
    out, and a retry could send it twice."""
    data = json_answer(response)
    nested = data.get("message") if isinstance(data, dict) else None
    candidates = (data, nested)
    message_id = next(
        (found for item in candidates if isinstance(item, dict) and isinstance(found := item.get("id"), str)),
        None,
    )
    if not message_id:
        raise refused(
            NAME, "MessageBird accepted the send but answered no message id", status=response.status_code
        )
    return message_id
