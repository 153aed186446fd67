"""TextMagic replies: the request as TextMagic documents it, the id its callbacks carry, retries and
refusals, limits, failure reasons, and the stand-in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest

from bridge.core.errors import ProviderRejected
from bridge.core.settings import Settings
from bridge.model.messages import Channel
from bridge.model.outgoing import OutboundMessage, SendLimits, Template
from bridge.providers.textmagic.adapter import FAILURE_REASONS, TextMagicAdapter
from tests.providers.support import FakeApi, answer, send_over_http, send_with

ADAPTER = TextMagicAdapter()
USER, KEY = "test-textmagic-user", "test-textmagic-api-key"
URL = "https://rest.textmagic.com/api/v2/messages"

# The numbers of textmagic.com/docs/api/receive-sms: the customer, and the number they wrote to.
SMS = OutboundMessage(channel=Channel.SMS, to="447860021130", sender="447624800500", text="Hello Ada")

# textmagic-rest-python-v2 docs/SendMessageResponse.md: one recipient answers type `message`.
ANSWER = {
    "id": 49576009,
    "href": "/api/v2/messages/49576009",
    "type": "message",
    "sessionId": 34436600,
    "bulkId": None,
    "messageId": 49576009,
    "scheduleId": None,
    "chatId": None,
}


def settings(**fields: Any) -> Settings:
    values: dict[str, Any] = {"textmagic_username": USER, "textmagic_api_key": KEY} | fields
    return Settings(_env_file=None, **values)


def send(message: OutboundMessage, api: FakeApi, **fields: Any) -> str:
    return send_with(ADAPTER, message, api, settings(**fields))


# --- the request ---


def test_a_reply_is_posted_as_textmagic_documents_it() -> None:
    api = FakeApi(answer(201, ANSWER))
    send(SMS, api, public_url="https://bridge.example.com")
    [request] = api.requests
    assert (request.method, str(request.url)) == ("POST", URL)
    assert (request.headers["x-tm-username"], request.headers["x-tm-key"]) == (USER, KEY)
    assert request.headers["content-type"] == "application/json"
    # No callback URL: TextMagic takes none per message (the account's callback URL gets reports).
    assert api.body() == {"text": "Hello Ada", "phones": "447860021130", "from": "447624800500"}


def test_phones_are_international_digits_without_the_plus() -> None:
    api = FakeApi(answer(201, ANSWER))
    send(replace(SMS, to="+44 7860 021130"), api)
    assert api.body()["phones"] == "447860021130"


def test_a_v1_thread_without_a_business_number_leaves_from_the_default_sender() -> None:
    api = FakeApi(answer(201, ANSWER))
    send(replace(SMS, sender=""), api)
    assert "from" not in api.body()


def test_the_message_id_callbacks_carry_is_returned() -> None:
    assert send(SMS, FakeApi(answer(201, ANSWER | {"id": 1, "messageId": 49576009}))) == "49576009"


def test_id_stands_in_for_a_missing_message_id_when_the_answer_is_a_message() -> None:
    assert send(SMS, FakeApi(answer(201, {"id": 7, "type": "message"}))) == "7"


def test_a_session_answer_without_a_message_id_is_refused_rather_than_sent_again() -> None:
    api = FakeApi(answer(201, {"id": 34436600, "type": "session", "href": "/api/v2/sessions/34436600"}))
    with pytest.raises(ProviderRejected, match="no message id"):
        send(SMS, api)
    assert len(api.requests) == 1


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"to": "MyBank"}, "not a number"),
        ({"template": Template(name="order_update")}, "no WhatsApp templates"),
        ({"media_urls": ("https://x.io/a.png",)}, "no attachments"),
        ({"text": "  "}, "nothing to send"),
        ({"channel": Channel.WHATSAPP}, "SMS only"),
    ],
)
def test_what_textmagic_cannot_carry_is_refused_before_any_request(
    change: dict[str, Any], words: str
) -> None:
    api = FakeApi(answer(201, ANSWER))
    with pytest.raises(ProviderRejected, match=words) as refused:
        send(replace(SMS, **change), api)
    assert refused.value.code is None
    assert api.requests == []


# --- refusals (retries, and what every provider does: test_send_contract.py) ---


def test_a_4xx_is_refused_with_textmagics_code_and_its_field_errors() -> None:
    body = {
        "code": 400,
        "message": "Validation Failed",
        "errors": {"common": ["Not enough credit."], "fields": {"phones": ["447860021130 is not valid."]}},
    }
    with pytest.raises(ProviderRejected) as refused:
        send(SMS, FakeApi(answer(400, body)))
    assert (refused.value.code, refused.value.status) == ("400", 400)
    assert (
        refused.value.message == "Validation Failed; Not enough credit.; phones: 447860****30 is not valid."
    )


def test_a_refusal_without_textmagics_error_body_keeps_the_http_reason() -> None:
    with pytest.raises(ProviderRejected) as refused:
        send(SMS, FakeApi(httpx.Response(404, text="nope")))
    assert (refused.value.code, refused.value.message) == (None, "Not Found")


# --- limits and failure reasons ---


def test_send_limits_are_six_ucs2_parts_and_no_media() -> None:
    assert ADAPTER.send_limits(SMS) == SendLimits(max_text=402, media=False)


@pytest.mark.parametrize("letter", ["f", "e", "j", "F"])
def test_a_failure_letter_says_what_happened_in_the_inbound_words_and_what_to_do(letter: str) -> None:
    reason = ADAPTER.failure_reason(letter)
    assert reason is not None and reason.startswith(FAILURE_REASONS[letter.lower()] + ": ")


def test_an_unknown_final_status_is_explained_too() -> None:
    assert ADAPTER.failure_reason("u") == (
        "the operator never confirmed delivery: "
        "it may or may not have arrived; ask the customer if it matters"
    )


# --- against the stand-in ---


def standin_send(message: OutboundMessage, settings: Settings) -> str:
    return send_over_http(ADAPTER, message, settings)


# The two ways TextMagic's v2 API takes the username and API key: its X-TM headers (what the bridge
# sends) and HTTP Basic, what the v2 SDKs send (textmagic-rest-python-v2 `BasicAuth`).
AUTH_VARIANTS: dict[str, Callable[[str, str], dict[str, Any]]] = {
    "x-tm headers": lambda user, key: {"headers": {"X-TM-Username": user, "X-TM-Key": key}},
    "basic": lambda user, key: {"auth": (user, key)},
}
# Every v2 endpoint checks them alike: a send, and the current user `bridge doctor` reads.
ENDPOINTS = [("POST", "/api/v2/messages"), ("GET", "/api/v2/user")]


def call_standin(
    standin: Any, endpoint: tuple[str, str], variant: str, user: str, key: str
) -> httpx.Response:
    method, path = endpoint
    body = {"json": {"text": "Hello Ada", "phones": "447860021130"}} if method == "POST" else {}
    return httpx.request(method, f"{standin.url}{path}", **body, **AUTH_VARIANTS[variant](user, key))


@pytest.mark.parametrize("variant", AUTH_VARIANTS)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[path for _, path in ENDPOINTS])
def test_the_standin_takes_both_ways_textmagic_takes_the_credentials(
    providers_at_standin: Any, variant: str, endpoint: tuple[str, str]
) -> None:
    response = call_standin(providers_at_standin, endpoint, variant, USER, KEY)
    assert response.status_code == (201 if endpoint[0] == "POST" else 200), response.text


@pytest.mark.parametrize("variant", AUTH_VARIANTS)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[path for _, path in ENDPOINTS])
@pytest.mark.parametrize(("user", "key"), [(USER, "wrong"), ("someone-else", KEY), ("", "")])
def test_the_standin_refuses_wrong_credentials_however_they_come(
    providers_at_standin: Any, variant: str, endpoint: tuple[str, str], user: str, key: str
) -> None:
    response = call_standin(providers_at_standin, endpoint, variant, user, key)
    assert (response.status_code, response.json()["message"]) == (401, "Unauthorized")
    assert providers_at_standin.state.sends == []


def test_the_standin_refuses_a_text_longer_than_six_parts(
    providers_at_standin: Any, standin_settings: Settings
) -> None:
    with pytest.raises(ProviderRejected) as refused:
        standin_send(replace(SMS, text="é" * 403), standin_settings)
    assert refused.value.code == "400"
    assert "Too many message parts" in refused.value.message
