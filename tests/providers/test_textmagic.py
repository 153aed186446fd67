"""TextMagic: the URL token, the reply resource in each callback format, v1 callbacks, statuses."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest

from bridge.core.errors import MalformedPayload, SignatureInvalid
from bridge.core.settings import Settings
from bridge.dev.simulators import SimulatedMessage
from bridge.dev.simulators.textmagic import CallbackFormat, inbound
from bridge.model.messages import DeliveryState
from bridge.providers.base import WebhookRequest
from bridge.providers.textmagic.adapter import STATUS_MAP, TextMagicAdapter
from tests.providers.support import MULTIPART, NOW, UrlTokenCases, callback, multipart_body, received

ADAPTER = TextMagicAdapter()
SECRET = "tm-secret-0123456789abcdef"
URL = "https://bridge.example.com/webhooks/textmagic"

# The example of textmagic.com/docs/api/receive-sms ("Call parameters"), with the contact fields
# of the MessageIn resource (textmagic-rest SDKs, docs/MessageIn.md).
REPLY = {
    "id": 1782832,
    "sender": "447860021130",
    "receiver": "447624800500",
    "messageTime": "2012-11-28T18:38:28+0000",
    "text": "Test reply",
}
CONTACT = {"contactId": 3348015, "firstName": "John", "lastName": "Doe"}


def settings(secret: str | None = SECRET) -> Settings:
    return Settings(_env_file=None, textmagic_webhook_secret=secret, default_region="US")


def request(body: bytes | str, content_type: str, *, query: str = f"token={SECRET}") -> WebhookRequest:
    return callback(URL, body, query=query, content_type=content_type)


def multipart(fields: Mapping[str, object]) -> WebhookRequest:
    return request(multipart_body(fields), MULTIPART)


def urlencoded(fields: Mapping[str, object]) -> WebhookRequest:
    return request(urlencode(fields), "application/x-www-form-urlencoded")


def as_json(fields: Mapping[str, object]) -> WebhookRequest:
    return request(json.dumps(fields), "application/json")


Envelope = Callable[[Mapping[str, object]], WebhookRequest]
ENVELOPES: list[Envelope] = [multipart, urlencoded, as_json]


# --- the URL token ---


class TestUrlToken(UrlTokenCases):
    """`UrlTokenCases`, with a genuine TextMagic reply callback."""

    adapter = ADAPTER
    url = URL
    variable = "TEXTMAGIC_WEBHOOK_SECRET"
    secret = SECRET
    fields = REPLY


# --- incoming messages ---


def test_every_callback_format_gives_the_same_message() -> None:
    messages = {
        envelope.__name__: ADAPTER.parse(envelope(REPLY | CONTACT), settings()) for envelope in ENVELOPES
    }
    assert messages["multipart"] == messages["urlencoded"] == messages["as_json"]


def test_the_country_code_is_never_doubled_by_the_default_region() -> None:
    # 972… read with a default region would become +972972…; TextMagic digits are international.
    fields = REPLY | {"sender": "972987654321"}
    [message] = ADAPTER.parse(
        urlencoded(fields), Settings(_env_file=None, textmagic_webhook_secret=SECRET, default_region="IL")
    ).messages
    assert message.sender.e164 == "+972987654321"


def test_the_senders_contact_name_becomes_the_profile_name() -> None:
    [message] = ADAPTER.parse(as_json(REPLY | CONTACT), settings()).messages
    assert message.profile_name == "John Doe"


def test_a_contact_with_only_a_first_name() -> None:
    [message] = ADAPTER.parse(as_json(REPLY | {"firstName": "John", "lastName": None}), settings()).messages
    assert message.profile_name == "John"


def test_a_v1_callback_parses_without_a_business_number() -> None:
    fields = {"message_id": "8624389", "timestamp": "1354127908", "from": "447860021130", "text": "Old style"}
    [message] = ADAPTER.parse(multipart(fields), settings()).messages
    assert message.provider_message_id == "8624389"
    assert message.sender.e164 == "+447860021130"
    assert message.business_number == ""
    assert message.text == "Old style"
    assert message.received_at == datetime(2012, 11, 28, 18, 38, 28, tzinfo=UTC)


def test_an_unreadable_message_time_falls_back_to_the_receive_time() -> None:
    [message] = ADAPTER.parse(urlencoded(REPLY | {"messageTime": "yesterday"}), settings()).messages
    assert message.received_at == NOW


def test_a_nul_escaped_in_json_is_stripped_from_the_text() -> None:
    [message] = ADAPTER.parse(as_json(REPLY | {"text": "a\x00b"}), settings()).messages
    assert message.text == "ab"


# --- malformed bodies ---


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({k: v for k, v in REPLY.items() if k != "id"}, "id is missing"),
        ({k: v for k, v in REPLY.items() if k != "sender"}, "sender is missing"),
        ({k: v for k, v in REPLY.items() if k != "receiver"}, "receiver is missing"),
        ({"message_id": "1", "text": "hi"}, "from is missing"),
    ],
)
@pytest.mark.parametrize("envelope", ENVELOPES, ids=lambda e: e.__name__)
def test_a_missing_field_is_named(envelope: Envelope, fields: dict[str, object], reason: str) -> None:
    with pytest.raises(MalformedPayload, match=reason):
        ADAPTER.parse(envelope(fields), settings())


def test_an_empty_body_names_the_missing_id() -> None:
    with pytest.raises(MalformedPayload, match="id is missing"):
        ADAPTER.parse(request(b"", "application/x-www-form-urlencoded"), settings())


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"id=\xff\xfe", "application/x-www-form-urlencoded", "UTF-8"),
        (b'{"id": 1,', "application/json", "not valid JSON"),
        (b'\xff{"id": 1}', "application/json", "not valid JSON"),
        (b"[1, 2]", "application/json", "JSON object"),
        (b"--x\r\n", "multipart/form-data", "boundary"),
        (b"[" * 100_000, "application/json", "nested too deeply"),
    ],
)
def test_unreadable_bodies_are_malformed(body: bytes, content_type: str, reason: str) -> None:
    with pytest.raises(MalformedPayload, match=reason):
        ADAPTER.parse(request(body, content_type), settings())


# --- delivery callbacks ---


def delivery(status: str, **extra: object) -> dict[str, object]:
    # A MessageOut (textmagic-rest SDKs, docs/MessageOut.md) as the delivery callback posts it.
    return {
        "id": 49576009,
        "receiver": "447860021130",
        "sender": "447624800500",
        "text": "Your order shipped",
        "status": status,
        "messageTime": "2012-11-28T18:40:02+0000",
        "partsCount": 1,
        **extra,
    }


@pytest.mark.parametrize(("letter", "state"), sorted(STATUS_MAP.items()))
def test_each_status_letter_maps_as_the_table_says(letter: str, state: DeliveryState | None) -> None:
    statuses = ADAPTER.parse_statuses(as_json(delivery(letter)), settings())
    assert [s.state for s in statuses] == ([state] if state else [])


@pytest.mark.parametrize("letter", ["q", "s"])
def test_messages_still_at_textmagic_report_nothing(letter: str) -> None:
    assert ADAPTER.parse_statuses(urlencoded(delivery(letter)), settings()) == []


@pytest.mark.parametrize("envelope", ENVELOPES, ids=lambda e: e.__name__)
def test_a_delivered_callback_parses_in_every_format(envelope: Envelope) -> None:
    [status] = ADAPTER.parse_statuses(envelope(delivery("d")), settings())
    assert status.provider == "textmagic"
    assert status.provider_message_id == "49576009"
    assert status.state is DeliveryState.DELIVERED
    assert status.recipient == "447860021130"
    assert status.occurred_at == datetime(2012, 11, 28, 18, 40, 2, tzinfo=UTC)
    assert status.error_code is None and status.error_message is None


def test_a_rejected_message_fails_with_the_reason_the_letter_gives() -> None:
    [status] = ADAPTER.parse_statuses(as_json(delivery("j")), settings())
    assert status.state is DeliveryState.FAILED
    assert status.error_code == "j"
    assert status.error_message == "the operator rejected the message"


def test_a_v1_delivery_callback_parses() -> None:
    fields = {"message_id": "8624389", "timestamp": "1354128002", "status": "d", "credits_cost": "1"}
    [status] = ADAPTER.parse_statuses(multipart(fields), settings())
    assert status.provider_message_id == "8624389"
    assert status.state is DeliveryState.DELIVERED
    assert status.recipient is None
    assert status.occurred_at == datetime(2012, 11, 28, 18, 40, 2, tzinfo=UTC)


def test_an_undocumented_status_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match="status 'x'"):
        ADAPTER.parse_statuses(as_json(delivery("x")), settings())


def test_a_delivery_callback_without_a_status_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match="status is missing"):
        ADAPTER.parse_statuses(as_json(delivery("")), settings())


def test_textmagic_calls_both_routes_with_post_only() -> None:
    assert ADAPTER.methods == ADAPTER.status_methods == frozenset({"POST"})


# --- the simulator ---


def simulated(callback_format: CallbackFormat = "multipart", **message: Any) -> WebhookRequest:
    fields = {"sender": "+447860021130", "recipient": "+447624800500", "text": "Hi there"} | message
    sent = inbound(
        SimulatedMessage(**fields), "https://bridge.example.com/", settings(), callback_format=callback_format
    )
    return received(sent)


@pytest.mark.parametrize("callback_format", ["multipart", "urlencoded", "json"])
def test_a_simulated_callback_verifies_and_parses(callback_format: CallbackFormat) -> None:
    webhook = simulated(callback_format, profile_name="Ana Souza", message_id="1782832")
    ADAPTER.verify(webhook, settings())
    [message] = ADAPTER.parse(webhook, settings()).messages
    assert message.provider_message_id == "1782832"
    assert message.sender.raw == "447860021130"
    assert message.sender.e164 == "+447860021130"
    assert message.business_number == "447624800500"
    assert message.text == "Hi there"
    assert message.profile_name == "Ana Souza"


def test_the_simulator_calls_the_textmagic_route_with_the_token() -> None:
    webhook = simulated()
    assert webhook.url.startswith("https://bridge.example.com/webhooks/textmagic?token=")


def test_a_simulated_callback_is_refused_by_a_bridge_with_another_secret() -> None:
    with pytest.raises(SignatureInvalid):
        ADAPTER.verify(simulated(), settings("another-secret-0123456789"))


def test_the_simulator_refuses_media_textmagic_cannot_carry() -> None:
    from bridge.core.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="SMS only"):
        simulated(media=("https://example.com/a.jpg",))
