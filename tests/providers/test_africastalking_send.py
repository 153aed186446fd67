"""Africa's Talking sends: the messaging API request as its SDK makes it, its answers (per-recipient
statusCodes, plain-text errors), and the stand-in over HTTP."""

from __future__ import annotations

from collections import deque

import httpx
import pytest
from pydantic import SecretStr

from bridge.core.errors import ConfigurationError, ProviderRateLimited, ProviderRejected, ProviderUnavailable
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


def test_africastalking_api_url_is_honoured() -> None:
    config = settings(africastalking_api_url="https://api.sandbox.africastalking.com/")
    _, [request] = send(MESSAGE, replies(sent()), config)
    assert str(request.url) == "https://api.sandbox.africastalking.com/version1/messaging"


def test_a_premium_reply_goes_the_standard_way_without_its_link_id() -> None:
    message = OutboundMessage(
        channel=Channel.SMS,
        to=MESSAGE.to,
        sender=MESSAGE.sender,
        text="Hi",
        reply_reference="03090445075804249226",
    )
    _, [request] = send(message, replies(sent()))
    assert str(request.url) == SEND_URL
    assert "linkId" not in form(request)
    assert form(request)["bulkSMSMode"] == ["1"]


@pytest.mark.parametrize("status_code", [100, 101, 102])
def test_processed_sent_and_queued_recipients_are_sent(status_code: int) -> None:
    message_id, _ = send(MESSAGE, replies(sent(status_code)))
    assert message_id == MESSAGE_ID


# --- retries and errors ---


def test_429_then_201_gives_one_message_id_after_two_requests() -> None:
    message_id, seen = send(MESSAGE, replies(httpx.Response(429, text="Too Many Requests"), sent()))
    assert message_id == MESSAGE_ID
    assert len(seen) == 2


def test_5xx_until_attempts_run_out_is_provider_unavailable() -> None:
    with pytest.raises(ProviderUnavailable, match="africastalking answered 502"):
        send(MESSAGE, replies(httpx.Response(502, text="Bad Gateway")))


def test_429_until_attempts_run_out_is_provider_rate_limited() -> None:
    with pytest.raises(ProviderRateLimited):
        send(MESSAGE, replies(httpx.Response(429, text="Too Many Requests")))


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


def test_a_4xx_is_not_retried() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(401, text="The supplied authentication is invalid")

    with pytest.raises(ProviderRejected):
        send(MESSAGE, handler)
    assert len(seen) == 1


def test_a_phone_number_in_an_error_is_masked() -> None:
    error = rejected(MESSAGE, replies(httpx.Response(400, text="Invalid phone number: +254791541111")))
    assert "+254791541111" not in str(error)


@pytest.mark.parametrize(
    ("missing", "variable"),
    [
        ("africastalking_api_key", "AFRICASTALKING_API_KEY"),
        ("africastalking_username", "AFRICASTALKING_USERNAME"),
    ],
)
def test_a_missing_credential_is_a_configuration_error_naming_it(missing: str, variable: str) -> None:
    seen: list[httpx.Request] = []
    with pytest.raises(ConfigurationError, match=variable):
        send(MESSAGE, lambda request: seen.append(request) or sent(), settings(**{missing: None}))
    assert seen == []


def test_a_template_is_refused_without_a_request() -> None:
    seen: list[httpx.Request] = []
    message = OutboundMessage(
        channel=Channel.SMS, to=MESSAGE.to, sender=MESSAGE.sender, template=Template("hello")
    )
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


@pytest.mark.parametrize("code", [None, "", "101", "SomethingElse"])
def test_an_unknown_code_has_no_reason(code: str | None) -> None:
    assert ADAPTER.failure_reason(code) is None


# --- against the stand-in, over HTTP ---


def standin_send(message: OutboundMessage, config: Settings) -> str:
    return send_over_http(ADAPTER, message, config)


def test_the_standin_records_one_sms_with_its_addresses_and_text(
    standin_settings: Settings, standin: object
) -> None:
    message_id = standin_send(MESSAGE, standin_settings)
    [record] = standin.state.sends  # type: ignore[attr-defined]
    assert (record.provider, record.message_id) == ("africastalking", message_id)
    assert (record.to, record.sender, record.text, record.media) == (MESSAGE.to, "21512", MESSAGE.text, [])
    assert record.request["bulkSMSMode"] == "1"
    assert message_id.startswith("ATXid_")


def test_the_standin_gets_attachments_as_links_in_the_text(
    standin_settings: Settings, standin: object
) -> None:
    draft = Draft(text="Your receipt", attachment_urls=("https://files.example.com/receipt.pdf",))
    [message] = plan(draft, ADAPTER.send_limits(MESSAGE), MESSAGE)
    standin_send(message, standin_settings)
    [record] = standin.state.sends  # type: ignore[attr-defined]
    assert record.text == "Your receipt\nhttps://files.example.com/receipt.pdf"
    assert record.media == []


def test_the_standin_429_then_success_sends_once(standin_settings: Settings, standin: object) -> None:
    standin.state.faults["africastalking"] = deque([429])  # type: ignore[attr-defined]
    message_id = standin_send(MESSAGE, standin_settings)
    [record] = standin.state.sends  # type: ignore[attr-defined]
    assert record.message_id == message_id


def test_the_standins_refused_recipient_is_rejected_with_its_code(
    standin_settings: Settings, standin: object
) -> None:
    standin.state.faults["africastalking"] = deque([406])  # type: ignore[attr-defined]
    with pytest.raises(ProviderRejected) as raised:
        standin_send(MESSAGE, standin_settings)
    assert raised.value.code == "406"
    assert standin.state.sends == []  # type: ignore[attr-defined]


def test_the_standin_refuses_a_wrong_api_key_as_africastalking_does(
    standin_settings: Settings, standin: object
) -> None:
    wrong = standin_settings.model_copy(update={"africastalking_api_key": SecretStr("not-the-key")})
    with pytest.raises(ProviderRejected) as raised:
        standin_send(MESSAGE, wrong)
    assert (raised.value.status, raised.value.message) == (401, "The supplied authentication is invalid")
    assert standin.state.sends == []  # type: ignore[attr-defined]
