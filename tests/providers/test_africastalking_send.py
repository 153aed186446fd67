"""Africa's Talking sends: the messaging API request as its SDK makes it, its answers (per-recipient
statusCodes, plain-text errors), and the stand-in over HTTP."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from bridge.core.errors import ProviderRejected
from bridge.core.settings import Settings
from bridge.model.messages import Channel
from bridge.model.outgoing import Draft, OutboundMessage, Template, plan
from bridge.providers.africastalking.adapter import AfricasTalkingAdapter
from bridge.providers.africastalking.send import FAILURE_REASONS
from tests.providers.support import Handler, form, replies, send_over_http, send_recorded

ADAPTER = AfricasTalkingAdapter()
USERNAME = "bridge-user"
API_KEY = "at-api-key-0123456789"
SEND_URL = "https://api.africastalking.com/version1/messaging"
MESSAGE = OutboundMessage(channel=Channel.SMS, to="+254791541111", sender="21512", text="Habari, asante!")
MESSAGE_ID = "ATXid_dda018a640edfcc5d2ce455de3e4a6e7"


def settings(**fields: object) -> Settings:
    values: dict[str, object] = {"africastalking_username": USERNAME, "africastalking_api_key": API_KEY}
    values.update(fields)
    return Settings(_env_file=None, **values)


def recipients(status: int, *entries: dict[str, object], summary: str = "Sent to 1/1") -> httpx.Response:
    return httpx.Response(status, json={"SMSMessageData": {"Message": summary, "Recipients": list(entries)}})


def recipient(
    status_code: int = 101, status: str = "Success", message_id: str = MESSAGE_ID
) -> dict[str, object]:
    return {
        "statusCode": status_code,
        "number": "+254791541111",
        "status": status,
        "cost": "KES 0.8000",
        "messageId": message_id,
    }


def sent(status_code: int = 101) -> httpx.Response:
    return recipients(201, recipient(status_code))


def send(
    message: OutboundMessage, handler: Handler, config: Settings | None = None
) -> tuple[str, list[httpx.Request]]:
    return send_recorded(ADAPTER, message, handler, config or settings())


def rejected(message: OutboundMessage, handler: Handler) -> ProviderRejected:
    with pytest.raises(ProviderRejected) as raised:
        send(message, handler)
    return raised.value


# --- the request, as Africa's Talking's SDK makes it ---


def test_a_send_is_a_form_post_to_version1_messaging() -> None:
    message_id, [request] = send(MESSAGE, replies(sent()))
    assert message_id == MESSAGE_ID
    assert request.method == "POST"
    assert str(request.url) == SEND_URL
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"


def test_the_api_key_and_accept_headers_are_sent() -> None:
    _, [request] = send(MESSAGE, replies(sent()))
    assert request.headers["apikey"] == API_KEY
    assert request.headers["accept"] == "application/json"
    assert "authorization" not in request.headers


def test_the_form_has_username_to_message_from_and_bulk_mode() -> None:
    _, [request] = send(MESSAGE, replies(sent()))
    assert form(request) == {
        "username": [USERNAME],
        "to": ["+254791541111"],
        "message": ["Habari, asante!"],
        "from": ["21512"],
        "bulkSMSMode": ["1"],
    }


def test_a_premium_reply_goes_the_standard_way_without_its_link_id() -> None:
    message = replace(MESSAGE, text="Hi", reply_reference="03090445075804249226")
    _, [request] = send(message, replies(sent()))
    assert str(request.url) == SEND_URL
    assert "linkId" not in form(request)
    assert form(request)["bulkSMSMode"] == ["1"]


@pytest.mark.parametrize("status_code", [100, 101, 102])
def test_processed_sent_and_queued_recipients_are_sent(status_code: int) -> None:
    message_id, _ = send(MESSAGE, replies(sent(status_code)))
    assert message_id == MESSAGE_ID


# --- refusals (retries, and what every provider does: test_send_contract.py) ---


def test_a_refused_recipient_in_a_201_is_rejected_with_its_status_code() -> None:
    error = rejected(MESSAGE, replies(recipients(201, recipient(403, "InvalidPhoneNumber", "None"))))
    assert (error.code, error.message, error.status) == ("403", "InvalidPhoneNumber", 201)


def test_a_4xx_carrying_the_recipient_is_rejected_with_its_status_code() -> None:
    blacklisted = recipient(406, "UserInBlacklist", "None")
    error = rejected(MESSAGE, replies(recipients(406, blacklisted, summary="Sent to 0/1 Total Cost: 0")))
    assert (error.code, error.status) == ("406", 406)
    assert ADAPTER.failure_reason(error.code) == FAILURE_REASONS["406"]


def test_an_unknown_sender_id_without_recipients_is_rejected_as_invalid_sender_id() -> None:
    error = rejected(MESSAGE, replies(recipients(201, summary="InvalidSenderId")))
    assert error.code == "InvalidSenderId"
    assert ADAPTER.failure_reason(error.code)


def test_a_wrong_key_is_rejected_with_africastalkings_text() -> None:
    error = rejected(MESSAGE, replies(httpx.Response(401, text="The supplied authentication is invalid")))
    assert (error.code, error.status) == (None, 401)
    assert error.message == "The supplied authentication is invalid"


def test_a_template_is_refused_without_a_request() -> None:
    seen: list[httpx.Request] = []
    message = replace(MESSAGE, text="", template=Template("hello"))
    with pytest.raises(ProviderRejected, match="no message templates"):
        send(message, lambda request: seen.append(request) or sent())
    assert seen == []


# --- limits and failure reasons ---


def test_an_sms_carries_text_only_and_attachments_become_links() -> None:
    limits = ADAPTER.send_limits(MESSAGE)
    assert (limits.max_text, limits.media) == (918, False)
    [message] = plan(Draft(text="See", attachment_urls=("https://files.example.com/a.jpg",)), limits, MESSAGE)
    assert message.text == "See\nhttps://files.example.com/a.jpg"
    assert message.media_urls == ()


@pytest.mark.parametrize(
    "code",
    [
        "401",
        "402",
        "403",
        "404",
        "405",
        "406",
        "407",
        "500",
        "501",
        "502",
        "InsufficientCredit",
        "InvalidLinkId",
        "UserIsInactive",
        "UserInBlackList",
        "UserAccountSuspended",
        "NotNetworkSubcriber",
        "UserNotSubscribedToProduct",
        "UserDoesNotExist",
        "DeliveryFailure",
    ],
)
def test_send_codes_and_delivery_failure_reasons_are_explained(code: str) -> None:
    assert ADAPTER.failure_reason(code)


def test_failure_reasons_ignore_case() -> None:
    assert ADAPTER.failure_reason("UserInBlacklist") == ADAPTER.failure_reason("UserInBlackList")


def test_the_docs_misspelling_and_the_right_spelling_read_alike() -> None:
    assert ADAPTER.failure_reason("NotNetworkSubcriber") == ADAPTER.failure_reason("NotNetworkSubscriber")


# --- against the stand-in, over HTTP ---


def standin_send(message: OutboundMessage, config: Settings) -> str:
    return send_over_http(ADAPTER, message, config)


def test_the_standin_gets_attachments_as_links_in_the_text(
    standin_settings: Settings, standin: object
) -> None:
    draft = Draft(text="Your receipt", attachment_urls=("https://files.example.com/receipt.pdf",))
    [message] = plan(draft, ADAPTER.send_limits(MESSAGE), MESSAGE)
    standin_send(message, standin_settings)
    [record] = standin.state.sends  # type: ignore[attr-defined]
    assert record.text == "Your receipt\nhttps://files.example.com/receipt.pdf"
    assert record.media == []
