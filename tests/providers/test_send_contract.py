"""Every way a reply leaves the bridge, held to one contract.

The reply sender relies on the same things from each provider's send, whatever its API: the
configured API URL honoured, a 429 retried into one send, an API that stays down or keeps throttling
given up on as unavailable or rate-limited (so the job is retried later, never resent at once), a
refusal read in the provider's own code, not retried and never showing the customer's number, a
missing credential named by its variable before any request, codes the provider does not explain
given no reason, and the stand-in sending, throttling, refusing and checking credentials as the
provider does. A WhatsApp template travels with its variables and header as each provider that
sends templates documents it, or is refused with the reason before any request. Each route (a
provider's API for one kind of message) contributes only its data (`Route`, `TemplateRoute`), taken
from its API's documentation; what only one provider does is tested in its own
`test_<provider>_send.py`.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, NamedTuple

import httpx
import pytest
from pydantic import SecretStr

from bridge.core.errors import ConfigurationError, ProviderRateLimited, ProviderRejected, ProviderUnavailable
from bridge.core.settings import Settings, get_settings, reset_settings_cache
from bridge.model.messages import Channel
from bridge.model.outgoing import HeaderKind, OutboundMessage, Template, TemplateHeader
from bridge.providers.africastalking.adapter import AfricasTalkingAdapter
from bridge.providers.base import ProviderAdapter
from bridge.providers.messagebird import MessageBirdAdapter
from bridge.providers.registry import ADAPTERS
from bridge.providers.textmagic.adapter import TextMagicAdapter
from bridge.providers.twilio.adapter import TwilioAdapter
from bridge.providers.vonage import VonageAdapter
from bridge.providers.whatsapp import WhatsAppAdapter
from tests.providers.support import (
    NO_WAIT,
    FakeApi,
    answer,
    form,
    graph_error,
    send_over_http,
    send_with,
    twilio_error,
    vonage_problem,
)

Answer = Callable[[], httpx.Response]


class Fault(NamedTuple):
    """A status injected at the stand-in, and the refusal the bridge reads from its answer."""

    injected: int
    code: str
    status: int
    message: str


@dataclass(frozen=True)
class Route:
    """One provider API a reply can take: what its documentation says and what the bridge makes of it."""

    id: str
    adapter: ProviderAdapter
    settings: Mapping[str, object]  # a configured provider: its credentials
    message: OutboundMessage  # a reply this route carries
    accepted: Answer  # the documented answer to a send
    message_id: str  # the id the bridge reads from it
    api_url: str  # the setting naming the API's base URL
    path: str  # the send request's path below it
    busy: Answer  # a 5xx, as the API sends it
    busy_words: str  # what the unavailable error says of it
    throttled: Answer  # a 429, as the API sends it
    refusal: Answer  # a documented 4xx whose text names the customer's number
    refused: tuple[str | None, int]  # its code and status, as read
    number: str  # the customer's number, never shown in an error
    credentials: Mapping[str, str]  # the fields a send requires, with their variables
    standin_id: str  # how the stand-in's message ids begin
    standin_request: Mapping[str, object]  # fields of the send as the stand-in received it
    standin_fault: Fault | None  # how the stand-in refuses a send when told to
    wrong_credential: str  # the variable set wrong to be refused by the stand-in …
    standin_refused: tuple[str | None, int, str]  # … with this code, status and message


# --- Twilio: the Messages resource (twilio.com/docs/messaging/api/message-resource) ---

TWILIO_SID, TWILIO_TOKEN = "AC" + "a" * 32, "twilio-token-0123456789"


TWILIO = Route(
    id="twilio",
    adapter=TwilioAdapter(),
    settings={"twilio_account_sid": TWILIO_SID, "twilio_auth_token": TWILIO_TOKEN, "public_url": None},
    message=OutboundMessage(
        channel=Channel.SMS, to="+14155550100", sender="+14155550199", text="Hello there"
    ),
    accepted=partial(answer, 201, {"sid": "SM" + "1" * 32, "status": "queued", "account_sid": TWILIO_SID}),
    message_id="SM" + "1" * 32,
    api_url="twilio_api_url",
    path=f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json",
    busy=partial(twilio_error, 503, 20503, "Service Unavailable"),
    busy_words="twilio answered 503",
    throttled=partial(twilio_error, 429, 20429, "Too Many Requests"),
    refusal=partial(twilio_error, 400, 21211, "The 'To' number +14155550100 is not a valid phone number."),
    refused=("21211", 400),
    number="+14155550100",
    credentials={"twilio_auth_token": "TWILIO_AUTH_TOKEN", "twilio_account_sid": "TWILIO_ACCOUNT_SID"},
    standin_id="SM",
    standin_request={},
    standin_fault=Fault(400, "21610", 400, "Attempt to send to unsubscribed recipient"),  # the opt-out error
    wrong_credential="TWILIO_AUTH_TOKEN",
    standin_refused=("20003", 401, "Authenticate"),
)

# --- TextMagic: POST /api/v2/messages (textmagic-rest-python-v2 docs/SendMessageResponse.md) ---

TEXTMAGIC = Route(
    id="textmagic",
    adapter=TextMagicAdapter(),
    settings={"textmagic_username": "test-textmagic-user", "textmagic_api_key": "test-textmagic-api-key"},
    message=OutboundMessage(channel=Channel.SMS, to="447860021130", sender="447624800500", text="Hello Ada"),
    accepted=partial(answer, 201, {"id": 49576009, "type": "message", "messageId": 49576009}),
    message_id="49576009",
    api_url="textmagic_api_url",
    path="/api/v2/messages",
    busy=partial(answer, 503, {"code": 503, "message": "Service unavailable"}),
    busy_words="503",
    throttled=partial(answer, 429, {"code": 429, "message": "Too many requests"}),
    refusal=partial(
        answer,
        400,
        {
            "code": 400,
            "message": "Validation Failed",
            "errors": {"common": [], "fields": {"phones": ["447860021130 is not valid."]}},
        },
    ),
    refused=("400", 400),
    number="447860021130",
    credentials={"textmagic_username": "TEXTMAGIC_USERNAME", "textmagic_api_key": "TEXTMAGIC_API_KEY"},
    standin_id="",
    standin_request={},
    standin_fault=None,
    wrong_credential="TEXTMAGIC_API_KEY",
    standin_refused=("401", 401, "Unauthorized"),
)

# --- Africa's Talking: POST /version1/messaging, as its SDK sends it ---

AT_MESSAGE_ID = "ATXid_dda018a640edfcc5d2ce455de3e4a6e7"
AT_RECIPIENT = {
    "statusCode": 101,
    "number": "+254791541111",
    "status": "Success",
    "cost": "KES 0.8000",
    "messageId": AT_MESSAGE_ID,
}
AFRICASTALKING = Route(
    id="africastalking",
    adapter=AfricasTalkingAdapter(),
    settings={"africastalking_username": "bridge-user", "africastalking_api_key": "at-api-key-0123456789"},
    message=OutboundMessage(channel=Channel.SMS, to="+254791541111", sender="21512", text="Habari, asante!"),
    accepted=partial(
        answer, 201, {"SMSMessageData": {"Message": "Sent to 1/1", "Recipients": [AT_RECIPIENT]}}
    ),
    message_id=AT_MESSAGE_ID,
    api_url="africastalking_api_url",
    path="/version1/messaging",
    busy=partial(httpx.Response, 502, text="Bad Gateway"),
    busy_words="africastalking answered 502",
    throttled=partial(httpx.Response, 429, text="Too Many Requests"),
    refusal=partial(
        httpx.Response, 400, text="Invalid phone number: +254791541111"
    ),  # Africa's Talking refuses in plain text
    refused=(None, 400),
    number="+254791541111",
    credentials={
        "africastalking_api_key": "AFRICASTALKING_API_KEY",
        "africastalking_username": "AFRICASTALKING_USERNAME",
    },
    standin_id="ATXid_",
    standin_request={"bulkSMSMode": "1"},
    standin_fault=Fault(406, "406", 406, "UserInBlacklist"),  # a recipient's statusCode
    wrong_credential="AFRICASTALKING_API_KEY",
    standin_refused=(None, 401, "The supplied authentication is invalid"),
)

# --- MessageBird: the SMS API's /messages and the Conversations API's /v1/send ---


def messagebird_errors(
    status: int, code: int, description: str, parameter: str | None = None
) -> httpx.Response:
    """MessageBird's error body: a list of errors, each with its code and description."""
    return answer(status, {"errors": [{"code": code, "description": description, "parameter": parameter}]})


MESSAGEBIRD_SMS = Route(
    id="messagebird-sms",
    adapter=MessageBirdAdapter(),
    settings={"messagebird_access_key": "test-messagebird-access-key", "default_region": "US"},
    message=OutboundMessage(channel=Channel.SMS, to="31612345678", sender="31970102030", text="Hello Ada"),
    # messagebird-async examples/example.json, trimmed
    accepted=partial(answer, 201, {"id": "e8077d803532c0b5937c639b60216938", "originator": "31970102030"}),
    message_id="e8077d803532c0b5937c639b60216938",
    api_url="messagebird_api_url",
    path="/messages",
    busy=partial(messagebird_errors, 503, 99, "Internal error"),
    busy_words="503",
    throttled=partial(messagebird_errors, 429, 429, "Too many requests"),
    refusal=partial(messagebird_errors, 422, 9, "no (correct) recipients found: 31612345678", "recipients"),
    refused=("9", 422),
    number="31612345678",
    credentials={"messagebird_access_key": "MESSAGEBIRD_ACCESS_KEY"},
    standin_id="",
    standin_request={},
    standin_fault=Fault(422, "25", 422, "Not enough balance"),
    wrong_credential="MESSAGEBIRD_ACCESS_KEY",
    standin_refused=("2", 401, "Request not allowed (incorrect access_key) (parameter access_key)"),
)
# The Conversations API (WhatsApp, and SMS channels of it): the same key and error bodies.
MESSAGEBIRD_CONVERSATIONS = replace(
    MESSAGEBIRD_SMS,
    id="messagebird-conversations",
    message=OutboundMessage(
        channel=Channel.WHATSAPP, to="+31612345678", sender="2ceefea7c1b8c79673215c42c1a6b916", text="Hi"
    ),
    # go-rest-api conversation/testdata/messageSendResponse.json
    accepted=partial(answer, 202, {"id": "2e15efafec384e1c82e9842075e87beb", "status": "accepted"}),
    message_id="2e15efafec384e1c82e9842075e87beb",
    api_url="messagebird_conversations_api_url",
    path="/v1/send",
    refusal=partial(messagebird_errors, 400, 21, "Bad request: +31612345678 is not on WhatsApp", "to"),
    refused=("21", 400),
    standin_fault=None,
    standin_refused=("1001", 401, "You are requesting with an invalid credential."),
)

# --- Vonage: the SMS API's /sms/json and the Messages API's /v1/messages ---

VONAGE_KEY, VONAGE_SECRET = "abcd1234", "test-vonage-api-secret"
VONAGE_CUSTOMER, VONAGE_BUSINESS = "447700900001", "447700900000"
VONAGE_SETTINGS = {"vonage_api_key": VONAGE_KEY, "vonage_api_secret": VONAGE_SECRET}
VONAGE_CREDENTIALS = {"vonage_api_key": "VONAGE_API_KEY", "vonage_api_secret": "VONAGE_API_SECRET"}


def vonage_sms_status(status: int, message_status: str, error_text: str) -> httpx.Response:
    """The SMS API's answer refusing a one-part message with a status of its own."""
    entry = {"status": message_status, "error-text": error_text}
    return answer(status, {"message-count": "1", "messages": [entry]})


VONAGE_SMS = Route(
    id="vonage-sms-api",
    adapter=VonageAdapter(),
    settings=VONAGE_SETTINGS,
    # the customer wrote through the SMS API: the account is its api-key
    message=OutboundMessage(
        channel=Channel.SMS,
        to=VONAGE_CUSTOMER,
        sender=VONAGE_BUSINESS,
        text="Hello there",
        account=VONAGE_KEY,
    ),
    # "Troubleshooting SMS": one entry per SMS part
    accepted=partial(
        answer,
        200,
        {
            "message-count": "1",
            "messages": [{"to": VONAGE_CUSTOMER, "message-id": "0C000000217B7F02", "status": "0"}],
        },
    ),
    message_id="0C000000217B7F02",
    api_url="vonage_api_url",
    path="/sms/json",
    busy=partial(httpx.Response, 503, text="busy"),
    busy_words="503",
    throttled=partial(httpx.Response, 429, headers={"Retry-After": "0"}),
    refusal=partial(vonage_sms_status, 400, "3", f"Invalid to param: {VONAGE_CUSTOMER}"),
    refused=("sms-api-3", 400),
    number=VONAGE_CUSTOMER,
    credentials=VONAGE_CREDENTIALS,
    standin_id="",
    standin_request={"status-report-req": "1"},
    standin_fault=Fault(  # a status in a 200, the failure reason added
        29,
        "sms-api-29",
        200,
        "fault 29 injected: the Vonage account is in demo mode and the customer's number is not on its"
        " whitelist: top up the account or whitelist the number",
    ),
    wrong_credential="VONAGE_API_SECRET",
    standin_refused=(  # the SMS API says so in a 200
        "sms-api-4",
        200,
        "Bad Credentials: VONAGE_API_KEY / VONAGE_API_SECRET are wrong or disabled:"
        " fix the bridge's settings",
    ),
)
VONAGE_MESSAGES = Route(
    id="vonage-messages-api",
    adapter=VonageAdapter(),
    settings=VONAGE_SETTINGS,
    message=OutboundMessage(channel=Channel.WHATSAPP, to=VONAGE_CUSTOMER, sender=VONAGE_BUSINESS, text="Hi"),
    accepted=partial(answer, 202, {"message_uuid": "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"}),
    message_id="aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab",
    api_url="vonage_messages_api_url",
    path="/v1/messages",
    busy=partial(vonage_problem, 500, "#internal-error", "Internal Error"),
    busy_words="500",
    throttled=partial(vonage_problem, 429, "messages-olympus#1010", "Rate Limit Hit"),
    refusal=partial(
        vonage_problem,
        422,
        "messages-olympus#1120",
        "Invalid sender",
        f"The `to` parameter {VONAGE_CUSTOMER} is invalid.",
    ),
    refused=("1120", 422),
    number=VONAGE_CUSTOMER,
    credentials=VONAGE_CREDENTIALS,
    standin_id="",
    standin_request={"channel": "whatsapp"},
    standin_fault=Fault(400, "1020", 400, "fault 400 injected"),
    wrong_credential="VONAGE_API_SECRET",
    standin_refused=("unauthorized", 401, "Check that you're using the correct credentials"),
)

# --- WhatsApp: Meta's Cloud API, POST /<phone-number id>/messages ---

WHATSAPP_CUSTOMER, PHONE_NUMBER_ID = "16505551234", "106540352242922"


WHATSAPP = Route(
    id="whatsapp",
    adapter=WhatsAppAdapter(),
    settings={"whatsapp_access_token": "test-access-token"},
    message=OutboundMessage(
        channel=Channel.WHATSAPP, to=WHATSAPP_CUSTOMER, sender=PHONE_NUMBER_ID, text="hi"
    ),
    accepted=partial(
        answer,
        200,
        {
            "messaging_product": "whatsapp",
            "contacts": [{"input": WHATSAPP_CUSTOMER, "wa_id": WHATSAPP_CUSTOMER}],
            "messages": [{"id": "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI"}],
        },
    ),
    message_id="wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI",
    api_url="whatsapp_api_url",
    path=f"/{PHONE_NUMBER_ID}/messages",
    busy=partial(graph_error, 500, 131000, "(#131000) Something went wrong"),
    busy_words="131000",
    throttled=partial(graph_error, 429, 130429, "(#130429) Rate limit hit"),
    refusal=partial(
        graph_error, 400, 100, "(#100) Invalid parameter", f"{WHATSAPP_CUSTOMER} is not a valid WhatsApp user"
    ),
    refused=("100", 400),
    number=WHATSAPP_CUSTOMER,
    credentials={"whatsapp_access_token": "WHATSAPP_ACCESS_TOKEN"},
    standin_id="",
    standin_request={},
    standin_fault=Fault(  # the 24-hour window has closed
        400,
        "131047",
        400,
        "(#131047) Re-engagement message: Message failed to send because more than 24 hours have passed"
        " since the customer last replied to this number.",
    ),
    wrong_credential="WHATSAPP_ACCESS_TOKEN",
    standin_refused=("190", 401, "Invalid OAuth access token - Cannot parse access token"),
)

ROUTES = [
    TWILIO,
    TEXTMAGIC,
    AFRICASTALKING,
    MESSAGEBIRD_SMS,
    MESSAGEBIRD_CONVERSATIONS,
    VONAGE_SMS,
    VONAGE_MESSAGES,
    WHATSAPP,
]
every_route = pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.id)
every_credential = pytest.mark.parametrize(
    ("route", "field", "variable"),
    [
        pytest.param(route, field, variable, id=f"{route.id}-{variable}")
        for route in ROUTES
        for field, variable in route.credentials.items()
    ],
)
every_standin_fault = pytest.mark.parametrize(
    ("route", "fault"),
    [pytest.param(route, route.standin_fault, id=route.id) for route in ROUTES if route.standin_fault],
)

# Codes each provider does not explain, or whose meaning depends on what else it said: no reason,
# rather than a wrong one. TextMagic's are status letters that are no failure.
UNEXPLAINED = {
    "twilio": [None, "", "99999"],
    "textmagic": [None, "", "d", "q", "400", "x"],
    "africastalking": [None, "", "101", "SomethingElse"],
    "messagebird": [None, "", "2", "9", "10", "4242", "delivery_failed"],
    "vonage": [None, "", "999", "sms-api-999", "1999"],
    "whatsapp": [None, "", "999999"],
}
# A base URL set in the settings: a trailing slash to fold.
CONFIGURED = "http://127.0.0.1:9/"


def settings(route: Route, **fields: object) -> Settings:
    return Settings(_env_file=None, **{**route.settings, **fields})


def send(route: Route, api: FakeApi, **fields: object) -> str:
    """The route's message sent through `api`, the provider configured (`fields` changed)."""
    return send_with(route.adapter, route.message, api, settings(route, **fields))


def rejected(route: Route, api: FakeApi) -> ProviderRejected:
    with pytest.raises(ProviderRejected) as refused:
        send(route, api)
    return refused.value


# --- the contract ---


def test_every_provider_is_held_to_the_contract() -> None:
    assert {route.adapter.name for route in ROUTES} == set(ADAPTERS) == set(UNEXPLAINED)


@every_route
def test_the_configured_api_url_is_used(route: Route) -> None:
    api = FakeApi(route.accepted())
    send(route, api, **{route.api_url: CONFIGURED})
    assert str(api.requests[0].url) == CONFIGURED.rstrip("/") + route.path


@every_route
def test_a_429_then_an_acceptance_sends_once(route: Route) -> None:
    api = FakeApi(route.throttled(), route.accepted())
    assert send(route, api) == route.message_id
    assert len(api.requests) == 2


@every_route
def test_5xx_until_attempts_run_out_is_unavailable(route: Route) -> None:
    api = FakeApi(route.busy())
    with pytest.raises(ProviderUnavailable, match=route.busy_words):
        send(route, api)
    assert len(api.requests) == NO_WAIT.max_attempts


@every_route
def test_429_until_attempts_run_out_is_rate_limited(route: Route) -> None:
    api = FakeApi(route.throttled())
    with pytest.raises(ProviderRateLimited):
        send(route, api)
    assert len(api.requests) == NO_WAIT.max_attempts


@every_route
def test_a_refusal_is_rejected_with_the_providers_code_and_not_retried(route: Route) -> None:
    api = FakeApi(route.refusal())
    refused = rejected(route, api)
    assert (refused.code, refused.status) == route.refused
    assert len(api.requests) == 1


@every_route
def test_a_refusal_never_shows_the_customers_number(route: Route) -> None:
    assert route.number not in str(rejected(route, FakeApi(route.refusal())))


@every_credential
def test_a_missing_credential_names_its_variable_before_any_request(
    route: Route, field: str, variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(variable, raising=False)
    api = FakeApi(route.accepted())
    with pytest.raises(ConfigurationError, match=variable):
        send(route, api, **{field: None})
    assert api.requests == []


@pytest.mark.parametrize(
    ("adapter", "code"),
    [
        pytest.param(ADAPTERS[name], code, id=f"{name}-{code!r}")
        for name, codes in UNEXPLAINED.items()
        for code in codes
    ],
)
def test_a_code_the_provider_does_not_explain_has_no_reason(
    adapter: ProviderAdapter, code: str | None
) -> None:
    assert adapter.failure_reason(code) is None


# --- the contract, against the stand-in over HTTP ---


def standin_send(route: Route) -> str:
    return send_over_http(route.adapter, route.message, get_settings())


def secrets(route: Route) -> list[str]:
    """The secret credentials the route sends with: never in the fields of a send."""
    values = [getattr(get_settings(), field) for field in route.credentials]
    return [value.get_secret_value() for value in values if isinstance(value, SecretStr)]


def requests_to_send(standin: Any, route: Route) -> int:
    """How many requests reached the route's send endpoint (its last path segment: the stand-in's
    Twilio account and Meta's API version differ from the unit tests')."""
    endpoint = route.path.rsplit("/", 1)[-1]
    return len([r for r in standin.state.requests if r["path"].rsplit("/", 1)[-1] == endpoint])


@every_route
def test_the_standin_records_the_send(route: Route, providers_at_standin: Any) -> None:
    message_id = standin_send(route)
    [sent] = providers_at_standin.state.sends
    assert (sent.provider, sent.message_id) == (route.adapter.name, message_id)
    assert message_id.startswith(route.standin_id)
    assert (sent.to, sent.sender) == (route.message.to, route.message.sender)
    assert (sent.text, sent.media, sent.template) == (route.message.text, [], None)
    assert {name: sent.request[name] for name in route.standin_request} == route.standin_request
    assert [secret for secret in secrets(route) if secret in json.dumps(sent.request)] == []


@every_route
def test_the_standins_429_is_retried_into_one_send(route: Route, providers_at_standin: Any) -> None:
    providers_at_standin.state.faults[route.adapter.name] = deque([429])
    message_id = standin_send(route)
    assert [sent.message_id for sent in providers_at_standin.state.sends] == [message_id]
    assert requests_to_send(providers_at_standin, route) == 2


@every_standin_fault
def test_the_standins_refusal_is_rejected_with_the_providers_code_and_reason(
    route: Route, fault: Fault, providers_at_standin: Any
) -> None:
    providers_at_standin.state.faults[route.adapter.name] = deque([fault.injected])
    with pytest.raises(ProviderRejected) as refused:
        standin_send(route)
    assert (refused.value.code, refused.value.status, refused.value.message) == fault[1:]
    assert route.adapter.failure_reason(fault.code)
    assert providers_at_standin.state.sends == []


@every_route
def test_the_standin_refuses_a_wrong_credential_as_the_provider_does(
    route: Route, providers_at_standin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(route.wrong_credential, "wrong-credential")
    reset_settings_cache()
    with pytest.raises(ProviderRejected) as refused:
        standin_send(route)
    assert (refused.value.code, refused.value.status, refused.value.message) == route.standin_refused
    assert providers_at_standin.state.sends == []


# --- WhatsApp templates: variables and a header, on every provider that sends templates ---

IMAGE_URL = "https://cdn.example.com/orders/4711.jpg"
VARIABLES = ("Ada", "4711")
META_BODY = {
    "type": "body",
    "parameters": [{"type": "text", "text": "Ada"}, {"type": "text", "text": "4711"}],
}
# Meta's header component with its image (developers.facebook.com, "Send media-based message
# template"); MessageBird's hsm names the media's URL `url` (java-rest-api `Media`).
META_HEADER = {"type": "header", "parameters": [{"type": "image", "image": {"link": IMAGE_URL}}]}
MESSAGEBIRD_HEADER = {"type": "header", "parameters": [{"type": "image", "image": {"url": IMAGE_URL}}]}
STANDIN_CONTENT_SID = "HX" + "a" * 32  # the stand-in's `order_shipped` Content Template


def json_at(*path: str) -> Callable[[httpx.Request], object]:
    """The object at `path` in a JSON request."""

    def part(request: httpx.Request) -> object:
        found = json.loads(request.content)
        for name in path:
            found = found[name]
        return found

    return part


def json_fields(*names: str) -> Callable[[httpx.Request], object]:
    """Those of the fields `names` a JSON request has."""
    return lambda request: {k: v for k, v in json.loads(request.content).items() if k in names}


def twilio_content(request: httpx.Request) -> object:
    """The Content Template fields of Twilio's form (`ContentSid`, `ContentVariables`)."""
    return {name: values[0] for name, values in form(request).items() if name.startswith("Content")}


@dataclass(frozen=True)
class TemplateRoute:
    """A provider API that sends WhatsApp templates: how a template with `VARIABLES` (and an image
    header) travels on it, as its documentation shows the request, and what its stand-in records."""

    route: Route
    message: OutboundMessage  # a WhatsApp message through it
    name: str
    part: Callable[[httpx.Request], object]  # the template, as the request carries it …
    with_variables: object  # … when it has VARIABLES
    with_header: object  # … and an image header too; a str: the words of the refusal
    standin: Template  # a template of the stand-in's account, with its values …
    recorded: tuple[list[str], str | None]  # … and the variables and header the stand-in records


TEMPLATE_ROUTES = [
    TemplateRoute(
        route=WHATSAPP,
        message=WHATSAPP.message,
        name="order_shipped",
        part=json_at("template"),
        with_variables={"name": "order_shipped", "language": {"code": "en_US"}, "components": [META_BODY]},
        with_header={
            "name": "order_shipped",
            "language": {"code": "en_US"},
            "components": [META_HEADER, META_BODY],
        },
        standin=Template(
            "order_shipped", "en_US", VARIABLES, TemplateHeader(HeaderKind.IMAGE, url=IMAGE_URL)
        ),
        recorded=(list(VARIABLES), IMAGE_URL),
    ),
    TemplateRoute(
        route=TWILIO,
        message=replace(
            TWILIO.message,
            channel=Channel.WHATSAPP,
            to="whatsapp:+14155550100",
            sender="whatsapp:+14155550199",
        ),
        name="HX" + "b" * 32,
        part=twilio_content,
        with_variables={"ContentSid": "HX" + "b" * 32, "ContentVariables": '{"1": "Ada", "2": "4711"}'},
        with_header="carries its header (media or text) in the template itself",
        # The media's variable part is the template's third variable: the stand-in fills it in.
        standin=Template(STANDIN_CONTENT_SID, "en", (*VARIABLES, "4711.jpg")),
        recorded=([*VARIABLES, "4711.jpg"], "https://media.example.com/orders/4711.jpg"),
    ),
    TemplateRoute(
        route=VONAGE_MESSAGES,
        message=VONAGE_MESSAGES.message,
        name="order_shipped",
        part=json_fields("message_type", "template", "custom", "whatsapp"),
        with_variables={
            "message_type": "template",
            "template": {"name": "order_shipped", "parameters": list(VARIABLES)},
            "whatsapp": {"policy": "deterministic", "locale": "en_US"},
        },
        # A header goes as a custom message: Meta's template object, passed to WhatsApp as it is.
        with_header={
            "message_type": "custom",
            "custom": {
                "type": "template",
                "template": {
                    "name": "order_shipped",
                    "language": {"policy": "deterministic", "code": "en_US"},
                    "components": [META_HEADER, META_BODY],
                },
            },
        },
        standin=Template(
            "order_shipped", "en_US", VARIABLES, TemplateHeader(HeaderKind.IMAGE, url=IMAGE_URL)
        ),
        recorded=(list(VARIABLES), IMAGE_URL),
    ),
    TemplateRoute(
        route=MESSAGEBIRD_CONVERSATIONS,
        message=MESSAGEBIRD_CONVERSATIONS.message,
        name="order_shipped",
        part=json_at("content", "hsm"),
        with_variables={
            "templateName": "order_shipped",
            "language": {"policy": "deterministic", "code": "en_US"},
            "params": [{"default": "Ada"}, {"default": "4711"}],
        },
        with_header={
            "templateName": "order_shipped",
            "language": {"policy": "deterministic", "code": "en_US"},
            "components": [MESSAGEBIRD_HEADER, META_BODY],
        },
        standin=Template(
            "order_shipped", "en_US", VARIABLES, TemplateHeader(HeaderKind.IMAGE, url=IMAGE_URL)
        ),
        recorded=(list(VARIABLES), IMAGE_URL),
    ),
]
every_template_route = pytest.mark.parametrize("case", TEMPLATE_ROUTES, ids=lambda case: case.route.id)


def template_send(case: TemplateRoute, template: Template) -> FakeApi:
    """`template` sent through `case`'s API (a scripted one): the API, with the request it got."""
    api = FakeApi(case.route.accepted())
    send_with(
        case.route.adapter, replace(case.message, text="", template=template), api, settings(case.route)
    )
    return api


def test_every_provider_that_sends_whatsapp_templates_is_held_to_the_template_contract() -> None:
    sending = {name for name, adapter in ADAPTERS.items() if Channel.WHATSAPP in adapter.channels}
    assert {case.route.adapter.name for case in TEMPLATE_ROUTES} == sending


@every_template_route
def test_a_templates_variables_go_as_its_provider_documents(case: TemplateRoute) -> None:
    api = template_send(case, Template(case.name, "en_US", VARIABLES))
    assert case.part(api.requests[0]) == case.with_variables


@every_template_route
def test_a_templates_image_header_goes_as_its_provider_documents_or_is_refused(case: TemplateRoute) -> None:
    template = Template(case.name, "en_US", VARIABLES, TemplateHeader(HeaderKind.IMAGE, url=IMAGE_URL))
    if isinstance(case.with_header, str):
        with pytest.raises(ProviderRejected, match=re.escape(case.with_header)):
            template_send(case, template)
        return
    assert case.part(template_send(case, template).requests[0]) == case.with_header


@every_template_route
@pytest.mark.parametrize(
    "header",
    [
        TemplateHeader(HeaderKind.IMAGE),
        TemplateHeader(HeaderKind.DOCUMENT, url="invoice.pdf"),
        TemplateHeader(HeaderKind.TEXT, text=" "),
    ],
    ids=["image-without-url", "document-without-http-url", "blank-text"],
)
def test_a_header_without_its_value_is_refused_before_any_request(
    case: TemplateRoute, header: TemplateHeader
) -> None:
    api = FakeApi(case.route.accepted())
    message = replace(case.message, text="", template=Template(case.name, "en_US", VARIABLES, header))
    with pytest.raises(ProviderRejected, match="header"):
        send_with(case.route.adapter, message, api, settings(case.route))
    assert api.requests == []


@every_template_route
def test_the_standin_records_the_template_with_its_variables_and_header(
    case: TemplateRoute, providers_at_standin: Any
) -> None:
    message = replace(case.message, text="", template=case.standin)
    message_id = send_over_http(case.route.adapter, message, get_settings())
    [sent] = providers_at_standin.state.sends
    assert (sent.message_id, sent.template, sent.text) == (message_id, case.standin.name, "")
    assert (sent.variables, sent.header) == case.recorded
