"""Twilio sends: the request twilio-python makes through the bridge's HTTP client, Twilio's
answers and errors, and the stand-in's Messages API over HTTP."""

from __future__ import annotations

import base64
from dataclasses import replace

import httpx
import pytest

from bridge.core.errors import ConfigurationError, ProviderRejected
from bridge.core.settings import Settings
from bridge.model.messages import Channel
from bridge.model.outgoing import Draft, OutboundMessage, Template, plan
from bridge.providers.twilio.adapter import TwilioAdapter
from bridge.providers.twilio.send import FAILURE_REASONS, BridgeHttpClient
from tests.providers.support import (
    NO_WAIT,
    Handler,
    form,
    replies,
    send_over_http,
    send_recorded,
    twilio_error,
)

ADAPTER = TwilioAdapter()
SID = "AC" + "a" * 32
TOKEN = "twilio-token-0123456789"
MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"
SMS = OutboundMessage(channel=Channel.SMS, to="+14155550100", sender="+14155550199", text="Hello there")
WHATSAPP = OutboundMessage(
    channel=Channel.WHATSAPP, to="whatsapp:+31612345678", sender="whatsapp:+14155238886", text="Hoi"
)


def settings(**fields: object) -> Settings:
    values: dict[str, object] = {
        "twilio_account_sid": SID,
        "twilio_auth_token": TOKEN,
        "public_url": None,
    }
    values.update(fields)
    return Settings(_env_file=None, **values)


def created(sid: str = "SM" + "1" * 32) -> httpx.Response:
    return httpx.Response(201, json={"sid": sid, "status": "queued", "account_sid": SID})


def send(
    message: OutboundMessage, handler: Handler, config: Settings | None = None
) -> tuple[str, list[httpx.Request]]:
    return send_recorded(ADAPTER, message, handler, config or settings())


# --- the request, as Twilio documents it ---


def test_an_sms_is_a_form_post_to_the_accounts_messages_resource() -> None:
    sid, seen = send(SMS, replies(created()))
    assert sid == "SM" + "1" * 32
    [request] = seen
    assert request.method == "POST"
    assert str(request.url) == MESSAGES_URL
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["accept"] == "application/json"
    assert form(request) == {"To": ["+14155550100"], "From": ["+14155550199"], "Body": ["Hello there"]}


def test_the_request_authenticates_with_the_account_sid_and_auth_token() -> None:
    _, [request] = send(SMS, replies(created()))
    expected = base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"


def test_mms_attachments_are_repeated_media_url_fields() -> None:
    message = replace(
        SMS,
        text="Two photos",
        media_urls=("https://files.example.com/a.jpg", "https://files.example.com/b.png"),
    )
    _, [request] = send(message, replies(created("MM" + "2" * 32)))
    assert form(request)["MediaUrl"] == ["https://files.example.com/a.jpg", "https://files.example.com/b.png"]


def test_a_media_only_message_has_no_body() -> None:
    message = replace(SMS, text="", media_urls=("https://files.example.com/a.jpg",))
    _, [request] = send(message, replies(created()))
    assert "Body" not in form(request)


def test_whatsapp_uses_the_whatsapp_addresses_as_twilio_gave_them() -> None:
    message = OutboundMessage(
        channel=Channel.WHATSAPP,
        to="whatsapp:US.13491208655302741918",
        sender="whatsapp:+14155238886",
        text="Hi",
        media_urls=("https://files.example.com/a.pdf",),
    )
    _, [request] = send(message, replies(created()))
    fields = form(request)
    assert fields["To"] == ["whatsapp:US.13491208655302741918"]
    assert fields["From"] == ["whatsapp:+14155238886"]
    assert fields["MediaUrl"] == ["https://files.example.com/a.pdf"]


def test_a_template_is_a_content_sid_without_a_body() -> None:
    message = replace(WHATSAPP, text="ignored", template=Template(name="HX" + "b" * 32))
    _, [request] = send(message, replies(created()))
    fields = form(request)
    assert fields["ContentSid"] == ["HX" + "b" * 32]
    assert "Body" not in fields
    assert "MediaUrl" not in fields


def test_the_status_callback_is_the_bridges_twilio_status_webhook() -> None:
    config = settings(public_url="https://bridge.example.com/")
    _, [request] = send(SMS, replies(created()), config)
    assert form(request)["StatusCallback"] == ["https://bridge.example.com/webhooks/twilio/status"]


def test_no_status_callback_without_a_public_url() -> None:
    _, [request] = send(SMS, replies(created()))
    assert "StatusCallback" not in form(request)


def test_a_subaccounts_customer_is_answered_from_that_subaccount() -> None:
    subaccount = "AC" + "c" * 32
    message = replace(SMS, text="Hi", account=subaccount)
    _, [request] = send(message, replies(created()))
    assert request.url.path == f"/2010-04-01/Accounts/{subaccount}/Messages.json"
    expected = base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"


# --- refusals (retries, and what every provider does: test_send_contract.py) ---


def test_a_4xx_is_provider_rejected_with_twilios_error_code() -> None:
    answer = twilio_error(400, 21610, "Attempt to send to unsubscribed recipient")
    with pytest.raises(ProviderRejected) as raised:
        send(SMS, replies(answer))
    assert raised.value.code == "21610"
    assert raised.value.status == 400
    assert raised.value.provider == "twilio"
    assert "unsubscribed recipient" in raised.value.message


def test_an_rfc_9457_error_is_provider_rejected_with_its_code() -> None:
    problem = {
        "type": "https://www.twilio.com/docs/errors/21211",
        "title": "Invalid 'To' Phone Number",
        "status": 400,
        "code": 21211,
        "detail": "The 'To' number is not a valid phone number.",
    }
    with pytest.raises(ProviderRejected) as raised:
        send(SMS, replies(httpx.Response(400, json=problem)))
    assert (raised.value.code, raised.value.status) == ("21211", 400)
    assert raised.value.message == "The 'To' number is not a valid phone number."


def test_the_sdk_may_not_send_credentials_to_another_origin() -> None:
    with httpx.Client(transport=httpx.MockTransport(lambda request: created())) as http:
        client = BridgeHttpClient(http, api_url="http://127.0.0.1:1", policy=NO_WAIT)
        with pytest.raises(ConfigurationError, match="messaging.twilio.com"):
            client.request("POST", "https://messaging.twilio.com/v1/Services", auth=(SID, TOKEN))


# --- limits and failure reasons ---


def test_an_sms_carries_1600_characters_and_up_to_10_media() -> None:
    limits = ADAPTER.send_limits(SMS)
    assert (limits.max_text, limits.media, limits.max_media) == (1600, True, 10)


def test_a_whatsapp_message_carries_one_media() -> None:
    limits = ADAPTER.send_limits(WHATSAPP)
    assert (limits.max_text, limits.media, limits.max_media) == (1600, True, 1)
    assert limits.max_caption == 1024  # the body of a WhatsApp media message is its caption


def test_eleven_attachments_on_sms_are_two_messages() -> None:
    urls = tuple(f"https://files.example.com/{index}.jpg" for index in range(11))
    messages = plan(Draft(text="Photos", attachment_urls=urls), ADAPTER.send_limits(SMS), SMS)
    assert [len(message.media_urls) for message in messages] == [10, 1]


def test_opt_out_is_explained_to_the_agent() -> None:
    assert ADAPTER.failure_reason("21610") == (
        "the customer replied STOP and has opted out; they must text START before you can reach them"
    )


@pytest.mark.parametrize(
    "code",
    [
        "21610",
        "21211",
        "21408",
        "21612",
        "21614",
        "30003",
        "30004",
        "30005",
        "30006",
        "30007",
        "30008",
        "63016",
    ],
)
def test_common_delivery_errors_have_a_reason(code: str) -> None:
    reason = ADAPTER.failure_reason(code)
    assert reason and reason == FAILURE_REASONS[code]


# --- against the stand-in, over HTTP ---


def standin_send(message: OutboundMessage, config: Settings) -> str:
    return send_over_http(ADAPTER, message, config)


def test_the_standin_records_mms_media_as_media(standin_settings: Settings, standin: object) -> None:
    urls = ("https://files.example.com/a.jpg", "https://files.example.com/b.jpg")
    message = replace(SMS, text="Pics", media_urls=urls)
    sid = standin_send(message, standin_settings)
    [sent] = standin.state.sends  # type: ignore[attr-defined]
    assert sent.media == list(urls)
    assert sent.request["MediaUrl"] == list(urls)
    assert sid == sent.message_id and sid.startswith("MM")


def test_the_standin_records_whatsapp_media_as_media(standin_settings: Settings, standin: object) -> None:
    message = replace(WHATSAPP, text="Your invoice", media_urls=("https://files.example.com/invoice.pdf",))
    sid = standin_send(message, standin_settings)
    [sent] = standin.state.sends  # type: ignore[attr-defined]
    assert (sent.to, sent.sender) == ("whatsapp:+31612345678", "whatsapp:+14155238886")
    assert sent.media == ["https://files.example.com/invoice.pdf"]
    assert sent.message_id == sid


def test_the_standin_records_a_content_template(standin_settings: Settings, standin: object) -> None:
    message = replace(WHATSAPP, text="", template=Template(name="HX" + "d" * 32))
    sid = standin_send(message, standin_settings)
    [sent] = standin.state.sends  # type: ignore[attr-defined]
    assert (sent.template, sent.text, sent.message_id) == ("HX" + "d" * 32, "", sid)


def test_a_variable_left_out_reaches_the_customer_as_the_templates_default(
    standin_settings: Settings, standin: object
) -> None:
    # Twilio fills in the content's default ("sample") value: what the customer would read.
    message = replace(WHATSAPP, text="", template=Template(name="HX" + "b" * 32, variables=("4711",)))
    standin_send(message, standin_settings)
    [sent] = standin.state.sends  # type: ignore[attr-defined]
    assert sent.variables == ["4711", "STATUS"]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"ContentSid": "HX" + "9" * 32}, 21655),  # no such content in the account
        ({"ContentSid": "HX" + "b" * 32, "ContentVariables": '{"1": ""}'}, 21656),  # an empty value
        ({"ContentSid": "HX" + "b" * 32, "ContentVariables": "4711"}, 21656),  # not a JSON object
        ({"Body": "Hi", "ContentVariables": '{"1": "4711"}'}, 21654),  # variables without a sid
    ],
    ids=["unknown-sid", "empty-variable", "not-json", "no-sid"],
)
def test_the_standin_refuses_a_content_template_as_twilio_does(
    standin_settings: Settings, standin: object, fields: dict[str, str], code: int
) -> None:
    url = f"{standin.url}/2010-04-01/Accounts/{standin_settings.twilio_account_sid}/Messages.json"  # type: ignore[attr-defined]
    auth = (str(standin_settings.twilio_account_sid), standin_settings.secret("twilio_auth_token"))
    form_fields = {"To": WHATSAPP.to, "From": WHATSAPP.sender, **fields}
    answer = httpx.post(url, data=form_fields, auth=auth, timeout=10.0)
    assert (answer.status_code, answer.json()["code"]) == (400, code)
    assert standin.state.sends == []  # type: ignore[attr-defined]


def test_the_standin_refuses_a_whatsapp_to_sms_pair(standin_settings: Settings, standin: object) -> None:
    message = replace(WHATSAPP, sender=SMS.sender, text="Hi")
    with pytest.raises(ProviderRejected) as raised:
        standin_send(message, standin_settings)
    assert raised.value.code == "21910"
