"""Sending through Twilio's Messages API with Twilio's own SDK, over the bridge's HTTP seam.

`twilio.rest.Client` builds the request exactly as Twilio documents it (research/providers.md
§1.4; the SDK's `MessageList.create`): `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`,
form-encoded, HTTP Basic `AccountSid:AuthToken`, `MediaUrl` repeated once per attachment. The SDK
does its I/O through an `http_client`; `BridgeHttpClient` is that seam: it sends with the
injected `httpx.Client` (so unit tests plug in `httpx.MockTransport`), retries 429/5xx through
`bridge.core.retrying`, and moves the SDK's fixed origin `https://api.twilio.com` to `TWILIO_API_URL`
(the stand-in in tests and demos). Twilio's 4xx answers come back out of the SDK as
`TwilioRestException`, whose `code` is Twilio's error code (21610, 21211…).

WhatsApp through Twilio uses the `whatsapp:` addresses as Twilio gave them inbound (a BSUID
recipient is `whatsapp:US.…`). A template is a Content Template: `Template.name` is its `HX…`
sid, sent as `ContentSid` with no `Body` (since 1 April 2025 a template in `Body` outside the
24-hour window fails with 63016: twilio.com/docs/api/errors/63016), and its variables as
`ContentVariables`, a JSON object string `{"1": "…", "2": "…"}` (the SDK's `content_variables`:
"Key-value pairs of Template variables and their substitution values"; a variable left out is sent
with the template's default, a sample value the customer should never see, and an empty one is
refused with 21656). A template's media header is fixed in the Content Template: only a part
of its URL after a fixed host may be a variable (twilio.com/docs/content/twilio-media: "Variable
media urls should include a valid media URL suffix", e.g. `https://…/{{1}}`), and that part is one
of the numbered variables. So a `Template.header` (a whole URL, or a header text) cannot be
passed on, and is refused with that reason rather than dropped. Status callbacks are set per
message (`StatusCallback`) for SMS and WhatsApp alike: Twilio posts both to that URL.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlsplit

import httpx
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client

from bridge.core.errors import ConfigurationError, ProviderRateLimited, ProviderRejected, ProviderUnavailable
from bridge.core.logs import mask
from bridge.core.retrying import RetryPolicy, call_with_retries
from bridge.core.settings import Settings
from bridge.model.messages import Channel
from bridge.model.outgoing import OutboundMessage, SendLimits, Template
from bridge.providers.base import SendFunctions, refused

log = logging.getLogger(__name__)

PROVIDER = "twilio"
# The only origin the SDK uses for the Messages API; `TWILIO_API_URL` stands in for it.
TWILIO_API_ORIGIN = "https://api.twilio.com"

# `Body` takes up to 1,600 characters (twilio.com/docs/api/errors/21617; the SDK's `create`
# docstring). MMS carries up to 10 media (twilio.com/docs/api/rest/media: "up to 10 media files
# that have a total size of up to 5MB"); outside the US and Canada Twilio's MMS Converter may
# deliver them as links. A WhatsApp message carries one: "unlike MMS, a WhatsApp media message
# can only contain one media attachment. Any additional attachments will be ignored" (Twilio
# support article 360017961894).
LIMITS: dict[Channel, SendLimits] = {
    Channel.SMS: SendLimits(max_text=1600, media=True, max_media=10),
    # On WhatsApp the body of a media message is the media's caption: WhatsApp's 1024 characters,
    # and none on audio (Meta's media message reference); `plan` sends longer text on its own.
    Channel.WHATSAPP: SendLimits(max_text=1600, media=True, max_media=1, max_caption=1024),
}

# Twilio's error codes an agent meets when a reply fails, at send time (the API's 400) or in a
# status callback's `ErrorCode`. Source: Twilio's error dictionary, twilio.com/docs/api/errors/<code>.
FAILURE_REASONS: dict[str, str] = {
    "21211": "the customer's number is not a valid phone number for Twilio; check how it was stored",
    "21408": (
        "the Twilio account may not send to the customer's country; enable that country in the "
        "Twilio Console's messaging geographic permissions"
    ),
    "21606": "the business number the customer wrote to cannot send messages to this destination from Twilio",
    "21608": (
        "the Twilio account is a trial account and the customer's number is not verified on it; "
        "upgrade the account or verify the number"
    ),
    "21610": ("the customer replied STOP and has opted out; they must text START before you can reach them"),
    "21612": (
        "Twilio cannot reach the customer's number from this business number (an unsupported sender "
        "for that country or network); reply from another channel"
    ),
    "21614": "the customer's number is not a mobile number (a landline?) and cannot receive texts",
    "21617": "the message is longer than Twilio's 1,600 characters; shorten it",
    "21635": "the customer's number is a landline and cannot receive texts",
    "21655": (
        "the Content Template sid (HX…) does not exist in this Twilio account; pick one from "
        "`bridge templates list`"
    ),
    "21656": "a template variable is empty or the variables are malformed; give every variable a value",
    "30003": ("the customer's phone is unreachable (switched off, no signal or roaming); try again later"),
    "30004": (
        "the message was blocked: the customer blocked this number or their carrier refused it; "
        "contact them another way"
    ),
    "30005": "the customer's number is unknown to their carrier or no longer in service",
    "30006": "the customer's number is a landline or its carrier cannot be reached; ask for a mobile number",
    "30007": (
        "the carrier filtered the message as spam; rephrase it (fewer links, no shortened URLs) "
        "and send again"
    ),
    "30008": "the carrier gave an unknown error; send again, and tell Twilio support if it repeats",
    "63016": (
        "the customer's last WhatsApp message is more than 24 hours old; WhatsApp accepts only an "
        "approved template until they write again"
    ),
}

# What the SDK puts before Twilio's own message in `TwilioRestException.msg`.
_SDK_PREFIX = "Unable to create record: "
# Twilio's API errors (`{"code": 20429, "message": "Too Many Requests", ...}`), read for retry logs.
_ERROR_FIELDS = ("code", "message")


def send_limits(message: OutboundMessage) -> SendLimits:
    """What one Twilio message carries on `message`'s channel."""
    return LIMITS[message.channel]


def failure_reason(code: str | None) -> str | None:
    """An agent's explanation of a Twilio error code, or None when it is not in the table."""
    return FAILURE_REASONS.get(code or "")


def send_message(
    message: OutboundMessage, settings: Settings, http: httpx.Client, policy: RetryPolicy
) -> str:
    """Send `message` with `client.messages.create`; the Message SID (`SM…`/`MM…`)."""
    settings.require("twilio_account_sid")
    account_sid = str(settings.twilio_account_sid)
    token = settings.secret("twilio_auth_token")
    client = Client(
        username=account_sid,
        password=token,
        # A customer who wrote to a subaccount's number is answered from that subaccount: the
        # parent account's credentials may act on its subaccounts (inbound `AccountSid`).
        account_sid=message.account or account_sid,
        http_client=BridgeHttpClient(http, api_url=settings.twilio_api_url, policy=policy),
        # Only the bridge's settings: TWILIO_REGION / TWILIO_EDGE in the process environment
        # would move the SDK to another host, past `TWILIO_API_URL`.
        environment={"TWILIO_ACCOUNT_SID": account_sid},
    )
    try:
        created = client.messages.create(to=message.to, from_=message.sender, **_content(message, settings))
    except TwilioRestException as exc:
        raise ProviderRejected(
            provider=PROVIDER,
            code=str(exc.code) if exc.code is not None else None,
            message=mask(str(exc.msg).removeprefix(_SDK_PREFIX)),
            status=exc.status,
        ) from exc
    except TwilioServiceException as exc:
        # Twilio's newer RFC 9457 error bodies (`type`, `title`, `status`, `code`), which the SDK
        # raises as a different exception; the Messages API answers the classic body today.
        raise ProviderRejected(
            provider=PROVIDER,
            code=str(exc.code) if exc.code is not None else None,
            message=mask(str(exc.detail or exc.title)),
            status=exc.status,
        ) from exc
    sid = created.sid
    if not isinstance(sid, str) or not sid:
        raise refused(PROVIDER, "Twilio answered without a message sid")
    return sid


#: `TwilioAdapter.send_api`.
SEND_API = SendFunctions(send_limits=send_limits, send=send_message, failure_reason=failure_reason)


def _content(message: OutboundMessage, settings: Settings) -> dict[str, Any]:
    """The `create` arguments beyond the addresses: a template, or text and media."""
    fields: dict[str, Any] = {}
    if message.template is not None:
        fields |= template_fields(message.template)
    else:
        if message.text:
            fields["body"] = message.text
        if message.media_urls:
            fields["media_url"] = list(message.media_urls)
    if settings.public_url:
        fields["status_callback"] = f"{settings.public_url.rstrip('/')}/webhooks/{PROVIDER}/status"
    return fields


def template_fields(template: Template) -> dict[str, str]:
    """`content_sid` (a Content Template sid, `HX…`) and, when it has variables,
    `content_variables`: `{"1": first, "2": second, …}` as a JSON string."""
    if template.header is not None:
        raise refused(
            PROVIDER,
            "a Twilio Content Template carries its header (media or text) in the template itself; "
            "a variable part of it is one of the template's numbered variables: give its value among "
            "the variables, not as a header",
        )
    fields = {"content_sid": template.name}
    if template.variables:
        numbered = {str(number): value for number, value in enumerate(template.variables, 1)}
        fields["content_variables"] = json.dumps(numbered, ensure_ascii=False)
    return fields


class BridgeHttpClient(HttpClient):  # type: ignore[misc]  # twilio ships no type information
    """The SDK's HTTP seam: the injected `httpx.Client`, quick retries, and `TWILIO_API_URL`."""

    def __init__(self, http: httpx.Client, *, api_url: str, policy: RetryPolicy) -> None:
        super().__init__(logger=log, is_async=False, timeout=None)
        self._http = http
        self._api_url = api_url.rstrip("/")
        self._policy = policy

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        """Perform the SDK's request (never logging its parameters: they hold phone numbers)."""
        target = self._rebase(url)
        body: dict[str, Any] = {}
        if headers and headers.get("Content-Type") == "application/json":
            body["json"] = data
        elif data:
            body["data"] = data  # lists (MediaUrl) become repeated form fields
        answer = call_with_retries(
            lambda: self._http.request(
                method,
                target,
                params=params,  # type: ignore[arg-type]
                headers=headers,
                auth=auth,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
                follow_redirects=allow_redirects,
                **body,
            ),
            policy=self._policy,
            service=PROVIDER,
            request=f"{method} {urlsplit(url).path}",
            unavailable=ProviderUnavailable,
            rate_limited=ProviderRateLimited,
            describe=describe_error,
        )
        return Response(answer.status_code, answer.text, answer.headers)

    def _rebase(self, url: str) -> str:
        # Credentials go to `TWILIO_API_URL` and nowhere else: any other origin is refused.
        if url != TWILIO_API_ORIGIN and not url.startswith(TWILIO_API_ORIGIN + "/"):
            raise ConfigurationError(
                f"the Twilio SDK asked for {urlsplit(url).netloc}, which TWILIO_API_URL does not stand in for"
            )
        return self._api_url + url[len(TWILIO_API_ORIGIN) :]


def describe_error(response: httpx.Response) -> str:
    """`20429 Too Many Requests` from Twilio's JSON error body, for retry logs and errors."""
    try:
        body = json.loads(response.text)
    except ValueError:
        return response.reason_phrase
    if not isinstance(body, dict):
        return response.reason_phrase
    parts = [str(body[name]) for name in _ERROR_FIELDS if body.get(name) is not None]
    return mask(" ".join(parts)) or response.reason_phrase
