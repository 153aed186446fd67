"""MessageBird replies: which API answers which channel, the requests as MessageBird documents them,
retries and refusals, limits, failure reasons, and the stand-in."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import httpx
import pytest

from bridge.core.errors import ProviderRejected
from bridge.core.settings import Settings
from bridge.model.messages import Channel
from bridge.model.outgoing import Draft, OutboundMessage, SendLimits, Template, plan
from bridge.providers.messagebird import MessageBirdAdapter
from bridge.providers.messagebird.send import Api, api_for, media_type
from tests.providers.support import FakeApi, answer, send_over_http, send_with

ADAPTER = MessageBirdAdapter()
KEY = "test-messagebird-access-key"
CHANNEL_ID = "2ceefea7c1b8c79673215c42c1a6b916"  # a Conversations channel (test_messagebird.py)
BIRD_CHANNEL = "52ad151f-f7b4-46f9-a5c6-d3318e650c84"  # a Bird channel (test_messagebird.py)

SMS = OutboundMessage(channel=Channel.SMS, to="31612345678", sender="31970102030", text="Hello Ada")
US_SMS = OutboundMessage(channel=Channel.SMS, to="16502530000", sender="14155550100", text="Hi")
WHATSAPP = OutboundMessage(channel=Channel.WHATSAPP, to="+31612345678", sender=CHANNEL_ID, text="Hi")
BIRD = OutboundMessage(channel=Channel.WHATSAPP, to="+3511111111", sender=BIRD_CHANNEL, text="Hi")

# messagebird-async examples/example.json (the SMS API's message object), trimmed.
SMS_ANSWER = {
    "id": "e8077d803532c0b5937c639b60216938",
    "href": "https://rest.messagebird.com/messages/e8077d803532c0b5937c639b60216938",
    "direction": "mt",
    "originator": "31970102030",
    "body": "Hello Ada",
    "recipients": {"totalCount": 1, "totalSentCount": 1, "items": [{"recipient": 31612345678}]},
}
# go-rest-api conversation/testdata/messageSendResponse.json
SEND_ANSWER = {"id": "2e15efafec384e1c82e9842075e87beb", "status": "accepted"}


def settings(**fields: Any) -> Settings:
    values: dict[str, Any] = {"messagebird_access_key": KEY, "default_region": "US"} | fields
    return Settings(_env_file=None, **values)


def send(message: OutboundMessage, api: FakeApi, **fields: Any) -> str:
    return send_with(ADAPTER, message, api, settings(**fields))


# --- which API answers ---


@pytest.mark.parametrize(
    ("sender", "api"),
    [
        ("31970102030", Api.SMS),  # a number's forward names the number written to
        ("51515", Api.SMS),  # the short-code flow names the short code
        (CHANNEL_ID, Api.CONVERSATIONS),
        (CHANNEL_ID.upper(), Api.CONVERSATIONS),
        (BIRD_CHANNEL, Api.BIRD),
    ],
)
def test_the_business_number_the_inbound_message_stored_picks_the_api(sender: str, api: Api) -> None:
    assert api_for(replace(SMS, sender=sender)) is api


# --- the SMS API ---


def test_an_sms_is_posted_to_the_messages_resource_as_messagebird_documents() -> None:
    api = FakeApi(answer(201, SMS_ANSWER))
    assert send(SMS, api) == "e8077d803532c0b5937c639b60216938"
    [request] = api.requests
    assert (request.method, str(request.url)) == ("POST", "https://rest.messagebird.com/messages")
    assert request.headers["authorization"] == f"AccessKey {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert api.body() == {"recipients": ["31612345678"], "originator": "31970102030", "body": "Hello Ada"}


def test_an_sms_asks_for_status_reports_at_the_bridge_when_its_public_url_is_set() -> None:
    api = FakeApi(answer(201, SMS_ANSWER))
    send(SMS, api, public_url="https://bridge.example.com/")
    assert api.body()["reportUrl"] == "https://bridge.example.com/webhooks/messagebird/status"


def test_a_customer_number_sent_with_a_plus_goes_as_digits() -> None:
    api = FakeApi(answer(201, SMS_ANSWER))
    send(replace(SMS, to="+31 6 1234 5678"), api)
    assert api.body()["recipients"] == ["31612345678"]


def test_attachments_between_us_numbers_go_as_one_mms() -> None:
    api = FakeApi(answer(201, SMS_ANSWER | {"mediaUrls": ["https://x.io/a.png"]}))
    media = ("https://x.io/a.png", "https://x.io/b.pdf")
    send(replace(US_SMS, media_urls=media), api, public_url="https://bridge.example.com")
    [request] = api.requests
    assert str(request.url) == "https://rest.messagebird.com/mms"
    # The python SDK's mms_create takes no report URL; both SDKs send `recipients` as a
    # comma-separated string (python `mms_create`, go-rest-api `mms.CreateRequest`).
    assert api.body() == {
        "recipients": "16502530000",
        "originator": "14155550100",
        "body": "Hi",
        "mediaUrls": list(media),
    }


# --- the Conversations API ---


def test_a_whatsapp_text_is_sent_through_the_conversations_api_from_the_channel() -> None:
    api = FakeApi(answer(202, SEND_ANSWER))
    assert send(WHATSAPP, api, public_url="https://bridge.example.com") == SEND_ANSWER["id"]
    [request] = api.requests
    assert (request.method, str(request.url)) == ("POST", "https://conversations.messagebird.com/v1/send")
    assert request.headers["authorization"] == f"AccessKey {KEY}"
    # No reportUrl: statuses come to the channel's webhook as message.updated events.
    assert api.body() == {"to": "+31612345678", "from": CHANNEL_ID, "type": "text", "content": {"text": "Hi"}}


def test_an_sms_channel_of_the_conversations_api_is_answered_through_it_too() -> None:
    api = FakeApi(answer(202, SEND_ANSWER))
    send(replace(WHATSAPP, channel=Channel.SMS), api, messagebird_conversations_api_url="http://c.test")
    assert str(api.requests[0].url) == "http://c.test/v1/send"
    assert api.body()["type"] == "text"


def test_an_image_carries_the_text_as_its_caption() -> None:
    api = FakeApi(answer(202, SEND_ANSWER))
    send(replace(WHATSAPP, media_urls=("https://x.io/photo.JPG?sig=1",)), api)
    assert api.body() == {
        "to": "+31612345678",
        "from": CHANNEL_ID,
        "type": "image",
        "content": {"image": {"url": "https://x.io/photo.JPG?sig=1", "caption": "Hi"}},
    }


def send_planned(draft: Draft, api: FakeApi) -> list[str]:
    """`draft` planned within the adapter's WhatsApp limits, each message sent: their ids."""
    return [send(message, api) for message in plan(draft, ADAPTER.send_limits(WHATSAPP), WHATSAPP)]


def test_a_text_too_long_for_a_caption_is_planned_before_its_attachment_each_with_its_id() -> None:
    api = FakeApi(answer(202, {"id": "first", "status": "accepted"}), answer(202, SEND_ANSWER))
    text = "x" * 1025
    assert send_planned(Draft(text=text, attachment_urls=("https://x.io/a.png",)), api) == [
        "first",
        SEND_ANSWER["id"],
    ]
    assert [api.body(0)["content"], api.body(1)["content"]] == [
        {"text": text},
        {"image": {"url": "https://x.io/a.png"}},
    ]


def test_audio_takes_no_caption() -> None:
    api = FakeApi(answer(202, SEND_ANSWER))
    send_planned(Draft(text="Hi", attachment_urls=("https://x.io/note.ogg",)), api)
    assert [body["type"] for body in map(api.body, range(2))] == ["text", "audio"]
    assert api.body(1)["content"] == {"audio": {"url": "https://x.io/note.ogg"}}


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://x.io/a.jpeg", "image"),
        ("https://x.io/clip.mp4", "video"),
        ("https://x.io/voice.mp3", "audio"),
        ("https://x.io/report.pdf", "file"),
        ("https://x.io/anim.gif", "file"),
        ("https://x.io/download", "file"),
    ],
)
def test_an_attachment_travels_as_the_content_type_its_extension_names(url: str, kind: str) -> None:
    assert media_type(url) == kind


def test_a_template_is_sent_as_an_hsm() -> None:
    api = FakeApi(answer(202, SEND_ANSWER))
    send(replace(WHATSAPP, text="", template=Template(name="ns_1234/order_update", language="en")), api)
    assert api.body() == {
        "to": "+31612345678",
        "from": CHANNEL_ID,
        "type": "hsm",
        "content": {
            "hsm": {
                "namespace": "ns_1234",
                "templateName": "order_update",
                "language": {"policy": "deterministic", "code": "en"},
                "params": [],
            }
        },
    }


def test_a_template_without_a_namespace_leaves_it_out() -> None:
    api = FakeApi(answer(202, SEND_ANSWER))
    send(replace(WHATSAPP, template=Template(name="order_update")), api)
    assert "namespace" not in api.body()["content"]["hsm"]


def test_the_nodejs_sdks_nested_answer_is_read_too() -> None:
    api = FakeApi(answer(202, {"message": {"id": "nested-id", "status": "accepted"}}))
    assert send(WHATSAPP, api) == "nested-id"


def test_an_answer_without_an_id_is_refused_rather_than_sent_again() -> None:
    api = FakeApi(answer(202, {"status": "accepted"}))
    with pytest.raises(ProviderRejected, match="no message id"):
        send(WHATSAPP, api)
    assert len(api.requests) == 1


# --- what the bridge refuses before calling MessageBird ---


@pytest.mark.parametrize(
    ("message", "words"),
    [
        pytest.param(replace(SMS, to="MyBank"), "not a number", id="alphanumeric-sender-by-sms"),
        pytest.param(
            replace(SMS, media_urls=("https://x.io/a.png",)),
            "US and Canadian",
            id="mms-outside-us-and-canada",
        ),
        pytest.param(
            replace(SMS, channel=Channel.WHATSAPP), "Conversations channel", id="whatsapp-without-a-channel"
        ),
        pytest.param(
            replace(SMS, template=Template(name="order_update")),
            "templates are WhatsApp's",
            id="template-by-sms",
        ),
        # Bird's Channels API is not MessageBird's: its conversations are answered elsewhere.
        pytest.param(BIRD, "Bird's Channels API", id="bird-channel"),
    ],
)
def test_what_messagebird_cannot_carry_is_refused_with_the_reason_before_any_request(
    message: OutboundMessage, words: str
) -> None:
    api = FakeApi(answer(201, SMS_ANSWER))
    with pytest.raises(ProviderRejected, match=words) as refused:
        send(message, api)
    assert refused.value.code is None
    assert api.requests == []


@pytest.mark.parametrize(
    ("message", "words"),
    [
        pytest.param(
            replace(WHATSAPP, text="x" * 1025, media_urls=("https://x.io/a.png",)),
            "1025-character text.*captions hold 1024",
            id="caption-too-long",
        ),
        pytest.param(
            replace(WHATSAPP, media_urls=("https://x.io/note.ogg",)),
            "audio takes no caption",
            id="audio-with-text",
        ),
    ],
)
def test_a_whatsapp_message_the_planner_would_have_split_is_refused_before_any_request(
    message: OutboundMessage, words: str
) -> None:
    api = FakeApi(answer(202, SEND_ANSWER))
    with pytest.raises(ValueError, match=words):
        send(message, api)
    assert api.requests == []


# --- refusals (retries, and what every provider does: test_send_contract.py) ---


def test_a_4xx_is_refused_with_messagebirds_code_and_description() -> None:
    body = {"errors": [{"code": 25, "description": "Not enough balance", "parameter": None}]}
    with pytest.raises(ProviderRejected) as refused:
        send(SMS, FakeApi(answer(422, body)))
    assert (refused.value.code, refused.value.status) == ("25", 422)
    assert refused.value.message == "Not enough balance"


def test_a_refusal_names_the_parameter_and_masks_the_customers_number() -> None:
    body = {
        "errors": [
            {
                "code": 9,
                "description": "no (correct) recipients found: 31612345678",
                "parameter": "recipients",
            }
        ]
    }
    with pytest.raises(ProviderRejected) as refused:
        send(SMS, FakeApi(answer(422, body)))
    assert refused.value.message == "no (correct) recipients found: 316123***78 (parameter recipients)"


def test_a_refusal_without_messagebirds_error_body_keeps_the_http_reason() -> None:
    with pytest.raises(ProviderRejected) as refused:
        send(SMS, FakeApi(httpx.Response(404, text="<html>nope</html>")))
    assert (refused.value.code, refused.value.message) == (None, "Not Found")


# --- limits ---


@pytest.mark.parametrize(
    ("message", "limits"),
    [
        (SMS, SendLimits(max_text=603, media=False)),
        (US_SMS, SendLimits(max_text=603, media=True, max_media=10)),
        (replace(US_SMS, sender="51515"), SendLimits(max_text=603, media=False)),  # a short code: no MMS
        (replace(US_SMS, to="14165550100"), SendLimits(max_text=603, media=True, max_media=10)),  # Canada
        (WHATSAPP, SendLimits(max_text=4096, media=True, max_media=1, max_caption=1024)),
        (replace(WHATSAPP, channel=Channel.SMS), SendLimits(max_text=603, media=False)),
        (BIRD, SendLimits(max_text=603, media=False)),  # never refused here: `send` tells the agent why
    ],
)
def test_send_limits(message: OutboundMessage, limits: SendLimits) -> None:
    assert ADAPTER.send_limits(message) == limits


# --- failure reasons ---


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("103", "replied STOP"),
        ("1", "not in service"),
        ("27", "out of coverage"),
        ("034", "system failure"),
        ("0", "without a reason"),
        ("25", "no balance"),
        ("1001", "MESSAGEBIRD_ACCESS_KEY"),
    ],
)
def test_failure_reasons_tell_the_agent_what_to_do(code: str, words: str) -> None:
    reason = ADAPTER.failure_reason(code)
    assert reason is not None and words in reason


# --- against the stand-in ---


def standin_send(message: OutboundMessage, settings: Settings) -> str:
    return send_over_http(ADAPTER, message, settings)


def only_send(standin: Any) -> Any:
    [sent] = standin.state.sends
    return sent


def test_an_mms_reaches_the_standin_with_its_media(
    providers_at_standin: Any, standin_settings: Settings
) -> None:
    media = ("https://x.io/a.png", "https://x.io/b.png")
    message_id = standin_send(replace(US_SMS, media_urls=media), standin_settings)
    sent = only_send(providers_at_standin)
    assert sent.message_id == message_id
    assert (sent.to, sent.sender, sent.text, sent.media) == ("16502530000", "14155550100", "Hi", list(media))


def test_an_mms_goes_on_the_wire_with_its_recipients_as_a_comma_separated_string(
    providers_at_standin: Any, standin_settings: Settings
) -> None:
    standin_send(replace(US_SMS, media_urls=("https://x.io/a.png",)), standin_settings)
    [request] = [r for r in providers_at_standin.state.requests if r["path"] == "/mms"]
    assert json.loads(request["body"])["recipients"] == "16502530000"


@pytest.mark.parametrize("recipients", ["16502530000,16502530001", ["16502530000", "16502530001"]])
def test_the_standin_takes_the_python_sdks_mms_body(providers_at_standin: Any, recipients: object) -> None:
    # messagebird python SDK `mms_create(...)`: its keyword arguments as the JSON body, list joined.
    body = {
        "originator": "14155550100",
        "recipients": recipients,
        "body": "Hi",
        "mediaUrls": ["https://x.io/a.png"],
        "subject": None,
        "reference": None,
        "scheduledDatetime": None,
    }
    response = httpx.post(
        f"{providers_at_standin.url}/mms", json=body, headers={"Authorization": f"AccessKey {KEY}"}
    )
    assert response.status_code == 201, response.text
    assert [item["recipient"] for item in response.json()["recipients"]["items"]] == [
        16502530000,
        16502530001,
    ]
    assert only_send(providers_at_standin).to == "16502530000,16502530001"


@pytest.mark.parametrize("recipients", ["16502530000,not-a-number", [{"msisdn": 16502530000}], 16502530000])
def test_the_standin_refuses_recipients_that_are_not_numbers(
    providers_at_standin: Any, recipients: object
) -> None:
    body = {"originator": "14155550100", "recipients": recipients, "mediaUrls": ["https://x.io/a.png"]}
    response = httpx.post(
        f"{providers_at_standin.url}/mms", json=body, headers={"Authorization": f"AccessKey {KEY}"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["parameter"] == "recipients"
    assert providers_at_standin.state.sends == []


def test_a_whatsapp_image_reaches_the_standin_as_media(
    providers_at_standin: Any, standin_settings: Settings
) -> None:
    message_id = standin_send(replace(WHATSAPP, media_urls=("https://x.io/a.png",)), standin_settings)
    sent = only_send(providers_at_standin)
    assert sent.message_id == message_id
    assert (sent.to, sent.sender, sent.text, sent.media) == (
        "+31612345678",
        CHANNEL_ID,
        "Hi",
        ["https://x.io/a.png"],
    )


def test_a_template_reaches_the_standin(providers_at_standin: Any, standin_settings: Settings) -> None:
    standin_send(replace(WHATSAPP, text="", template=Template(name="order_update")), standin_settings)
    assert only_send(providers_at_standin).template == "order_update"
