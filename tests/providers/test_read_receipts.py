"""Read receipts, held to one contract: the customer's WhatsApp message marked read through each
provider whose API can (`ProviderAdapter.read_api`), as that provider documents the call.

Meta: `POST /{phone-number-id}/messages` `{"messaging_product", "status": "read", "message_id"}`,
answered `{"success": true}`. Twilio: a typing indicator, `POST /v2/Indicators/Typing.json`
`messageId&channel=whatsapp`, which marks the message read. Vonage: `PATCH /v1/messages/{uuid}`
`{"status": "read"}`. Each is refused in the provider's own error format and taken by the
stand-in as the provider takes it. MessageBird, TextMagic and Africa's Talking have no such call.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bridge.core.errors import ProviderRejected
from bridge.core.settings import Settings
from bridge.providers.africastalking.adapter import AfricasTalkingAdapter
from bridge.providers.base import ProviderAdapter
from bridge.providers.messagebird import MessageBirdAdapter
from bridge.providers.textmagic.adapter import TextMagicAdapter
from bridge.providers.twilio.adapter import TwilioAdapter
from bridge.providers.vonage import VonageAdapter
from bridge.providers.whatsapp import WhatsAppAdapter
from tests.providers.support import NO_WAIT, FakeApi, answer, form, graph_error, twilio_error, vonage_problem

PHONE_NUMBER_ID = "106540352242922"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass(frozen=True)
class ReadRoute:
    """One provider's read receipt: what its documentation says the request and answers are."""

    id: str
    adapter: ProviderAdapter
    settings: Mapping[str, object]  # a configured provider: its credentials and API URL
    message_id: str  # the customer's message, as the provider's webhook named it
    method: str
    url: str  # the documented request's URL under those settings
    authorization: str
    body: Callable[[httpx.Request], object]  # the request's body, read as the API takes it
    expected: object  # ... and what it must be
    accepted: httpx.Response
    refusal: httpx.Response  # a documented error answer
    code: str  # the provider's code the bridge reads from it
    foreign_id: str  # a message id the provider does not take (its stand-in refuses it)


ROUTES = [
    ReadRoute(
        id="whatsapp",
        adapter=WhatsAppAdapter(),
        settings={
            "whatsapp_access_token": "meta-token",
            "whatsapp_api_url": "https://graph.facebook.com/v23.0",
        },
        message_id="wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFGRTk0",
        method="POST",
        url=f"https://graph.facebook.com/v23.0/{PHONE_NUMBER_ID}/messages",
        authorization="Bearer meta-token",
        body=lambda request: json.loads(request.content),
        expected={
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFGRTk0",
        },
        accepted=answer(200, {"success": True}),
        refusal=graph_error(400, 131009, "(#131009) Parameter value is not valid", "message_id is not valid"),
        code="131009",
        foreign_id="ABGGFlA5FpafAgo6EhE",  # not a wamid
    ),
    ReadRoute(
        id="twilio",
        adapter=TwilioAdapter(),
        settings={
            "twilio_account_sid": "AC" + "0" * 32,
            "twilio_auth_token": "twilio-token",
            "twilio_messaging_api_url": "https://messaging.twilio.com",
        },
        message_id="SM" + "1b" * 16,
        method="POST",
        url="https://messaging.twilio.com/v2/Indicators/Typing.json",
        authorization=basic("AC" + "0" * 32, "twilio-token"),
        body=form,
        expected={"messageId": ["SM" + "1b" * 16], "channel": ["whatsapp"]},
        accepted=answer(200, {"success": True}),
        refusal=twilio_error(400, 20001, "Invalid messageId"),
        code="20001",
        foreign_id="IM" + "1b" * 16,  # a Conversations message, not a Message SID
    ),
    ReadRoute(
        id="vonage",
        adapter=VonageAdapter(),
        settings={
            "vonage_api_key": "vonage-key",
            "vonage_api_secret": "vonage-secret",
            "vonage_messages_api_url": "https://api-eu.nexmo.com",
        },
        message_id="aaaaaaaa-bbbb-4ccc-8ddd-000000000002",
        method="PATCH",
        url="https://api-eu.nexmo.com/v1/messages/aaaaaaaa-bbbb-4ccc-8ddd-000000000002",
        authorization=basic("vonage-key", "vonage-secret"),
        body=lambda request: json.loads(request.content),
        expected={"status": "read"},
        accepted=httpx.Response(200),
        refusal=vonage_problem(404, "messages-olympus#1300", "Not Found", "Message not found in this region"),
        code="1300",
        foreign_id="b1a2c3d4e5f60718",  # an SMS API message-id
    ),
]
IDS = [route.id for route in ROUTES]


def settings_for(route: ReadRoute) -> Settings:
    return Settings(_env_file=None, **route.settings)  # type: ignore[arg-type]


def mark_with(route: ReadRoute, api: FakeApi, message_id: str | None = None) -> None:
    with httpx.Client(transport=httpx.MockTransport(api)) as http:
        route.adapter.mark_read(
            message_id or route.message_id, PHONE_NUMBER_ID, settings_for(route), http, NO_WAIT
        )


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
def test_the_read_receipt_is_the_request_the_provider_documents(route):
    api = FakeApi(route.accepted)
    mark_with(route, api)
    [request] = api.requests
    assert (request.method, str(request.url)) == (route.method, route.url)
    assert request.headers["authorization"] == route.authorization
    assert route.body(request) == route.expected


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
def test_a_refused_read_receipt_raises_with_the_providers_code_and_is_not_retried(route):
    api = FakeApi(route.refusal)
    with pytest.raises(ProviderRejected) as refused:
        mark_with(route, api)
    assert refused.value.code == route.code and len(api.requests) == 1


@pytest.mark.parametrize("route", [r for r in ROUTES if r.id != "vonage"], ids=["whatsapp", "twilio"])
def test_a_2xx_that_does_not_say_success_is_refused(route):
    with pytest.raises(ProviderRejected, match="success"):
        mark_with(route, FakeApi(answer(200, {"success": False})))


def test_vonage_refuses_an_id_that_is_no_message_uuid_before_any_request():
    route = ROUTES[2]
    api = FakeApi(route.accepted)
    with pytest.raises(ProviderRejected, match="message_uuid"):
        mark_with(route, api, message_id=route.foreign_id)
    assert api.requests == []


@pytest.mark.parametrize("adapter", [MessageBirdAdapter(), TextMagicAdapter(), AfricasTalkingAdapter()])
def test_providers_whose_api_cannot_mark_a_message_read_have_no_read_api(adapter):
    assert adapter.read_api is None
    with httpx.Client() as http, pytest.raises(ProviderRejected, match="cannot mark"):
        adapter.mark_read("any", "any", Settings(_env_file=None), http, NO_WAIT)


# --- the stand-ins take them as the providers do ---


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
def test_the_stand_in_takes_a_read_receipt_and_records_it(route, standin_settings, providers_at_standin):
    with httpx.Client(timeout=10.0) as http:
        route.adapter.mark_read(route.message_id, PHONE_NUMBER_ID, standin_settings, http, NO_WAIT)
    [read] = providers_at_standin.state.reads
    assert (read.provider, read.message_id) == (route.id, route.message_id)
    assert providers_at_standin.state.sends == []
    page = httpx.get(providers_at_standin.url + "/").text
    assert "marked read (1)" in page and route.message_id in page


@pytest.mark.parametrize("route", [r for r in ROUTES if r.id != "vonage"], ids=["whatsapp", "twilio"])
def test_the_stand_in_refuses_a_message_id_the_provider_would_not_take(
    route, standin_settings, providers_at_standin
):
    with httpx.Client(timeout=10.0) as http, pytest.raises(ProviderRejected) as refused:
        route.adapter.mark_read(route.foreign_id, PHONE_NUMBER_ID, standin_settings, http, NO_WAIT)
    assert refused.value.status == 400 and providers_at_standin.state.reads == []


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
def test_a_read_fault_at_the_stand_in_leaves_its_sends_alone(route, standin_settings, providers_at_standin):
    faults: dict[str, Any] = {"statuses": [403]}
    httpx.post(f"{providers_at_standin.url}/_standin/faults/{route.id}:read", json=faults).raise_for_status()
    with httpx.Client(timeout=10.0) as http, pytest.raises(ProviderRejected):
        route.adapter.mark_read(route.message_id, PHONE_NUMBER_ID, standin_settings, http, NO_WAIT)
    assert providers_at_standin.state.reads == [] and not providers_at_standin.state.faults.get(route.id)
