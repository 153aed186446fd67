"""Africa's Talking: the URL token, incoming SMS forms and delivery reports as it posts them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest

from bridge.core.errors import ConfigurationError, MalformedPayload, SignatureInvalid
from bridge.core.settings import Settings
from bridge.dev.simulators import SimulatedMessage
from bridge.dev.simulators.africastalking import inbound
from bridge.model.messages import DeliveryState
from bridge.providers.africastalking.adapter import STATUS_MAP, AfricasTalkingAdapter
from bridge.providers.base import WebhookRequest
from tests.helpers import shared_file
from tests.providers.support import FORM, NOW, UrlTokenCases, callback, received

ADAPTER = AfricasTalkingAdapter()
SECRET = "at-secret-0123456789abcdef"
URL = "https://bridge.example.com/webhooks/africastalking"
MESSAGE = {
    "from": "+254791541111",
    "to": "21512",
    "text": "Msg",
    "date": "2017-05-03T06:04:45Z",
    "id": "ec9adc86-51d5-4bc8-8eb0-d8ab0bb53dc3",
}


def settings(secret: str | None = SECRET, region: str = "KE") -> Settings:
    return Settings(_env_file=None, africastalking_webhook_secret=secret, default_region=region)


def request(body: bytes | str, *, query: str = f"token={SECRET}", content_type: str = FORM) -> WebhookRequest:
    return callback(URL, body, query=query, content_type=content_type)


def form(fields: dict[str, str]) -> WebhookRequest:
    return request(urlencode(fields))


# --- the URL token ---


class TestUrlToken(UrlTokenCases):
    """`UrlTokenCases`, with a genuine Africa's Talking incoming message."""

    adapter = ADAPTER
    url = URL
    variable = "AFRICASTALKING_WEBHOOK_SECRET"
    secret = SECRET
    fields = MESSAGE


# --- incoming messages ---


def test_a_date_with_a_space_is_read_as_utc() -> None:
    [message] = ADAPTER.parse(form(MESSAGE | {"date": "2017-05-03 06:04:45"}), settings()).messages
    assert message.received_at == datetime(2017, 5, 3, 6, 4, 45, tzinfo=UTC)


def test_an_unreadable_date_falls_back_to_the_receive_time() -> None:
    [message] = ADAPTER.parse(form(MESSAGE | {"date": "03/05/2017"}), settings()).messages
    assert message.received_at == NOW


def test_link_id_and_network_code_are_accepted() -> None:
    fields = MESSAGE | {"linkId": "03090445075804249226", "networkCode": "63902"}
    [message] = ADAPTER.parse(form(fields), settings()).messages
    assert message.provider_message_id == MESSAGE["id"]


def test_a_body_without_a_content_type_is_read_as_a_form() -> None:
    [message] = ADAPTER.parse(request(urlencode(MESSAGE), content_type=""), settings()).messages
    assert message.text == "Msg"


# --- malformed bodies ---


@pytest.mark.parametrize("missing", ["id", "from", "to"])
def test_a_missing_field_is_named(missing: str) -> None:
    fields = {k: v for k, v in MESSAGE.items() if k != missing}
    with pytest.raises(MalformedPayload, match=f"{missing} is missing"):
        ADAPTER.parse(form(fields), settings())


def test_an_empty_body_names_the_missing_id() -> None:
    with pytest.raises(MalformedPayload, match="id is missing"):
        ADAPTER.parse(request(b""), settings())


def test_a_body_that_is_not_utf8_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match="UTF-8"):
        ADAPTER.parse(request(b"from=\xff\xfe&id=1"), settings())


# --- delivery reports ---


def test_the_shared_delivery_report_sample_parses() -> None:
    body = shared_file("samples", "africastalking_sms_dlr_courier.form").read_bytes()
    [status] = ADAPTER.parse_statuses(request(body), settings())
    assert status.provider == "africastalking"
    assert status.provider_message_id == "ATXid_dda018a640edfcc5d2ce455de3e4a6e7"
    assert status.state is DeliveryState.DELIVERED
    assert status.occurred_at == NOW
    assert status.recipient is None
    assert status.error_code is None and status.error_message is None


@pytest.mark.parametrize(
    ("reported", "state"),
    [
        ("Sent", DeliveryState.SENT),
        ("Submitted", DeliveryState.SENT),
        ("Buffered", DeliveryState.SENT),
        ("Success", DeliveryState.DELIVERED),
        ("Rejected", DeliveryState.FAILED),
        ("Failed", DeliveryState.FAILED),
        ("Expired", DeliveryState.FAILED),
    ],
)
def test_each_documented_status_maps(reported: str, state: DeliveryState) -> None:
    [status] = ADAPTER.parse_statuses(form({"id": "ATXid_1", "status": reported}), settings())
    assert status.state is state


def test_the_status_table_covers_exactly_the_documented_vocabulary() -> None:
    documented = {"Sent", "Submitted", "Buffered", "Rejected", "Success", "Failed", "Expired"}
    assert set(STATUS_MAP) == {status.lower() for status in documented}


def test_a_failure_carries_the_failure_reason() -> None:
    fields = {
        "id": "ATXid_2",
        "status": "Failed",
        "phoneNumber": "+254711XXXYYY",
        "networkCode": "63902",
        "failureReason": "UserInBlackList",
        "retryCount": "0",
    }
    [status] = ADAPTER.parse_statuses(form(fields), settings())
    assert status.state is DeliveryState.FAILED
    assert status.recipient == "+254711XXXYYY"
    assert status.error_code == "UserInBlackList"
    assert status.error_message == "UserInBlackList"


def test_a_failure_without_a_reason_names_the_status() -> None:
    [status] = ADAPTER.parse_statuses(form({"id": "ATXid_3", "status": "Expired"}), settings())
    assert status.error_code is None
    assert status.error_message == "Expired"


def test_an_undocumented_status_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match="status 'Teleported'"):
        ADAPTER.parse_statuses(form({"id": "ATXid_4", "status": "Teleported"}), settings())


@pytest.mark.parametrize(("fields", "reason"), [({"status": "Success"}, "id"), ({"id": "ATXid_5"}, "status")])
def test_a_delivery_report_missing_a_field_is_malformed(fields: dict[str, str], reason: str) -> None:
    with pytest.raises(MalformedPayload, match=f"{reason} is missing"):
        ADAPTER.parse_statuses(form(fields), settings())


def test_africastalking_calls_both_routes_with_post_only() -> None:
    assert ADAPTER.methods == ADAPTER.status_methods == frozenset({"POST"})


# --- the simulator ---


def simulated(**message: Any) -> WebhookRequest:
    fields = {"sender": "+254791541111", "recipient": "21512", "text": "Habari"} | message
    return received(inbound(SimulatedMessage(**fields), "https://bridge.example.com", settings()))


def test_a_simulated_message_verifies_and_parses() -> None:
    webhook = simulated(message_id="ec9adc86-51d5-4bc8-8eb0-d8ab0bb53dc3")
    ADAPTER.verify(webhook, settings())
    [message] = ADAPTER.parse(webhook, settings()).messages
    assert message.provider_message_id == "ec9adc86-51d5-4bc8-8eb0-d8ab0bb53dc3"
    assert message.sender.raw == "+254791541111" == message.sender.e164
    assert message.business_number == "21512"
    assert message.text == "Habari"


def test_the_simulator_calls_the_africastalking_route_with_the_token() -> None:
    assert simulated().url.startswith("https://bridge.example.com/webhooks/africastalking?token=")


def test_a_simulated_message_is_refused_by_a_bridge_with_another_secret() -> None:
    with pytest.raises(SignatureInvalid):
        ADAPTER.verify(simulated(), settings("another-secret-0123456789"))


def test_the_simulator_refuses_whatsapp_africas_talking_does_not_carry() -> None:
    with pytest.raises(ConfigurationError, match="SMS only"):
        simulated(whatsapp=True)
